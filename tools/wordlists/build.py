"""Build the codename word lists ``dissent/crypto/wordlists/nl.txt`` and ``en.txt``.

The application never imports this: it reads only the finished ``.txt`` files. This script
says exactly how they were made, and remakes them byte for byte from the same inputs:

* ``/usr/share/dict/dutch`` from Debian's ``wdutch`` 1:2.20.19-2 (the OpenTaal word list),
* ``/usr/share/dict/american-english`` from Debian's ``wamerican`` 2020.12.07-2 (SCOWL),
* ``dissent/crypto/wordlists/eff_large.txt`` (the EFF large word list),
* ``blocklist_nl.txt`` and ``blocklist_en.txt`` beside this script (the review), and
* the word frequencies of the PyPI package ``wordfreq`` 3.1.1, used for ranking only.

Run from the repository root, in a throwaway environment (wordfreq is no dependency of
dissent)::

    apt-get install wdutch wamerican
    python3 -m venv /tmp/wf-venv && /tmp/wf-venv/bin/pip install wordfreq==3.1.1
    /tmp/wf-venv/bin/python tools/wordlists/build.py           # writes both lists
    /tmp/wf-venv/bin/python tools/wordlists/build.py --check   # compares, writes nothing

Each list is written in alphabetical order, so it carries no frequency data.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

import wordfreq

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
LISTS = ROOT / "dissent" / "crypto" / "wordlists"
DUTCH_DICT = Path("/usr/share/dict/dutch")
ENGLISH_DICT = Path("/usr/share/dict/american-english")
EFF_LIST = LISTS / "eff_large.txt"

SIZE = 7776  # 6^5: 7 words of a list this long give 7 * log2(7776) = 90.5 bits
WORDFREQ_VERSION = "3.1.1"
# Lowercase ASCII letters only: no diacritics, spaces, hyphens or apostrophes to get wrong
# on a phone keyboard or to write ambiguously by hand.
DUTCH_WORD = re.compile(r"[a-z]{3,9}")
ENGLISH_WORD = re.compile(r"[a-z]{3,9}")

# Spellings a Dutch reader hears, or writes, as one: ij/y/ei (one sound), au/ou (one
# sound), d/t/dt at the end of a verb (one sound, the classic spelling error), ch/g, v/f,
# z/s and c/k. Two Dutch words that become the same, or within one edit, once these are
# made equal are "confusable" and never both in the list.
_DUTCH_FOLDS = (
    ("ij", "ei"),
    ("y", "ei"),
    ("au", "ou"),
    ("dt", "t"),
    ("d", "t"),
    ("ch", "g"),
    ("v", "f"),
    ("z", "s"),
    ("c", "k"),
)


def fold_dutch(word: str) -> str:
    """Return a Dutch word with the spellings that sound alike made equal."""
    for old, new in _DUTCH_FOLDS:
        word = word.replace(old, new)
    return word


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _substitutions(word: str) -> set[str]:
    return {word[:i] + "*" + word[i + 1 :] for i in range(len(word))}


def _transpositions(word: str) -> set[str]:
    return {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}


class Neighbourhood:
    """Words accepted so far, indexed to find one within one edit (delete, insert,
    substitute, swap two neighbours) of a new word, in each of the given forms."""

    def __init__(self, forms: Iterable[Callable[[str], str]]) -> None:
        self._forms = tuple(forms)
        self._exact: list[set[str]] = [set() for _ in self._forms]
        self._deleted: list[set[str]] = [set() for _ in self._forms]
        self._substituted: list[set[str]] = [set() for _ in self._forms]

    def conflicts(self, word: str) -> bool:
        """Return whether ``word`` is within one edit of an accepted word in any form."""
        for form, exact, deleted, substituted in zip(
            self._forms, self._exact, self._deleted, self._substituted, strict=True
        ):
            w = form(word)
            if w in exact or w in deleted:  # the same, or one letter more than w
                return True
            if _deletions(w) & exact:  # one letter less than w
                return True
            if _substitutions(w) & substituted or _transpositions(w) & exact:
                return True
        return False

    def add(self, word: str) -> None:
        """Accept ``word``."""
        for form, exact, deleted, substituted in zip(
            self._forms, self._exact, self._deleted, self._substituted, strict=True
        ):
            w = form(word)
            exact.add(w)
            deleted.update(_deletions(w))
            substituted.update(_substitutions(w))


class Prefixes:
    """Words accepted so far, to refuse a word that is a prefix of another or has one."""

    def __init__(self) -> None:
        self._words: set[str] = set()
        self._prefixes: set[str] = set()

    def conflicts(self, word: str) -> bool:
        """Return whether ``word`` starts an accepted word or an accepted word starts it."""
        if word in self._prefixes:
            return True
        return any(word[:i] in self._words for i in range(1, len(word) + 1))

    def add(self, word: str) -> None:
        """Accept ``word``."""
        self._words.add(word)
        self._prefixes.update(word[:i] for i in range(1, len(word) + 1))


def read_words(path: Path) -> list[str]:
    """Return the lines of a word file, stripped, without empty lines."""
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_blocklist(path: Path) -> re.Pattern[str]:
    """Return one pattern matching every word the blocklist names.

    A line is a word, or a word with ``*`` for any letters (``moord*``, ``*moord*``);
    ``#`` starts a comment.
    """
    patterns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        for entry in line.split("#", 1)[0].split():
            if not re.fullmatch(r"[a-z*-]+", entry):
                raise SystemExit(f"{path.name}: not a word or pattern: {entry!r}")
            patterns.append(".*".join(re.escape(part) for part in entry.split("*")))
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def ranked(words: Iterable[str], language: str) -> list[str]:
    """Return the words that wordfreq has seen in ``language``, most frequent first."""
    scored = [(wordfreq.zipf_frequency(word, language), word) for word in set(words)]
    return [word for zipf, word in sorted(scored, key=lambda s: (-s[0], s[1])) if zipf > 0]


def fill(
    chosen: list[str], candidates: Iterable[str], *, near: Neighbourhood, prefixes: Prefixes
) -> list[str]:
    """Add candidates in order to ``chosen`` until it has SIZE words, skipping any that
    is a prefix of a chosen word (or has one) or is confusable with one."""
    for word in chosen:
        near.add(word)
        prefixes.add(word)
    for word in candidates:
        if len(chosen) == SIZE:
            break
        if prefixes.conflicts(word) or near.conflicts(word):
            continue
        chosen.append(word)
        near.add(word)
        prefixes.add(word)
    if len(chosen) != SIZE:
        raise SystemExit(f"only {len(chosen)} words; {SIZE} are needed")
    return chosen


def english_words() -> set[str]:
    """Return the lowercase words of the American English dictionary (SCOWL)."""
    return {w for w in read_words(ENGLISH_DICT) if re.fullmatch(r"[a-z]+", w)}


def build_dutch() -> list[str]:
    """Return the Dutch list: common OpenTaal words, none English, none blocklisted."""
    blocked = read_blocklist(HERE / "blocklist_nl.txt")
    # The English lists' words too: a Dutch codename has no word of an English one.
    english = english_words() | set(read_words(EFF_LIST))
    # Capitalised entries (names, places) and abbreviations are left out by the pattern.
    words = [w for w in read_words(DUTCH_DICT) if DUTCH_WORD.fullmatch(w)]
    # A Dutch codename should read as Dutch: no word that is also English ("hand",
    # "water", "april") or used more in English than in Dutch ("online").
    words = [
        w
        for w in words
        if w not in english
        and wordfreq.zipf_frequency(w, "en") < wordfreq.zipf_frequency(w, "nl")
        and not blocked.fullmatch(w)
    ]
    # A plural, a diminutive or a conjugated verb gives way to its base word ("angsten"
    # to "angst", "afkomt" to "afkomen"), which the prefix rule would otherwise often shut
    # out: a codename word should be the form a reader remembers.
    dictionary = set(read_words(DUTCH_DICT))
    words = [w for w in words if not _inflected(w, dictionary) and not _verb_form(w, dictionary)]
    near = Neighbourhood((lambda w: w, fold_dutch))
    return sorted(fill([], ranked(words, "nl"), near=near, prefixes=Prefixes()))


_DUTCH_SUFFIXES = ("tjes", "jes", "tje", "je", "en", "s")
# Separable verb prefixes: "afge...d" is a past participle ("afgebeeld"), rarely a word
# one remembers as such.
_SEPARABLE = ("aan", "af", "bij", "door", "in", "mee", "na", "om", "op", "terug", "toe", "uit")
_PARTICIPLE_STARTS = tuple(f"{prefix}ge" for prefix in (*_SEPARABLE, "voor", "weg"))


def _verb_form(word: str, dictionary: set[str]) -> bool:
    """Return whether a Dutch word is a conjugated verb: "he ...s" ("afkomt", of "afkomen"),
    an "-eer" stem ("amuseer") or a past participle ("gemaakt", "bedoeld", "afgebeeld")."""
    if word.startswith(_PARTICIPLE_STARTS) and word.endswith(("d", "t", "en")):
        return True
    if len(word) >= 6 and word.endswith("eer") and word[:-2] + "ren" in dictionary:
        return True
    if word.endswith(("de", "te")) and _verb_form(word[:-1], dictionary):
        return True  # "gemaakte", as an adjective
    if word.startswith("ge") and word.endswith("en") and word[2:] in dictionary:
        return True  # "gegeven" of "geven"
    if word.endswith("t"):
        stem = word[:-1]
    elif word.endswith("d") and word.startswith(("be", "ge", "her", "ont", "ver")):
        stem = word[:-1]  # "bedoeld" of "bedoelen"
    else:
        return False
    if stem.startswith("ge"):
        stem = stem[2:]  # "gemaakt" of "maken"
    # "komt" -> "komen", "loopt" -> "lopen", "zet" -> "zetten", "wordt" -> "worden",
    # "wijst" -> "wijzen", "leeft" -> "leven"
    stems = {stem, re.sub(r"(aa|ee|oo|uu)(?=[^aeiou]$)", lambda m: m.group(1)[0], stem)}
    stems |= {re.sub("s$", "z", s) for s in stems} | {re.sub("f$", "v", s) for s in stems}
    infinitives = {s + "en" for s in stems} | {stem + stem[-1:] + "en"}
    return bool(infinitives & dictionary)


def _inflected(word: str, dictionary: set[str]) -> bool:
    """Return whether a Dutch word is a plural or diminutive of another dictionary word."""
    for suffix in _DUTCH_SUFFIXES:
        if not word.endswith(suffix) or len(word) - len(suffix) < 2:
            continue
        base = word[: -len(suffix)]
        # "bedden" -> "bed", "apen" -> "aap", "adviezen" -> "advies", "duiven" -> "duif"
        bases = {base, re.sub(r"([^aeiou])\1$", r"\1", base)}
        bases |= {re.sub("z$", "s", b) for b in bases} | {re.sub("v$", "f", b) for b in bases}
        bases |= {re.sub(r"(?<![aeiou])([aeou])(?=[^aeiou]$)", r"\1\1", b) for b in bases}
        if bases & dictionary:
            return True
    return False


def build_english() -> list[str]:
    """Return the English list: the EFF list less the blocklist, refilled with the most
    common SCOWL words that keep it prefix-free and free of confusable words."""
    blocked = read_blocklist(HERE / "blocklist_en.txt")
    eff = read_words(EFF_LIST)
    kept = [w for w in eff if not blocked.fullmatch(w)]
    candidates = [
        w
        for w in english_words()
        if ENGLISH_WORD.fullmatch(w) and w not in eff and not blocked.fullmatch(w)
    ]
    # The EFF words are kept as they are (their own near pairs included: those codenames
    # exist); only the words added here are kept one edit away from every other.
    near = Neighbourhood((lambda w: w,))
    return sorted(fill(kept, ranked(candidates, "en"), near=near, prefixes=Prefixes()))


def text_of(words: list[str]) -> str:
    """Return a list as its file's text: one word a line, a final newline."""
    return "".join(f"{word}\n" for word in words)


def main() -> int:
    """Build both lists; write them, or with --check compare them with the files."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args()
    found = metadata.version("wordfreq")
    if found != WORDFREQ_VERSION:
        print(f"warning: wordfreq {found}; the lists were made with {WORDFREQ_VERSION}")
    differ = False
    for name, words in (("nl.txt", build_dutch()), ("en.txt", build_english())):
        text = text_of(words)
        digest = hashlib.sha256(text.encode("ascii")).hexdigest()
        path = LISTS / name
        if args.check:
            same = path.exists() and path.read_text(encoding="ascii") == text
            differ |= not same
            print(f"{name}: {len(words)} words, sha256 {digest}, {'same' if same else 'DIFFERS'}")
        else:
            path.write_text(text, encoding="ascii")
            print(f"{name}: {len(words)} words, sha256 {digest}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
