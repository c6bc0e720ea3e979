"""Reading the files of deploy/: rendering templates, nginx's configuration language,
systemd units, and the ``dissent`` commands the files and guides name."""

from __future__ import annotations

import datetime
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy"
RENDER = DEPLOY / "render.sh"


def render(template: Path, **values: str) -> str:
    """Return ``template`` rendered by deploy/render.sh with ``values``; raise
    :class:`subprocess.CalledProcessError` (its stderr says why) when it refuses."""
    arguments = [f"{name}={value}" for name, value in values.items()]
    done = subprocess.run(
        ["sh", str(RENDER), str(template), *arguments],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


# --- nginx ------------------------------------------------------------------------------


@dataclass
class Node:
    """One nginx directive: its name, arguments and, for a block, what it holds."""

    name: str
    args: list[str]
    children: list[Node] | None = None

    def blocks(self, name: str) -> list[Node]:
        """Return the blocks called ``name`` directly inside this one."""
        return [c for c in self.children or [] if c.name == name and c.children is not None]

    def all(self, name: str) -> list[Node]:
        """Return the directives called ``name`` directly inside this block."""
        return [c for c in self.children or [] if c.name == name]

    def value(self, name: str) -> list[str] | None:
        """Return the arguments of the last ``name`` directly inside, or ``None``."""
        found = self.all(name)
        return found[-1].args if found else None


_TOKEN = re.compile(
    r"""\s+|#[^\n]*|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([{};])|([^\s{};"'#]+)"""
)


def parse_nginx(text: str) -> Node:
    """Return nginx configuration ``text`` as a tree under a root block."""
    root = Node("", [], [])
    stack = [root]
    words: list[str] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"cannot read the nginx file at {text[position : position + 30]!r}")
        position = match.end()
        double, single, punctuation, word = match.groups()
        if punctuation is None and double is None and single is None and word is None:
            continue  # whitespace, comment
        if punctuation == ";":
            stack[-1].children.append(Node(words[0], words[1:]))  # type: ignore[union-attr]
            words = []
        elif punctuation == "{":
            block = Node(words[0], words[1:], [])
            stack[-1].children.append(block)  # type: ignore[union-attr]
            stack.append(block)
            words = []
        elif punctuation == "}":
            stack.pop()
        else:
            words.append(next(t for t in (double, single, word) if t is not None))
    if len(stack) != 1 or words:
        raise ValueError("unbalanced nginx file")
    return root


def choose_location(server: Node, uri: str) -> Node | None:
    """Return the location block nginx picks for ``uri`` in ``server``: an exact match;
    else the longest matching prefix if it is ``^~``; else the first matching regular
    expression; else that longest prefix."""
    longest: tuple[str, str, Node] | None = None
    for location in server.blocks("location"):
        modifier, pattern = ("", location.args[0]) if len(location.args) == 1 else location.args
        if modifier == "=" and uri == pattern:
            return location
        longer = longest is None or len(pattern) > len(longest[1])
        if modifier in ("", "^~") and uri.startswith(pattern) and longer:
            longest = (modifier, pattern, location)
    if longest is not None and longest[0] == "^~":
        return longest[2]
    for location in server.blocks("location"):
        modifier = location.args[0]
        if modifier in ("~", "~*"):
            flags = re.IGNORECASE if modifier == "~*" else 0
            if re.search(location.args[1], uri, flags):
                return location
    return None if longest is None else longest[2]


def effective(server: Node, location: Node | None, name: str, default: str) -> str:
    """Return the first argument of ``name`` as it holds in ``location`` of ``server``."""
    for block in (location, server):
        if block is not None and block.value(name) is not None:
            return block.value(name)[0]  # type: ignore[index]
    return default


def size_in_bytes(text: str) -> int:
    """Return an nginx size (``256k``, ``1m``, ``209780736``) in bytes."""
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    if text[-1].lower() in units:
        return int(text[:-1]) * units[text[-1].lower()]
    return int(text)


# --- systemd ----------------------------------------------------------------------------


def unit_settings(path: Path) -> dict[str, list[str]]:
    """Return every ``Key=value`` of a unit file, each key with its values in order."""
    settings: dict[str, list[str]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


# --- the dissent commands the files name ---------------------------------------------------


@dataclass
class Invocation:
    """``dissent WORDS... OPTIONS...`` as written in a file, and where."""

    where: str
    words: list[str]
    options: list[str] = field(default_factory=list)


# `dissent` starting a command: at the start, after a path's bin/ or after a variable
# set for the command; never "-o dissent", "root:dissent" or "dissent's".
_INVOCATION = re.compile(r"(?:^|(?<=bin/)|(?<=\s))dissent(?=\s)")
# What ends a command: a pipe, a list, a redirection.
_ENDS = re.compile(r"[|;&<>]|\d>")


def _code_of_markdown(text: str) -> list[str]:
    """Return the shell lines and inline code spans of a Markdown text."""
    pieces: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            pieces.append(line)
        else:
            pieces.extend(re.findall(r"`([^`\n]+)`", line))
    return pieces


def _joined(lines: list[str]) -> list[str]:
    """Return ``lines`` with backslash continuations joined."""
    joined: list[str] = []
    carry = ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            carry += line.rstrip()[:-1] + " "
            continue
        joined.append(carry + line)
        carry = ""
    return joined


def _starts_a_command(line: str, at: int) -> bool:
    before = line[:at]
    if before.endswith("bin/"):
        return True
    # Only variable assignments (NAME=value) may come before it.
    words = before.split()
    return all(re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", word) for word in words)


def invocations(path: Path) -> list[Invocation]:
    """Return every ``dissent`` command ``path`` names: in a Markdown file its code, in
    any other file its lines that are not comments."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        lines = _code_of_markdown(text)
    else:
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    found: list[Invocation] = []
    for line in _joined(lines):
        for match in _INVOCATION.finditer(line):
            if not _starts_a_command(line, match.start()):
                continue
            tokens = line[match.end() :].split()
            words: list[str] = []
            while tokens and re.fullmatch(r"[a-z][a-z-]*", tokens[0]):
                words.append(tokens.pop(0))
            if not words:
                continue  # the program named, not run
            options = []
            depth = 0  # inside $( ... ): another command's options
            for token in tokens:
                if depth == 0 and _ENDS.match(token):
                    break
                if depth == 0 and re.fullmatch(r"--?[A-Za-z][\w-]*(=.*)?", token):
                    options.append(token.split("=", 1)[0])
                depth += token.count("(") - token.count(")")
            found.append(Invocation(f"{path.relative_to(ROOT)}: {line.strip()}", words, options))
    return found


# --- a certificate for nginx -t ---------------------------------------------------------------


def write_self_signed(certificate: Path, key: Path) -> None:
    """Write a throw-away self-signed certificate for localhost, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(private, hashes.SHA256())
    )
    certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key.chmod(0o600)
