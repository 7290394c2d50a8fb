"""Git snapshot reading: the blob-by-blob reader (`tasks.crawl.gitread`) against `git archive` + iter_archive.

Both turn one commit of a cached bare clone into the same ArchiveFile records (default Limits). Each
measurement runs in a fresh process; repetitions alternate the two methods so load spikes from other
processes on the machine hit both alike. Reported: median wall seconds; peak RSS of the Python process
above its post-import baseline, and of the largest git child (VmHWM sampled from /proc every ms in one
extra, untimed run per method: getrusage's children figure counts the forking Python's pages).

    python -m benchmarks.git_reader [--bundles ../shared/corpora/github] [--reps 3] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

METHODS = ("archive", "reader")


def _peak_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


class ChildPeak:
    """Largest VmHWM of this process's git children while active (a sampling thread, every `every` s)."""

    def __init__(self, every: float = 0.001) -> None:
        self.every, self.peak_kib, self._stop = every, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for tid in os.listdir("/proc/self/task"):
                try:
                    with open(f"/proc/self/task/{tid}/children", encoding="ascii") as fh:
                        pids = fh.read().split()
                    for pid in pids:
                        with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
                            status = dict(line.split(":", 1) for line in fh if ":" in line)
                        if status["Name"].strip() == "git":  # exec'd: before that VmHWM is the forking Python's
                            self.peak_kib = max(self.peak_kib, int(status.get("VmHWM", "0 kB").split()[0]))
                except OSError:  # the child exited meanwhile
                    pass
            time.sleep(self.every)

    def __enter__(self) -> "ChildPeak":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def measure_one(method: str, mirror: str, sha: str, sample: bool = False) -> dict[str, Any]:
    """Read the commit once with `method` in this process: wall time, or (`sample`) the peaks."""
    from tasks.crawl.extract import Limits, iter_archive
    from tasks.crawl.gitread import read_commit

    limits, rejected = Limits(), []  # type: Limits, list[Rejection]
    base = _peak_mib(resource.RUSAGE_SELF)
    sampler = ChildPeak()
    if sample:
        sampler.__enter__()
    start = time.perf_counter()
    if method == "archive":
        tar = subprocess.run(["git", "archive", "--format=tar", sha], cwd=mirror, capture_output=True,
                             check=True).stdout
        files = list(iter_archive(tar, limits, rejected, strip_top=False))
        del tar
    else:
        files, _unread = read_commit(mirror, sha, limits, rejected)
    wall = time.perf_counter() - start
    if sample:
        sampler.__exit__()
    return {"method": method, "wall_s": wall, "files": len(files), "bytes": sum(f.size for f in files),
            "py_peak_mib": _peak_mib(resource.RUSAGE_SELF) - base, "git_peak_mib": sampler.peak_kib / 1024}


def _run_worker(method: str, mirror: str, sha: str, sample: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.git_reader", "--one", method, mirror, sha] + (["--sample"] if sample else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(bundles: Path, reps: int) -> list[dict[str, Any]]:
    from tasks.crawl.sources import git_mirror

    specs = yaml.safe_load((bundles / "manifest.yaml").read_text(encoding="utf-8"))
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-git-") as cache:
        for spec in specs:
            mirror = git_mirror(str(bundles / Path(spec["url"]).name), cache, 600)  # untimed
            runs: dict[str, list[dict[str, Any]]] = {m: [] for m in METHODS}
            for rep in range(reps):
                for method in (METHODS if rep % 2 == 0 else METHODS[::-1]):
                    runs[method].append(_run_worker(method, mirror, spec["rev"]))
            peaks = {m: _run_worker(m, mirror, spec["rev"], sample=True) for m in METHODS}
            row: dict[str, Any] = {"repo": spec["name"], "files": runs["reader"][0]["files"],
                                   "bytes": runs["reader"][0]["bytes"]}
            for method in METHODS:
                row[f"{method}_s"] = statistics.median(r["wall_s"] for r in runs[method])
                row[f"{method}_py_mib"] = statistics.median(r["py_peak_mib"] for r in runs[method])
                row[f"{method}_git_mib"] = peaks[method]["git_peak_mib"]
            row["same_files"] = runs["reader"][0]["files"] == runs["archive"][0]["files"]
            results.append(row)
            print(json.dumps(row), file=sys.stderr)
    return results


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| repo | files | MB | archive s | reader s | reader/archive | peak py+git MiB archive | reader |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows + [{"repo": "total", **{k: sum(r[k] for r in rows) for k in ("files", "bytes", "archive_s", "reader_s")},
                      **{k: max(r[k] for r in rows) for k in ("archive_py_mib", "archive_git_mib", "reader_py_mib",
                                                              "reader_git_mib")}}]:
        lines.append(f"| {r['repo']} | {r['files']} | {r['bytes'] / 1e6:.1f} | {r['archive_s']:.3f} | {r['reader_s']:.3f} "
                     f"| {r['reader_s'] / r['archive_s']:.2f} | {r['archive_py_mib']:.0f} + {r['archive_git_mib']:.0f} "
                     f"| {r['reader_py_mib']:.0f} + {r['reader_git_mib']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", default=os.path.join("..", "shared", "corpora", "github"))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", help="also write the rows here")
    parser.add_argument("--one", nargs=3, metavar=("METHOD", "MIRROR", "SHA"), help=argparse.SUPPRESS)
    parser.add_argument("--sample", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure_one(*args.one, sample=args.sample)))
        return 0
    rows = run(Path(args.bundles), args.reps)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
