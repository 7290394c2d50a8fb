"""Time the order stage on one big local tree read as a single repository.

    .venv/bin/python -m tasks.order.bench [ROOT] [--with-site-packages]

ROOT defaults to this interpreter's standard library; `site-packages` is skipped unless asked for.
Prints the main metrics (edges, resolution rate, cycles, samples) and wall / CPU seconds as JSON.
"""
from __future__ import annotations

import json
import os
import sys
import sysconfig
import time

from tasks.order import Config, aggregate, order_rows


def read_tree(root: str, with_site_packages: bool = False) -> list[dict]:
    """One row per UTF-8 text file under `root` (paths relative to it, lang left to extensions)."""
    rows = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if d != "__pycache__" and (with_site_packages or d != "site-packages"))
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                continue
            try:
                with open(full, "rb") as fh:
                    text = fh.read().decode("utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if "\x00" not in text:
                rows.append({"repo": "local/bench", "path": os.path.relpath(full, root), "lang": None,
                             "content": text})
    return rows


def main(argv: list[str]) -> dict:
    args = [a for a in argv if not a.startswith("--")]
    root = args[0] if args else sysconfig.get_paths()["stdlib"]
    rows = read_tree(root, "--with-site-packages" in argv)
    wall, cpu = time.perf_counter(), time.process_time()
    _, stats = order_rows(rows, Config())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stats.update(shards=1, seconds=wall, languages_with_grammar=[], languages_regex_only=[])
    m = aggregate([stats])
    keys = ("files", "parse_failures", "deps_found", "deps_resolved", "resolution_rate", "edges",
            "edges_against_order", "cycles_broken", "components_with_cycles", "samples", "samples_multi_file",
            "files_in_multi_file_samples", "files_per_sample_hist", "sample_bytes")
    report = {"root": root, **{k: m[k] for k in keys},
              "per_language": {k: {"deps_found": v["deps_found"], "resolution_rate": v["resolution_rate"],
                                   "edges": v["edges"]} for k, v in m["languages"].items()},
              "seconds_wall": round(wall, 2), "seconds_cpu": round(cpu, 2)}
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
