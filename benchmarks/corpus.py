"""The benchmark corpus: data/raw (or a crawled subset of the default manifest), its derived inputs,
and replicas at 2x, 4x ... for the scaling runs.

Every row measures on inputs built here from the same raw shards, so a figure and its baseline
always see the same bytes:
- `raw/x<k>`: data/raw shards (k = 1 is the raw directory itself). Replica i of a repository gets the
  id `<repo>~r<i>`, so it is a distinct repository that lands in `shard_of(id, n_shards)` like any other
  (the shard count stays that of the corpus: bigger corpora mean bigger shards, as in the pipeline).
- `files/`: each raw file with content, as its own file (the filter's read + decode baseline).
- `samples/x<k>`: data/ordered-schema shards, one sample per repository: its filter-kept files in
  path order, rendered with `tasks.order.render.render_sample` (dependency order does not change
  the cost of dedup, decontamination or packing; the order stage is not benchmarked here).
- `texts.parquet`: (repo, text) of the 1x samples: the in-memory input of the MinHash comparison
  with the peers and of the dedup accuracy check.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.common.hashing import shard_of
from tasks.common.io import atomic_write_json, list_shards, shard_name, write_parquet

SAMPLES_SCHEMA = pa.schema([
    ("repo", pa.string()), ("source", pa.string()), ("license", pa.string()), ("version", pa.string()),
    ("stars", pa.int64()), ("sample", pa.int32()), ("files", pa.list_(pa.string())),
    ("langs", pa.list_(pa.string())), ("contents", pa.list_(pa.string())), ("text", pa.string()),
    ("n_files", pa.int32()), ("size", pa.int64()),
])
TEXTS_SCHEMA = pa.schema([("repo", pa.string()), ("text", pa.string())])
REPLICA_SEP = "~r"


CRAWL_PARTITION_BYTES = 16 << 20


def replica_id(repo: str, i: int) -> str:
    """Id of replica i (i = 0 is the repository itself)."""
    return repo if i == 0 else f"{repo}{REPLICA_SEP}{i}"


def crawl_subset(subset: Sequence[str], out_dir: str | Path, crawl_section: dict[str, Any]) -> dict[str, Any]:
    """Crawl the default-manifest entries named `name@version` in `subset` into out_dir (data/raw layout).

    Uses the crawl stage's own functions, limits and download cache, so a rerun downloads nothing.
    """
    from tasks.common.jobs import run_locally
    from tasks.crawl import config_from_params
    from tasks.crawl.config import DEFAULT_MANIFEST, load_manifest
    from tasks.crawl.plan import run_crawl

    cfg = config_from_params(crawl_section)
    specs = load_manifest(DEFAULT_MANIFEST)
    by_key = {f"{s.get('name')}@{s.get('version')}": s for s in specs}
    missing = [key for key in subset if key not in by_key]
    if missing:
        raise ValueError(f"benchmarks.crawl_subset: not in the crawl manifest: {', '.join(missing)}")
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    run = run_crawl([by_key[key] for key in subset], cfg, out, target_bytes=CRAWL_PARTITION_BYTES,
                    min_partitions=2, cache=str(out.parent / "partition-cache"), runner=run_locally)
    summary = {"partitions": run.partitions, "rows": sum(s["files"] for s in run.fetched.summaries if not s["error"]),
               "quarantined": len(run.quarantine),
               "errors": {s["repo"]: s["error"] for s in run.fetched.summaries if s.get("error")}}
    atomic_write_json(Path(out_dir) / "subset.json", {"subset": list(subset), "summary": summary})
    return summary


def locate_raw(raw_dir: str | Path, work_dir: str | Path, subset: Sequence[str],
               crawl_section: dict[str, Any] | None) -> tuple[Path, str]:
    """(raw shards directory, where it came from): raw_dir when it holds shards, else a crawled subset."""
    raw = Path(raw_dir)
    if list_shards(raw):
        return raw, f"{raw_dir} (existing data/raw shards)"
    crawled = Path(work_dir) / "crawl"
    marker = crawled / "subset.json"
    current = json.loads(marker.read_text()) if marker.is_file() else {}
    if current.get("subset") != list(subset) or not list_shards(crawled):
        if crawl_section is None:
            raise FileNotFoundError(f"{raw_dir}: no raw shards, and no crawl params to crawl a subset")
        crawl_subset(subset, crawled, crawl_section)
    return crawled, f"crawled subset of the default manifest ({len(subset)} packages) into {crawled}"


def _content_bytes(table: pa.Table) -> int:
    lengths = pc.binary_length(table.column("content").cast(pa.binary()))
    return int(pc.sum(lengths).as_py() or 0)


def _write_sharded(table: pa.Table, out_dir: Path, n_shards: int, sort_keys: list[tuple[str, str]]) -> None:
    """Rows to shard_of(repo, n_shards), each shard sorted; every shard index written (empty ones too)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    repos = table.column("repo").to_pylist()
    shard_by_repo = {r: shard_of(r, n_shards) for r in sorted(set(repos))}
    shard_col = pa.array([shard_by_repo[r] for r in repos], pa.int32())
    for i in range(n_shards):
        part = table.filter(pc.equal(shard_col, i))
        part = part.take(pc.sort_indices(part, sort_keys=sort_keys))
        write_parquet(part, out_dir / shard_name(i))


