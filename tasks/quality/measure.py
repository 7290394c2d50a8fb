"""Measure decontamination on real code: false positives and speed.

    python -m tasks.quality.measure --root /root/.pyenv/versions/3.11.7/lib/python3.11 \
        --glob '**/*.py' --exclude site-packages [--params params.yaml] [--cache .cache/quality]

Every file under `root` is ordinary code, so every flagged file is a false positive (or a true
overlap the benchmark itself copied); each is printed with the first matching gram's text and the
benchmark item it came from. Timings compare the scan with reading the files and with one Python
pass over the text (`str.split`).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from tasks.common.params import load_params
from tasks.quality.config import config_from_params
from tasks.quality.decontam import build_benchmark_index, load_index
from tasks.quality.ngrams import text_grams, unit_spans


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--glob", default="**/*.py")
    ap.add_argument("--exclude", action="append", default=[], help="skip paths containing this text")
    ap.add_argument("--params", help="params.yaml to take the quality section from (default: built-in defaults)")
    ap.add_argument("--cache", default=".cache/quality")
    args = ap.parse_args(argv)

    section = load_params(args.params).get("quality", {}) if args.params else {}
    cfg = config_from_params(section)
    t = time.perf_counter()
    index = load_index(build_benchmark_index(cfg, args.cache))
    print(f"index: {time.perf_counter() - t:.2f}s, {index.long.hashes.size} grams, "
          f"{index.short.hashes.size} short items, unit={index.unit} n={index.ngram}")

    root = Path(args.root)
    t = time.perf_counter()
    paths = sorted(p for p in root.glob(args.glob) if p.is_file() and not any(x in str(p) for x in args.exclude))
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in paths]
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    for text in texts:
        text.split()
    split_s = time.perf_counter() - t
    t = time.perf_counter()
    hits = index.scan(texts, cfg.decontam.batch_bytes)
    scan_s = time.perf_counter() - t

    size = sum(len(x.encode("utf-8", "surrogatepass")) for x in texts)
    flagged = [(p, x, h) for p, x, h in zip(paths, texts, hits) if h and h.contaminated(cfg.decontam.min_gram_hits)]
    flagged_bytes = sum(len(x.encode("utf-8", "surrogatepass")) for _, x, _ in flagged)
    print(f"files: {len(paths)}, {size / 1e6:.1f} MB; flagged {len(flagged)} files "
          f"({len(flagged) / max(len(paths), 1):.2%}), {flagged_bytes / max(size, 1):.2%} of bytes")
    print(f"time: read files {read_s:.2f}s, str.split pass {split_s:.2f}s, scan {scan_s:.2f}s "
          f"({size / 1e6 / max(scan_s, 1e-9):.1f} MB/s)")
    for path, text, h in flagged:
        print(f"  {path.relative_to(root)}: {h.grams} grams, {h.short_items} short items, "
              f"{','.join(index.benchmark_names(h.mask))} e.g. {' '.join(h.items)} | {_first_match(index, text)!r}")


def _first_match(index, text: str) -> str:
    """The text of the first matching long gram (for reading why a file was flagged)."""
    grams = text_grams(text, index.ngram, index.unit, index.lowercase)
    pos, _ = index.long.lookup(grams)
    if not pos.size:
        return ""
    data, starts, ends = unit_spans(text, index.unit)
    first = int(pos[0])
    return data[starts[first]:ends[first + index.ngram - 1]].decode("utf-8", "replace")[:160]


if __name__ == "__main__":
    main()
