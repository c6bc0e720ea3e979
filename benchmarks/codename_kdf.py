"""Time one codename derivation with DEFAULT_KDF_PARAMS: mean, min and max over 10 runs.

Run with ``.venv/bin/python benchmarks/codename_kdf.py``. This is the cost every source
login pays (whether or not the codename exists), cited in docs/performance.md.
"""

from __future__ import annotations

import os
import statistics
import time

from dissent.crypto.codename import DEFAULT_KDF_PARAMS, derive_source_keys, generate_codename

RUNS = 10


def main() -> None:
    """Print the wall-clock and CPU time of RUNS derivations."""
    codename = generate_codename()
    salt = os.urandom(32)
    derive_source_keys(codename, salt=salt)  # warm-up: load the word list, touch the memory
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(RUNS):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        derive_source_keys(codename, salt=salt)
        wall.append(time.perf_counter() - wall_start)
        cpu.append(time.process_time() - cpu_start)
    p = DEFAULT_KDF_PARAMS
    print(
        f"Argon2id memory {p.memory_cost_kib // 1024} MiB, iterations {p.iterations}, "
        f"lanes {p.lanes}; {RUNS} runs on {os.cpu_count()} CPUs"
    )
    for label, times in (("wall", wall), ("cpu", cpu)):
        ms = [t * 1000 for t in times]
        print(
            f"{label:4}: mean {statistics.mean(ms):6.1f} ms  "
            f"min {min(ms):6.1f} ms  max {max(ms):6.1f} ms"
        )


if __name__ == "__main__":
    main()