def replicate(table: pa.Table, k: int) -> pa.Table:
    """k copies of the table, copy i with repository ids `<repo>~r<i>`."""
    parts = [table]
    for i in range(1, k):
        repo = pc.binary_join_element_wise(table.column("repo"), pa.scalar(f"{REPLICA_SEP}{i}"), "")
        parts.append(table.set_column(table.schema.get_field_index("repo"), "repo", repo.cast(pa.string())))
    return pa.concat_tables(parts)


def build_samples(raw: pa.Table, filter_section: dict[str, Any]) -> pa.Table:
    """One data/ordered-schema row per repository from its filter-kept files (path order)."""
    from tasks.filter import config_from_params as filter_config
    from tasks.filter.shard import decide_table
    from tasks.order.render import render_sample

    reasons = decide_table(raw, filter_config(filter_section))
    kept = raw.filter(pa.array([r is None for r in reasons], pa.bool_()))
    kept = kept.take(pc.sort_indices(kept, sort_keys=[("repo", "ascending"), ("path", "ascending")]))
    cols = {c: kept.column(c).to_pylist() for c in ("repo", "source", "license", "version", "stars", "path",
                                                   "lang", "content")}
    rows: dict[str, list[Any]] = {f.name: [] for f in SAMPLES_SCHEMA}
    start = 0
    n = kept.num_rows
    for i in range(1, n + 1):
        if i < n and cols["repo"][i] == cols["repo"][start]:
            continue
        files = cols["path"][start:i]
        langs = cols["lang"][start:i]
        contents = cols["content"][start:i]
        text = render_sample(files, langs, contents)
        stars = [s for s in cols["stars"][start:i] if s is not None]
        for key, value in (("repo", cols["repo"][start]), ("source", cols["source"][start]),
                           ("license", cols["license"][start]), ("version", cols["version"][start]),
                           ("stars", max(stars) if stars else None), ("sample", 0), ("files", files),
                           ("langs", langs), ("contents", contents), ("text", text),
                           ("n_files", len(files)), ("size", len(text.encode("utf-8", "surrogatepass")))):
            rows[key].append(value)
        start = i
    return pa.table(rows, schema=SAMPLES_SCHEMA)


def _materialise_files(raw: pa.Table, out_dir: Path) -> dict[str, Any]:
    """Each raw file with content as its own file; returns the manifest (paths, langs, bytes)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    paths, langs, total = [], [], 0
    for i, (content, lang) in enumerate(zip(raw.column("content").to_pylist(), raw.column("lang").to_pylist())):
        if content is None:
            continue
        data = content.encode("utf-8", "surrogatepass")
        path = out_dir / f"{i:07d}"
        path.write_bytes(data)
        paths.append(str(path))
        langs.append(lang)
        total += len(data)
    manifest = {"paths": paths, "langs": langs, "bytes": total}
    atomic_write_json(out_dir.parent / "files.json", manifest)
    return manifest


def prepare(raw_dir: str | Path, work_dir: str | Path, scales: Sequence[int], filter_section: dict[str, Any]
            ) -> dict[str, Any]:
    """Build every derived input; returns a JSON-able description (paths and byte counts per scale)."""
    work = Path(work_dir) / "corpus"
    work.mkdir(parents=True, exist_ok=True)
    shards = list_shards(raw_dir)
    if not shards:
        raise FileNotFoundError(f"{raw_dir}: no raw shards")
    n_shards = len(shards)
    raw = pa.concat_tables([pq.read_table(p) for p in shards], promote_options="permissive")
    files = _materialise_files(raw, work / "files")
    samples = build_samples(raw, filter_section)
    texts = pa.table({"repo": samples.column("repo"), "text": samples.column("text")}, schema=TEXTS_SCHEMA)
    write_parquet(texts, work / "texts.parquet")

    scaled: dict[str, dict[str, Any]] = {}
    for k in sorted(set(scales)):
        raw_k = Path(raw_dir) if k == 1 else work / "raw" / f"x{k}"
        table_k = raw if k == 1 else replicate(raw, k)
        if k != 1:
            _write_sharded(table_k, raw_k, n_shards, [("repo", "ascending"), ("path", "ascending")])
        samples_k = replicate(samples, k)
        _write_sharded(samples_k, work / "samples" / f"x{k}", n_shards, [("repo", "ascending"),
                                                                          ("sample", "ascending")])
        contents_bytes = int(pc.sum(pc.binary_length(
            pc.list_flatten(samples_k.column("contents")).cast(pa.binary()))).as_py() or 0)
        scaled[str(k)] = {
            "raw_dir": str(raw_k), "samples_dir": str(work / "samples" / f"x{k}"),
            "raw_files": table_k.num_rows, "raw_content_bytes": _content_bytes(table_k),
            "repos": len(set(table_k.column("repo").to_pylist())),
            "samples": samples_k.num_rows, "sample_text_bytes": int(pc.sum(samples_k.column("size")).as_py() or 0),
            "sample_contents_bytes": contents_bytes,
        }
    return {"raw_dir": str(raw_dir), "n_shards": n_shards, "files_manifest": str(work / "files.json"),
            "files": len(files["paths"]), "files_bytes": files["bytes"], "texts": str(work / "texts.parquet"),
            "scales": scaled}
