"""Run one measured case in this (fresh) process and print its result as the last stdout line.

    python -m benchmarks.worker SPEC.json      # {"case": name, "args": {...}, "profile": bool}

A process per measurement gives every case the same cold start, an honest peak RSS
(`ru_maxrss` of this process, imports included) and isolation from the harness's own memory.
"""
from __future__ import annotations

import cProfile
import io
import json
import pstats
import resource
import sys
from pathlib import Path

MARK = "BENCH-RESULT "


def profile_lines(prof: cProfile.Profile, top: int = 25) -> list[str]:
    """The `top` entries by cumulative time, as pstats prints them (paths shortened)."""
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    lines = [line.rstrip() for line in buf.getvalue().splitlines()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return [line for line in lines[start:] if line.strip()]


def peak_rss_mb() -> float:
    """Peak RSS of this process's own address space (VmHWM). Not ru_maxrss: on Linux that keeps the
    parent's RSS when the child was spawned with vfork/posix_spawn, before exec replaced the image."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str]) -> int:
    from benchmarks.cases import CASES

    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    fn = CASES[spec["case"]]
    if spec.get("profile"):
        fn(**spec.get("args", {}))  # warm: imports and caches stay out of the profile
        prof = cProfile.Profile()
        result = prof.runcall(fn, **spec.get("args", {}))
        result["profile"] = profile_lines(prof)
    else:
        result = fn(**spec.get("args", {}))
    result["peak_rss_mb"] = peak_rss_mb()
    sys.stdout.flush()
    print(MARK + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
