"""Benchmark the crypto core: streaming throughput, peak memory, recipients, codename KDF.

Run with ``.venv/bin/python benchmarks/crypto.py [--size-mib N] [--runs N] [--markdown]``;
the figures in docs/performance.md come from it. It measures, on this machine:

* throughput of ``encrypt_stream`` / ``decrypt_stream`` over ``--size-mib`` MiB next to raw
  ChaCha20-Poly1305 over the same bytes in 64 KiB chunks with the same I/O (the ceiling);
* peak memory growth while streaming, in a fresh process per direction;
* the cost of each added X25519 or hybrid recipient, and of finding ours among 20;
* the time of one codename derivation with the production Argon2id parameters.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cryptography

# The raw baseline needs the primitive itself; dissent code outside dissent.crypto must not.
from cryptography.hazmat.backends.openssl import backend
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from dissent.crypto import (
    KeyKind,
    KeyPairIdentity,
    decrypt,
    decrypt_stream,
    encrypt,
    encrypt_stream,
    generate_identity,
    parse_identity,
    split_header,
)
from dissent.crypto.codename import DEFAULT_KDF_PARAMS, derive_source_keys, generate_codename

MIB = 1024 * 1024
BLOCK_SIZE = 64 * 1024  # age's plaintext chunk
TAG_SIZE = 16
PATTERN_SIZE = MIB

DEFAULT_SIZE_MIB = 1024
DEFAULT_RUNS = 5
RATIO_TARGET = 0.85
MEMORY_TARGET_MIB = 64

MESSAGE_SIZE = 1024
RECIPIENT_COUNTS = (1, 2, 5, 10, 20)
RECIPIENT_RUNS = {KeyKind.X25519: 200, KeyKind.HYBRID: 50}
KDF_RUNS = 10

_CHILD_MODES = ("baseline", "encrypt", "decrypt")


# --- sources and sinks ----------------------------------------------------------------


class RepeatingSource:
    """A readable of ``size`` bytes repeating a 1 MiB random pattern, never held whole.

    Reads of 64 KiB at 64 KiB boundaries (all that encrypt_stream makes) return a prepared
    block without copying, so the benchmark measures dissent rather than its source.
    """

    def __init__(self, size: int) -> None:
        pattern = os.urandom(PATTERN_SIZE)
        self._pattern = pattern
        self._blocks = [pattern[i : i + BLOCK_SIZE] for i in range(0, PATTERN_SIZE, BLOCK_SIZE)]
        self._left = size
        self._offset = 0

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` bytes; like a pipe, never past the end of the pattern."""
        if size < 0:
            raise ValueError("this source is never read whole")
        n = min(size, self._left, PATTERN_SIZE - self._offset)
        if n == BLOCK_SIZE and self._offset % BLOCK_SIZE == 0:
            data = self._blocks[self._offset // BLOCK_SIZE]
        else:
            data = self._pattern[self._offset : self._offset + n]
        self._offset = (self._offset + n) % PATTERN_SIZE
        self._left -= n
        return data


class CountingSink:
    """A writable that discards what it gets and counts the bytes."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, data: bytes, /) -> int:
        """Count ``data`` and drop it."""
        self.count += len(data)
        return len(data)


def _expect(got: int, want: int, what: str) -> None:
    if got != want:
        raise RuntimeError(f"{what}: {got} bytes, expected {want}")


# --- (a) throughput -------------------------------------------------------------------


def _nonce(counter: int) -> bytes:
    return counter.to_bytes(12, "big")


def raw_encrypt(
    aead: ChaCha20Poly1305, source: RepeatingSource, write: Callable[[bytes], object]
) -> None:
    """Encrypt ``source`` in 64 KiB chunks with the bare AEAD, passing each to ``write``."""
    counter = 0
    while block := source.read(BLOCK_SIZE):
        write(aead.encrypt(_nonce(counter), block, None))
        counter += 1


def raw_decrypt(aead: ChaCha20Poly1305, path: Path, write: Callable[[bytes], object]) -> None:
    """Decrypt what :func:`raw_encrypt` wrote to ``path``, reading it as decrypt_stream does."""
    counter = 0
    with path.open("rb") as f:
        while chunk := f.read(BLOCK_SIZE + TAG_SIZE):
            write(aead.decrypt(_nonce(counter), chunk, None))
            counter += 1


def aead_only(aead: ChaCha20Poly1305, size: int, *, decrypting: bool) -> None:
    """Run the AEAD over one 64 KiB block ``size // 64 KiB`` times: no I/O at all."""
    nonce = _nonce(0)
    block = os.urandom(BLOCK_SIZE)
    if decrypting:
        block = aead.encrypt(nonce, block, None)
    operation = aead.decrypt if decrypting else aead.encrypt
    for _ in range(size // BLOCK_SIZE):
        operation(nonce, block, None)


def _seconds(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


@dataclass(frozen=True)
class Throughput:
    """MiB/s of dissent, of the raw baseline and of the bare AEAD, for one direction."""

    direction: str
    dissent: float
    raw: float
    aead_only: float

    @property
    def ratio(self) -> float:
        """Return dissent's share of the raw throughput."""
        return self.dissent / self.raw


def measure_throughput(
    size: int, runs: int, identity: KeyPairIdentity, age_file: Path
) -> tuple[Throughput, Throughput]:
    """Return encryption and decryption throughput; ``age_file`` holds ``size`` bytes."""
    aead = ChaCha20Poly1305(ChaCha20Poly1305.generate_key())
    # The baseline's ciphertext, next to dissent's; written once, not timed.
    raw_file = age_file.with_name("raw.bin")
    with raw_file.open("wb") as f:
        raw_encrypt(aead, RepeatingSource(size), f.write)

    def dissent_enc() -> None:
        sink = CountingSink()
        encrypt_stream(RepeatingSource(size), sink, recipients=[identity.recipient])
        _expect(sink.count, age_file.stat().st_size, "dissent encryption")

    def raw_enc() -> None:
        sink = CountingSink()
        raw_encrypt(aead, RepeatingSource(size), sink.write)
        _expect(sink.count, raw_file.stat().st_size, "raw encryption")

    def dissent_dec() -> None:
        sink = CountingSink()
        with age_file.open("rb") as f:
            decrypt_stream(f, sink, identities=[identity])
        _expect(sink.count, size, "dissent decryption")

    def raw_dec() -> None:
        sink = CountingSink()
        raw_decrypt(aead, raw_file, sink.write)
        _expect(sink.count, size, "raw decryption")

    timings: dict[str, list[float]] = {}
    # Interleaved, so that a slow spell of the machine hits both sides alike.
    for _ in range(runs):
        for name, run in (
            ("dissent_enc", dissent_enc),
            ("raw_enc", raw_enc),
            ("aead_enc", lambda: aead_only(aead, size, decrypting=False)),
            ("dissent_dec", dissent_dec),
            ("raw_dec", raw_dec),
            ("aead_dec", lambda: aead_only(aead, size, decrypting=True)),
        ):
            timings.setdefault(name, []).append(_seconds(run))
    raw_file.unlink()

    def rate(name: str) -> float:
        # The fastest run: the machine is shared, and other work only ever slows a run down.
        return size / MIB / min(timings[name])

    return (
        Throughput("encrypt", rate("dissent_enc"), rate("raw_enc"), rate("aead_enc")),
        Throughput("decrypt", rate("dissent_dec"), rate("raw_dec"), rate("aead_dec")),
    )


# --- (b) peak memory ------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryUse:
    """Peak memory of streaming in a fresh process, beyond one that only set up."""

    direction: str
    baseline_rss_mib: float
    max_rss_mib: float
    traced_peak_mib: float

    @property
    def rss_growth_mib(self) -> float:
        """Return how far streaming raised the peak RSS above the baseline process's."""
        return self.max_rss_mib - self.baseline_rss_mib


def run_child(mode: str, size: int, age_file: Path, secret: str) -> dict[str, int]:
    """Stream in a fresh interpreter and return its max RSS (KiB) and tracemalloc peak."""
    command = [sys.executable, __file__, "--child", mode, "--size-mib", str(size // MIB)]
    done = subprocess.run(
        [*command, "--child-file", str(age_file)],
        input=secret,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, int] = json.loads(done.stdout)
    return result


def child_main(mode: str, size: int, age_file: Path) -> None:
    """Set up as the parent asks, stream (unless ``baseline``), print peak memory as JSON."""
    identity = parse_identity(sys.stdin.read().strip())
    source, sink = RepeatingSource(size), CountingSink()
    with age_file.open("rb") as f:
        # Started after the set-up, so the peak is what streaming itself allocates.
        tracemalloc.start()
        if mode == "encrypt":
            encrypt_stream(source, sink, recipients=[identity.recipient])
        elif mode == "decrypt":
            decrypt_stream(f, sink, identities=[identity])
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # Our own maximum, reported to the parent: RUSAGE_CHILDREN there would only give the
    # largest of all children, which hides a baseline that is smaller than an earlier run.
    max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"max_rss_kib": max_rss_kib, "traced_peak": traced_peak}))


def measure_memory(size: int, age_file: Path, secret: str) -> list[MemoryUse]:
    """Return peak memory growth of encrypting and of decrypting ``size`` bytes."""
    baseline = run_child("baseline", size, age_file, secret)["max_rss_kib"] / 1024
    uses = []
    for direction in ("encrypt", "decrypt"):
        child = run_child(direction, size, age_file, secret)
        uses.append(
            MemoryUse(
                direction=direction,
                baseline_rss_mib=baseline,
                max_rss_mib=child["max_rss_kib"] / 1024,
                traced_peak_mib=child["traced_peak"] / MIB,
            )
        )
    return uses


# --- (c) recipients -------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientCost:
    """Encryption time and header size by recipient count, and decryption among 20."""

    kind: KeyKind
    encrypt_ms: dict[int, float]
    header_bytes: dict[int, int]
    decrypt_first_ms: float
    decrypt_last_ms: float

    @property
    def ms_per_recipient(self) -> float:
        """Return the least-squares slope of encryption time over recipient count."""
        counts = list(self.encrypt_ms)
        return statistics.linear_regression(counts, list(self.encrypt_ms.values())).slope

    @property
    def header_bytes_per_recipient(self) -> float:
        """Return the slope of header size over recipient count."""
        counts = list(self.header_bytes)
        values = [float(v) for v in self.header_bytes.values()]
        return statistics.linear_regression(counts, values).slope


def _fastest_ms(run: Callable[[], object], runs: int) -> float:
    # The fastest, as for throughput: on a shared machine a median still moves with whatever
    # else happens to run during one recipient count, and that bends the fitted slope.
    run()  # warm-up
    fastest = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        run()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest * 1000


def measure_recipients(kind: KeyKind) -> RecipientCost:
    """Time encrypting a 1 KiB message to 1…20 recipients of ``kind`` and decrypting it."""
    runs = RECIPIENT_RUNS[kind]
    identities = [generate_identity(kind) for _ in range(max(RECIPIENT_COUNTS))]
    recipients = [identity.recipient for identity in identities]
    message = os.urandom(MESSAGE_SIZE)
    encrypt_ms, header_bytes = {}, {}
    for count in RECIPIENT_COUNTS:
        chosen = recipients[:count]
        encrypt_to_chosen = functools.partial(encrypt, message, recipients=chosen)
        encrypt_ms[count] = _fastest_ms(encrypt_to_chosen, runs)
        header_bytes[count] = len(split_header(encrypt(message, recipients=chosen))[0])
    blob = encrypt(message, recipients=recipients)
    # Stanzas do not name their recipient: the last identity tries every stanza before its own.
    first, last = identities[0], identities[-1]
    return RecipientCost(
        kind=kind,
        encrypt_ms=encrypt_ms,
        header_bytes=header_bytes,
        decrypt_first_ms=_fastest_ms(lambda: decrypt(blob, identities=[first]), runs),
        decrypt_last_ms=_fastest_ms(lambda: decrypt(blob, identities=[last]), runs),
    )


# --- (d) codename derivation ----------------------------------------------------------


@dataclass(frozen=True)
class KdfTiming:
    """Wall-clock milliseconds of KDF_RUNS codename derivations."""

    mean_ms: float
    min_ms: float
    max_ms: float


def measure_kdf() -> KdfTiming:
    """Time KDF_RUNS derivations with DEFAULT_KDF_PARAMS after one warm-up."""
    codename, salt = generate_codename(), os.urandom(32)
    derive_source_keys(codename, salt=salt)  # loads the word list, touches the memory
    ms = []
    for _ in range(KDF_RUNS):
        start = time.perf_counter()
        derive_source_keys(codename, salt=salt)
        ms.append((time.perf_counter() - start) * 1000)
    return KdfTiming(mean_ms=statistics.mean(ms), min_ms=min(ms), max_ms=max(ms))


def kdf_params_text() -> str:
    """Return DEFAULT_KDF_PARAMS in words."""
    p = DEFAULT_KDF_PARAMS
    return f"Argon2id, {p.memory_cost_kib // 1024} MiB, {p.iterations} passes, {p.lanes} lanes"


# --- the machine ----------------------------------------------------------------------


def _proc_field(path: str, name: str) -> str:
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.strip() == name:
                return value.strip()
    return "unknown"


def _os_name() -> str:
    try:
        pretty = platform.freedesktop_os_release()["PRETTY_NAME"]
    except (OSError, KeyError):
        pretty = platform.system()
    return f"{pretty}, kernel {platform.release()}"


def machine() -> dict[str, str]:
    """Return what the figures depend on: CPU, memory, OS and library versions."""
    ram_kib = int(_proc_field("/proc/meminfo", "MemTotal").split()[0])
    return {
        "CPU": _proc_field("/proc/cpuinfo", "model name"),
        "Cores": str(os.cpu_count()),
        "RAM": f"{ram_kib / MIB:.1f} GiB",
        "OS": _os_name(),
        "Python": platform.python_version(),
        "cryptography": cryptography.__version__,
        "OpenSSL": backend.openssl_version_text(),
        # Other work on the machine slows every figure; record how busy it was.
        "Load average at start": " ".join(f"{load:.2f}" for load in os.getloadavg()),
    }


# --- report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """Everything one run measured."""

    date: str
    size_mib: int
    runs: int
    machine: dict[str, str]
    throughput: tuple[Throughput, Throughput]
    memory: list[MemoryUse]
    recipients: list[RecipientCost]
    kdf: KdfTiming


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _kind_name(kind: KeyKind) -> str:
    return "X25519" if kind is KeyKind.X25519 else "hybrid (mlkem768x25519)"


def render_text(report: Report) -> str:
    """Return the report as plain text."""
    lines = [f"dissent crypto benchmark, {report.date}"]
    lines += [f"  {key}: {value}" for key, value in report.machine.items()]
    lines += [
        "",
        f"(a) Streaming {report.size_mib} MiB, fastest of {report.runs} runs "
        f"(target: dissent >= {RATIO_TARGET:.0%} of raw)",
        "    source: a 1 MiB pattern repeated (no copy per read); sink: counts and discards;",
        "    decryption reads a temporary file in /tmp, the raw baseline a file of its own.",
    ]
    for t in report.throughput:
        lines.append(
            f"  {t.direction}: dissent {t.dissent:7.0f} MiB/s  raw {t.raw:7.0f} MiB/s  "
            f"ratio {t.ratio:6.1%}  {_verdict(t.ratio >= RATIO_TARGET)}  "
            f"(AEAD alone, in memory: {t.aead_only:.0f} MiB/s)"
        )
    lines += [
        "",
        f"(b) Peak memory streaming {report.size_mib} MiB in a fresh process, beyond one that "
        f"only set up (target: < {MEMORY_TARGET_MIB} MiB)",
    ]
    for m in report.memory:
        lines.append(
            f"  {m.direction}: max RSS {m.max_rss_mib:.1f} MiB (baseline {m.baseline_rss_mib:.1f}),"
            f" growth {m.rss_growth_mib:+.1f} MiB; tracemalloc peak {m.traced_peak_mib:.2f} MiB  "
            f"{_verdict(m.rss_growth_mib < MEMORY_TARGET_MIB)}"
        )
    lines += ["", f"(c) Recipients: encrypt {MESSAGE_SIZE} bytes (fastest run, ms)"]
    for r in report.recipients:
        timings = ", ".join(f"{n}: {ms:.2f}" for n, ms in r.encrypt_ms.items())
        lines += [
            f"  {_kind_name(r.kind)}: {timings}",
            f"    {r.ms_per_recipient:.3f} ms and {r.header_bytes_per_recipient:.0f} header "
            f"bytes per added recipient (header {r.header_bytes[1]} B with one)",
            f"    decrypt a {max(RECIPIENT_COUNTS)}-recipient file: first identity "
            f"{r.decrypt_first_ms:.2f} ms, last identity {r.decrypt_last_ms:.2f} ms",
        ]
    k = report.kdf
    lines += [
        "",
        f"(d) Codename derivation, {kdf_params_text()}, {KDF_RUNS} runs",
        f"  mean {k.mean_ms:.0f} ms, min {k.min_ms:.0f} ms, max {k.max_ms:.0f} ms  "
        f"{_verdict(100 <= k.mean_ms <= 300)} (100-300 ms)",
    ]
    return "\n".join(lines)


def render_markdown(report: Report) -> str:
    """Return the report as a markdown section for docs/performance.md."""
    out = [
        f"Measured {report.date} with `.venv/bin/python benchmarks/crypto.py` "
        f"(streaming {report.size_mib} MiB, fastest of {report.runs} runs).",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in report.machine.items()),
        "",
        f"**Streaming {report.size_mib} MiB** (target: at least {RATIO_TARGET:.0%} of raw)",
        "",
        "| direction | dissent MiB/s | raw MiB/s | dissent / raw | AEAD alone MiB/s | target |",
        "|---|--:|--:|--:|--:|---|",
    ]
    out += [
        f"| {t.direction} | {t.dissent:.0f} | {t.raw:.0f} | {t.ratio:.1%} | {t.aead_only:.0f} "
        f"| {_verdict(t.ratio >= RATIO_TARGET)} |"
        for t in report.throughput
    ]
    out += [
        "",
        f"**Peak memory streaming {report.size_mib} MiB** (target: under {MEMORY_TARGET_MIB} MiB)",
        "",
        "| direction | max RSS | baseline max RSS | growth | tracemalloc peak | target |",
        "|---|--:|--:|--:|--:|---|",
    ]
    out += [
        f"| {m.direction} | {m.max_rss_mib:.1f} MiB | {m.baseline_rss_mib:.1f} MiB "
        f"| {m.rss_growth_mib:+.1f} MiB | {m.traced_peak_mib:.2f} MiB "
        f"| {_verdict(m.rss_growth_mib < MEMORY_TARGET_MIB)} |"
        for m in report.memory
    ]
    counts = list(RECIPIENT_COUNTS)
    out += [
        "",
        f"**Recipients** (encrypting {MESSAGE_SIZE} bytes; fastest run, ms)",
        "",
        "| kind | " + " | ".join(f"{n}" for n in counts) + " | ms per added | header B per added "
        f"| decrypt, first of {counts[-1]} | decrypt, last of {counts[-1]} |",
        "|---|" + "--:|" * (len(counts) + 4),
    ]
    out += [
        f"| {_kind_name(r.kind)} | "
        + " | ".join(f"{r.encrypt_ms[n]:.2f}" for n in counts)
        + f" | {r.ms_per_recipient:.3f} | {r.header_bytes_per_recipient:.0f} "
        f"| {r.decrypt_first_ms:.2f} ms | {r.decrypt_last_ms:.2f} ms |"
        for r in report.recipients
    ]
    k = report.kdf
    out += [
        "",
        f"**Codename derivation** ({kdf_params_text()}; {KDF_RUNS} runs)",
        "",
        "| mean | min | max | target |",
        "|--:|--:|--:|---|",
        f"| {k.mean_ms:.0f} ms | {k.min_ms:.0f} ms | {k.max_ms:.0f} ms "
        f"| {_verdict(100 <= k.mean_ms <= 300)} (100-300 ms) |",
    ]
    return "\n".join(out)


def run(size: int, runs: int) -> Report:
    """Measure everything and return the report."""
    host = machine()
    identity = generate_identity()
    with tempfile.TemporaryDirectory(prefix="dissent-bench-") as tmp:
        # The ciphertext that the decryption runs read; written once, not timed.
        age_file = Path(tmp) / "stream.age"
        with age_file.open("wb") as f:
            encrypt_stream(RepeatingSource(size), f, recipients=[identity.recipient])
        throughput = measure_throughput(size, runs, identity, age_file)
        memory = measure_memory(size, age_file, identity.secret_string())
    return Report(
        date=datetime.date.today().isoformat(),
        size_mib=size // MIB,
        runs=runs,
        machine=host,
        throughput=throughput,
        memory=memory,
        recipients=[measure_recipients(KeyKind.X25519), measure_recipients(KeyKind.HYBRID)],
        kdf=measure_kdf(),
    )


def main() -> None:
    """Parse the command line, run the benchmarks and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=DEFAULT_SIZE_MIB, help="bytes to stream")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="throughput runs")
    parser.add_argument("--markdown", action="store_true", help="print a markdown section")
    parser.add_argument("--child", choices=_CHILD_MODES, help=argparse.SUPPRESS)
    parser.add_argument("--child-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.size_mib < 1 or args.runs < 1:
        parser.error("--size-mib and --runs must be at least 1")
    size = args.size_mib * MIB
    if args.child:
        child_main(args.child, size, args.child_file)
        return
    report = run(size, args.runs)
    print(render_markdown(report) if args.markdown else render_text(report))


if __name__ == "__main__":
    main()
