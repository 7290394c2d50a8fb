"""The dedup stage as a chain of job fan-outs (one runner: the flow's task runner, or run_locally).

exact dedup: hashes (one job per partition) -> groups (one job per range of hashes: one copy kept)
near dedup:  signatures (one job per partition: MinHash + LSH band keys of its documents, repositories
or files, without the exact copies) -> candidates (one job per range of buckets, reading that range
from every partition's band file) -> route (one job per partition: its pairs from every range) ->
verify (one job per partition) -> components (one job: clusters, best document kept) -> decisions (one
job per partition: its drops) -> apply (one job per partition: exact copies and near duplicates removed).
Every job commits to the partition cache; a key names its inputs, so a killed run redoes only the
jobs it had not finished and gets the same bytes, and a night that changed a few partitions redoes
their signatures, verification and apply plus the cheap global steps (groups, candidates, route,
components, decisions), nothing else. Dedup is decided over the whole corpus every time: when a new
repository outranks an old one (more stars, bigger), the old one leaves the corpus that night, exactly
as a from-scratch run would decide.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tasks.common.jobs import Job, JobRun, Runner, entry_path
from tasks.common.partitions import partition_index
from tasks.common.shuffle import reducers_for, route_ranges
from tasks.dedup.cluster import apply_job, components_job, decisions_job, route_pairs_job, verify_job
from tasks.dedup.config import Config
from tasks.dedup.exact import groups_job, hashes_job
from tasks.dedup.lsh import candidates_job
from tasks.dedup.metrics import aggregate
from tasks.dedup.shards import signatures_job

STEPS = ("hashes", "groups", "signatures", "candidates", "route", "verify", "components", "decisions", "apply")
BAND_ROW_BYTES = 24  # route + bucket + doc: what a candidates job holds per band row
HASH_ROW_BYTES = 160  # a file's hash row (digest, where, rank) as Python objects in a groups job


@dataclass
class DedupRun:
    runs: dict[str, JobRun]     # step -> its jobs
    metrics: dict[str, Any]
    clusters: Path              # the committed clusters table (link it into place once the gate passed)


def _keys(run: JobRun) -> str:
    return "\n".join(run.keys)


def run_dedup(ordered: Sequence[str | Path], sig_dir: str | Path, out_dir: str | Path, cfg: Config, *, salt: str,
              cache: str, target_bytes: int, runner: Runner, exact_dir: str | Path | None = None) -> DedupRun:
    """Dedup the data/ordered partitions `ordered` into `out_dir`, signatures into `sig_dir`, the exact
    copies dropped (with the copy kept) into `exact_dir` (data/dedup_exact/)."""
    parts = [Path(p) for p in ordered]
    if [partition_index(p) for p in parts] != list(range(len(parts))):
        raise ValueError(f"dedup: partitions must be numbered 0..{len(parts) - 1} (the crawl's plan)")
    sig_paths = [str(Path(sig_dir) / p.name) for p in parts]

    def step(name: str) -> str:
        return f"dedup-{name}"

    def cached(run: JobRun, name: str, output: str) -> tuple[str, ...]:
        return tuple(str(entry_path(step(name), k, output, cache)) for k in run.keys)

    runs: dict[str, JobRun] = {}
    exact_files: tuple[str, ...] = ()
    exact_keys = ""
    if cfg.exact_enabled:
        runs["hashes"] = runner([Job(step("hashes"), p.stem, salt, inputs=(str(p),), outputs={"hashes": None},
                                     cache=cache) for p in parts], hashes_job, cfg, desc="exact-hashes")
        n_groups = reducers_for(sum(s["hashed"] for s in runs["hashes"].summaries), HASH_ROW_BYTES, target_bytes)
        runs["groups"] = runner([Job(step("groups"), f"range-{r:05d}", salt, extra=f"{r}/{n_groups}\n{_keys(runs['hashes'])}",
                                     reads=cached(runs["hashes"], "hashes", "hashes"),
                                     outputs={"dropped": None if exact_dir is None else
                                              str(Path(exact_dir) / f"part-{r:05d}.parquet")}, cache=cache)
                                 for r in range(n_groups)],
                                groups_job, cfg, desc="exact-groups", per_job=route_ranges(n_groups))
        exact_files = cached(runs["groups"], "groups", "dropped")
        exact_keys = _keys(runs["groups"])
    # A repository is compared whole, as it was crawled (the paper's unit: a fork whose shared files are
    # exact copies is still the fork); a file already dropped as an exact copy needs no near-dedup.
    near_skip, near_keys = (exact_files, exact_keys) if cfg.granularity == "file" else ((), "")
    sigs = runner([Job(step("signatures"), p.stem, salt, inputs=(str(p),), extra=near_keys, reads=near_skip,
                       outputs={"signatures": sig_paths[i], "bands": None}, cache=cache) for i, p in enumerate(parts)],
                  signatures_job, cfg, desc="signatures")
    n_ranges = reducers_for(sum(s["band_rows"] for s in sigs.summaries), BAND_ROW_BYTES, target_bytes)
    cand = runner([Job(step("candidates"), f"range-{r:05d}", salt, extra=f"{r}/{n_ranges}\n{_keys(sigs)}",
                       reads=cached(sigs, "signatures", "bands"), outputs={"pairs": None}, cache=cache)
                   for r in range(n_ranges)],
                  candidates_job, cfg.max_bucket, desc="candidates", per_job=route_ranges(n_ranges))
    # each partition's pairs, gathered from every range: verification is then keyed by the bytes of its
    # own pairs and of the signatures they touch, so a night that changed other partitions reuses it
    routed = runner([Job(step("route"), p.stem, salt, extra=f"{i}\n{_keys(cand)}",
                         reads=cached(cand, "candidates", "pairs"), outputs={"pairs": None}, cache=cache)
                     for i, p in enumerate(parts)],
                    route_pairs_job, desc="route-pairs", per_job=[(i,) for i in range(len(parts))])
    pair_files = cached(routed, "route", "pairs")
    verify = runner([Job(step("verify"), p.stem, salt, extra=f"{i}\n{near_keys}",
                         inputs=(pair_files[i], *(sig_paths[q] for q in routed.summaries[i]["partners"])),
                         reads=near_skip, outputs={"similar": None}, cache=cache)
                     for i, p in enumerate(parts)],
                    verify_job, sig_paths, [str(p) for p in parts], near_skip, cfg, desc="verify",
                    per_job=[(i,) for i in range(len(parts))])
    comp = runner([Job(step("components"), "clusters", salt, extra=_keys(verify),
                       reads=cached(verify, "verify", "similar"), outputs={"clusters": None, "drops": None},
                       cache=cache)],
                  components_job, sig_paths, cfg, desc="components")
    # each partition's drops (near, then exact), so that applying them is keyed by its own decisions
    decided = runner([Job(step("decisions"), p.stem, salt, extra=f"{i}\n{_keys(comp)}\n{exact_keys}",
                          reads=cached(comp, "components", "drops") + exact_files, outputs={"decisions": None},
                          cache=cache) for i, p in enumerate(parts)],
                     decisions_job, desc="decisions", per_job=[(i,) for i in range(len(parts))])
    decisions = cached(decided, "decisions", "decisions")
    applied = runner([Job(step("apply"), p.stem, salt, inputs=(str(p), decisions[i]),
                          outputs={"out": str(Path(out_dir) / p.name)}, cache=cache) for i, p in enumerate(parts)],
                     apply_job, desc="apply")
    runs.update(signatures=sigs, candidates=cand, route=routed, verify=verify, components=comp, decisions=decided,
                apply=applied)
    metrics = aggregate(runs, cfg)
    metrics["candidate_ranges"] = n_ranges
    return DedupRun(runs, metrics, Path(cached(comp, "components", "clusters")[0]))
