"""Throughput of the filter rules against plain reading + UTF-8 decoding of the same files.

    python -m tasks.filter.benchmark [--reps N] [--max-bytes B] [--exclude S] PATH_OR_GLOB...

Files over --max-bytes (the crawl's size cap, 1 MiB) are skipped, as the crawl would. Reports MB/s
(CPU time, best of N: the machine is shared) for: read+decode (the baseline), the rules on decoded
texts (`decide_column`: Arrow conversion + statistics + all rules), and read+decode+rules.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import time
from pathlib import Path

from tasks.filter.config import Config
from tasks.filter.rules import decide_column


def collect(patterns: list[str], max_bytes: int, exclude: str | None = None) -> list[str]:
    files: set[str] = set()
    for pattern in patterns:
        if os.path.isdir(pattern):
            files.update(str(p) for p in Path(pattern).rglob("*") if p.is_file())
        else:
            files.update(glob.glob(pattern, recursive=True))
    return sorted(f for f in files if os.path.isfile(f) and os.path.getsize(f) <= max_bytes
                  and not (exclude and exclude in f))


def lang_of(path: str) -> str:
    return {".py": "Python", ".js": "JavaScript", ".html": "HTML", ".json": "JSON"}.get(Path(path).suffix, "Python")


def run(files: list[str], reps: int) -> dict:
    cfg = Config(supported_languages=("Python", "JavaScript", "HTML", "JSON"))
    langs = [lang_of(f) for f in files]
    texts = [Path(f).read_bytes().decode("utf-8", "replace") for f in files]
    n_bytes = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)

    def read_decode() -> list[str]:
        out = []
        for f in files:
            with open(f, "rb") as fh:
                out.append(fh.read().decode("utf-8", "replace"))
        return out

    cases = {
        "read_decode": read_decode,
        "rules": lambda: decide_column(texts, langs, cfg),
        "read_decode_rules": lambda: decide_column(read_decode(), langs, cfg),
    }
    best = {name: float("inf") for name in cases}
    for _ in range(reps):
        for name, fn in cases.items():  # interleaved, so load changes hit every case alike
            start = time.process_time()
            fn()
            best[name] = min(best[name], time.process_time() - start)
    mb_s = {name: round(n_bytes / max(t, 1e-9) / 1e6, 1) for name, t in best.items()}
    return {"files": len(files), "mb": round(n_bytes / 1e6, 2), "mb_s": mb_s,
            "ratio_rules_vs_read_decode": round(mb_s["rules"] / mb_s["read_decode"], 3),
            "ratio_read_decode_rules_vs_read_decode": round(mb_s["read_decode_rules"] / mb_s["read_decode"], 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--max-bytes", type=int, default=1 << 20)
    ap.add_argument("--exclude", help="skip paths containing this string")
    args = ap.parse_args()
    print(json.dumps(run(collect(args.paths, args.max_bytes, args.exclude), args.reps), indent=2))


if __name__ == "__main__":
    main()
