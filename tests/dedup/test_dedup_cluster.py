from __future__ import annotations

import json
import random
from pathlib import Path

import dedup_corpus
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dedup_corpus import write_ordered

from tasks.common.io import list_shards, shard_name, write_parquet
from tasks.common.jobs import JobRun, run_locally, run_job
from tasks.common.shuffle import route_of
from tasks.dedup import CLUSTER_SCHEMA, config_from_params, signatures_shard
from tasks.dedup.cluster import components
from tasks.dedup.lsh import band_keys, bucket_pairs
from tasks.dedup.stage import run_dedup


@pytest.fixture
def corpus():
    """Repos: a near-duplicate family, an exact pair, a size-ranked pair, unrelated repos, an empty one."""
    t = dedup_corpus
    rnd = random.Random(7)
    vocab = t.vocabulary()
    base = t.code_like(rnd, vocab, 1600)
    other = t.code_like(rnd, vocab, 1600)
    lib = t.code_like(rnd, vocab, 900)
    repos = {
        "git/alpha@1": [t.render(base[:800]), t.render(base[800:])],
        "git/alpha-fork@1": [t.render(base[:800], random.Random(1)), t.render(base[800:], random.Random(2))],
        "git/alpha-edit@1": [t.render(t.mutate(base, 0.004, rnd, vocab))],
        "git/beta@1": [t.render(other)],
        "pypi/lib@1.0": [t.render(lib)],
        "pypi/lib@1.1": [t.render(lib), t.render(lib[:40])],           # same + a little more: bigger
        "npm/same-a@1": [t.render(lib[:500])],
        "npm/same-b@1": [t.render(lib[:500])],
        "local/empty": ["", "   \n"],
    }
    stars = {"git/alpha@1": 3, "git/alpha-fork@1": 40, "git/alpha-edit@1": 40, "git/beta@1": 40}
    return repos, stars


NEAR_ONLY = {"exact": {"enabled": False}}  # these tests look at near-dedup alone; exact copies: below


def run_stage(tmp: Path, repos, stars, n_shards: int, section: dict | None = None, target_bytes: int = 1 << 20,
              runner=run_locally):
    """The stage as the flow runs it (tasks.dedup.stage.run_dedup), with the jobs run here."""
    section = {**NEAR_ONLY, **(section or {})}
    cfg = config_from_params(section)
    ordered = tmp / "ordered"
    if not ordered.exists():
        write_ordered(ordered, repos, n_shards, stars)
    for sub in ("sigs", "deduped"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    run = run_dedup(list_shards(ordered), tmp / "sigs", tmp / "deduped", cfg, salt=json.dumps(section),
                    cache=str(tmp / "cache"), target_bytes=target_bytes, runner=runner, exact_dir=tmp / "exact")
    rows = pq.read_table(run.clusters).to_pylist()
    drop = sorted(r["repo"] for r in rows if not r["kept"])
    return cfg, rows, drop, run


def _kept_of(rows):
    return {r["repo"]: r["kept_repo"] for r in rows}


def test_near_duplicates_cluster_distinct_repos_do_not(tmp_path, corpus):
    repos, stars = corpus
    cfg, rows, drop, run = run_stage(tmp_path, repos, stars, 3)
    kept_of = _kept_of(rows)
    # identical (fork) and near-identical (0.4% tokens edited) repos share one cluster
    assert kept_of["git/alpha@1"] == kept_of["git/alpha-fork@1"] == kept_of["git/alpha-edit@1"]
    assert kept_of["npm/same-a@1"] == kept_of["npm/same-b@1"]
    # unrelated repos and the empty repo are not clustered with anything
    assert "git/beta@1" not in kept_of and "local/empty" not in kept_of
    assert len({r["cluster"] for r in rows}) == 3
    for r in rows:
        if not r["kept"]:
            assert r["est_jaccard"] >= cfg.threshold - 0.15
            if r["exact_jaccard"] is not None:  # verified against the kept repo itself
                assert r["exact_jaccard"] >= cfg.threshold
                assert abs(r["est_jaccard"] - r["exact_jaccard"]) < 0.15
    assert run.metrics["docs_empty"] == 1
    assert run.metrics["pairs_verified_exact"] >= 4


def test_ranking_stars_then_size_then_repo_id(tmp_path, corpus):
    repos, stars = corpus
    _, rows, drop, _ = run_stage(tmp_path, repos, stars, 2)
    kept_of = _kept_of(rows)
    # stars 40 beat 3; between the two 40-star repos the bigger text wins (fork renders the full base)
    fork_size = sum(len(s.encode()) for s in repos["git/alpha-fork@1"])
    edit_size = sum(len(s.encode()) for s in repos["git/alpha-edit@1"])
    expected = "git/alpha-fork@1" if fork_size > edit_size else "git/alpha-edit@1"
    assert kept_of["git/alpha@1"] == expected
    assert kept_of["pypi/lib@1.0"] == "pypi/lib@1.1"        # no stars: size decides
    assert kept_of["npm/same-b@1"] == "npm/same-a@1"        # all equal: repo id ascending
    assert "git/alpha@1" in drop and "npm/same-a@1" not in drop


def test_rank_order_is_configurable(tmp_path, corpus):
    repos, stars = corpus
    _, rows, _, _ = run_stage(tmp_path / "a", repos, stars, 2, {"rank": ["repo"]})
    assert _kept_of(rows)["git/alpha-fork@1"] == "git/alpha-edit@1"   # alphabetical first
    _, rows, _, _ = run_stage(tmp_path / "b", repos, stars, 2, {"rank": ["size", "stars"]})
    assert _kept_of(rows)["pypi/lib@1.0"] == "pypi/lib@1.1"


def test_whole_repos_dropped_and_kept_rows_unchanged(tmp_path, corpus):
    repos, stars = corpus
    _, rows, drop, run = run_stage(tmp_path, repos, stars, 3)
    before = {p.name: pq.read_table(p) for p in list_shards(tmp_path / "ordered")}
    after = {p.name: pq.read_table(p) for p in list_shards(tmp_path / "deduped")}
    assert set(before) == set(after)
    for name, table in before.items():
        out = after[name]
        assert out.schema == table.schema
        expected = [r for r in table.to_pylist() if r["repo"] not in set(drop)]
        assert out.to_pylist() == expected                   # rows of kept repos: all of them, unchanged
    remaining = {r for t in after.values() for r in t.column("repo").to_pylist()}
    assert remaining.isdisjoint(drop)
    assert remaining | set(drop) == set(repos)
    assert run.metrics["repos_dropped"] == len(drop)


def test_deterministic_across_partition_counts_reducers_and_job_order(tmp_path, corpus):
    repos, stars = corpus

    def reversed_runner(jobs, fn, *args, desc="", per_job=None):  # jobs finish in the opposite order
        order = list(range(len(jobs)))[::-1]
        out = {i: run_job(jobs[i], fn, *((tuple(per_job[i]) if per_job else ()) + args)) for i in order}
        return JobRun.of([out[i] for i in range(len(jobs))])

    results = {}
    for name, n, target, runner in (("one", 1, 1 << 20, run_locally), ("three", 3, 1 << 20, run_locally),
                                    ("three-rev", 3, 1 << 20, reversed_runner), ("five-many", 5, 2000, run_locally)):
        _, rows, drop, run = run_stage(tmp_path / name, repos, stars, n, target_bytes=target, runner=runner)
        results[name] = (rows, drop)
    assert run.metrics["candidate_ranges"] > 2  # the small target split the buckets over more reducers
    assert all(r == results["one"] for r in results.values())
    for sub in ("sigs", "deduped"):
        for i in range(3):
            assert (tmp_path / "three" / sub / shard_name(i)).read_bytes() == \
                (tmp_path / "three-rev" / sub / shard_name(i)).read_bytes()


def test_estimate_verification_reads_no_texts(tmp_path, corpus, monkeypatch):
    import tasks.dedup.cluster as cluster_mod

    def no_texts(*a, **k):
        raise AssertionError("verify=estimate must not load shingle sets")

    monkeypatch.setattr(cluster_mod, "load_shingles", no_texts)
    repos, stars = corpus
    _, rows, drop, run = run_stage(tmp_path, repos, stars, 2, {"verify": "estimate"})
    assert all(r["exact_jaccard"] is None for r in rows)
    assert {"git/alpha@1", "pypi/lib@1.0", "npm/same-b@1"} <= set(drop)
    assert run.metrics["pairs_verified_exact"] == 0


def test_repos_over_exact_max_bytes_are_judged_by_their_estimate(tmp_path, corpus):
    repos, stars = corpus
    _, rows, drop, run = run_stage(tmp_path, repos, stars, 2, {"exact_max_bytes": 100})
    assert run.metrics["pairs_verified_exact"] == 0 and run.metrics["pairs_verified_estimate"] > 0
    assert {"git/alpha@1", "pypi/lib@1.0", "npm/same-b@1"} <= set(drop)


def test_band_buckets_pair_their_members_and_cap_fork_storms():
    buckets = np.array([7, 7, 9, 9, 9, 3, 11, 11, 11, 11, 11], dtype=np.uint64)
    docs = np.array([5, 1, 2, 4, 3, 8, 10, 14, 12, 11, 13], dtype=np.int64)
    pairs, stats = bucket_pairs(buckets, docs, max_bucket=4)
    got = {tuple(p) for p in pairs.tolist()}
    assert {(1, 5), (2, 3), (2, 4), (3, 4)} <= got                # buckets of 2 and 3: every pair
    storm = {p for p in got if p[0] >= 10}                        # 5 members > max_bucket 4: star + chain
    assert storm == {(10, 11), (10, 12), (10, 13), (10, 14), (11, 12), (12, 13), (13, 14)}
    assert stats["buckets_capped"] == 1 and stats["buckets_shared"] == 3
    assert pairs.tolist() == sorted(pairs.tolist())


def test_band_keys_separate_bands_and_routes_cover_the_space():
    rnd = np.random.default_rng(0)
    sigs = rnd.integers(0, 2**32, size=(50, 12), dtype=np.uint32)
    sigs[1] = sigs[0]                                              # identical documents share every band
    sigs[2, :3] = sigs[0, :3]                                      # one band in common
    keys = band_keys(sigs, 4, 3)
    assert (keys[0] == keys[1]).all() and (keys[0] == keys[2]).sum() == 1
    assert len(np.unique(keys)) == keys.size - 4 - 1
    routes = route_of(keys.reshape(-1))
    assert routes.min() >= 0 and routes.max() < 2**31


def test_components_label_by_smallest_node_whatever_the_edge_order():
    a = np.array([30, 50, 30, 10], dtype=np.int64)
    b = np.array([60, 40, 0 + 60, 20], dtype=np.int64)
    for perm in (np.arange(4), np.arange(4)[::-1]):
        nodes, labels = components(a[perm], b[perm])
        assert dict(zip(nodes.tolist(), labels.tolist())) == {10: 10, 20: 10, 30: 30, 40: 40, 50: 40, 60: 30}
    chain = np.arange(200, dtype=np.int64)                          # a long chain converges too
    nodes, labels = components(chain[:-1], chain[1:])
    assert set(labels.tolist()) == {0}


def test_bad_rows_are_recorded_not_fatal(tmp_path):
    t = dedup_corpus
    text = t.render(t.code_like(random.Random(1), t.vocabulary(), 300))
    def sample(repo, n, content, stars):
        return {"repo": repo, "sample": n, "files": ["f.py"], "langs": ["Python"], "contents": [content],
                "text": content, "stars": stars}

    rows = [sample(None, 0, text, None), sample("a", 1, None, 5), sample("a", 0, text, None), sample("b", 0, text, 1)]
    ordered = tmp_path / "ordered"
    ordered.mkdir()
    table = pa.Table.from_pylist(rows, schema=dedup_corpus.ORDERED_SCHEMA)
    write_parquet(table.take(pa.array([0, 2, 1, 3])), ordered / "part-00000.parquet")  # grouped by repo
    cfg = config_from_params({})
    st = signatures_shard(ordered / "part-00000.parquet", tmp_path / "sig.parquet", cfg)
    assert st["rows_without_repo"] == 1 and st["repos"] == 2 and st["errors"] == 0
    sig = pq.read_table(tmp_path / "sig.parquet").to_pylist()
    assert [r["repo"] for r in sig] == ["a", "b"] and sig[0]["stars"] == 5 and sig[0]["n_samples"] == 2
    _, out, drop, _ = run_stage(tmp_path, {}, {}, 1)
    assert drop == ["b"] and _kept_of(out)["b"] == "a"      # a: 5 stars beats 1


def test_a_killed_stage_reruns_only_unfinished_jobs_with_the_same_bytes(tmp_path, corpus):
    repos, stars = corpus
    calls = {"n": 0}

    def dying_runner(jobs, fn, *args, desc="", per_job=None):
        if desc == "verify":  # the process is killed half-way through verification
            for i, job in enumerate(jobs[:2]):
                run_job(job, fn, *((tuple(per_job[i]) if per_job else ()) + args))
            raise KeyboardInterrupt
        calls["n"] += 1
        return run_locally(jobs, fn, *args, desc=desc, per_job=per_job)

    with pytest.raises(KeyboardInterrupt):
        run_stage(tmp_path / "a", repos, stars, 4, runner=dying_runner)
    _, rows, drop, run = run_stage(tmp_path / "a", repos, stars, 4)
    assert run.runs["signatures"].computed == 0 and run.runs["candidates"].computed == 0
    assert run.runs["verify"].reused == 2 and run.runs["verify"].computed == 2
    _, rows_b, _, _ = run_stage(tmp_path / "b", repos, stars, 4)
    assert rows == rows_b
    for i in range(4):
        name = shard_name(i)
        assert (tmp_path / "a/deduped" / name).read_bytes() == (tmp_path / "b/deduped" / name).read_bytes()


def test_metrics_and_cluster_table(tmp_path, corpus):
    repos, stars = corpus
    cfg, rows, drop, run = run_stage(tmp_path, repos, stars, 2)
    metrics = run.metrics
    json.dumps(metrics)
    assert metrics["repos_in"] == len(repos)
    assert metrics["repos_dropped"] == len(drop) == metrics["repos_in"] - metrics["repos_kept"]
    assert metrics["dropped_share"] == pytest.approx(len(drop) / len(repos), abs=1e-6)
    dropped_bytes = sum(len(s.encode()) for r in drop for s in repos[r])
    assert metrics["bytes_dropped"] == dropped_bytes
    # near.*: what the near-dedup removed, whole repositories included (their files and content bytes)
    assert metrics["near"]["files_dropped"] == sum(len(repos[r]) for r in drop)
    assert metrics["near"]["bytes_dropped"] == dropped_bytes
    assert sum(int(k) * v for k, v in metrics["cluster_sizes"].items()) == len(rows)
    assert {d["repo"] for d in metrics["dropped"]} == set(drop)
    assert all(d["kept_repo"] not in drop for d in metrics["dropped"])
    assert metrics["gate"]["passed"] == (cfg.gate_dropped_share[0] <= metrics["dropped_share"]
                                         <= cfg.gate_dropped_share[1])
    assert sum(v["bytes"] for v in metrics["mix"].values()) == metrics["bytes_kept"]
    table = pq.read_table(run.clusters)
    assert table.schema.equals(CLUSTER_SCHEMA)
    assert table.num_rows == len(rows)
    assert [r["cluster"] for r in rows] == sorted(r["cluster"] for r in rows)


def _files_corpus():
    """Repos as samples of several files: vendored copies of one library, re-saved copies, a near copy."""
    t = dedup_corpus
    rnd = random.Random(3)
    vocab = t.vocabulary()
    lib = t.render(t.code_like(rnd, vocab, 400))
    own = {name: t.render(t.code_like(rnd, vocab, 300)) for name in ("a", "b", "c", "d")}
    near = t.render(t.mutate(t.code_like(random.Random(9), vocab, 900), 0.0, rnd, vocab))
    return {
        "git/a@1": [("src/a.py", own["a"]), ("vendor/lib.py", lib), ("__init__.py", "")],
        "git/b@1": [("src/b.py", own["b"]), ("third_party/lib.py", lib.replace("\n", "\r\n") + "\n\n"),
                    ("__init__.py", "")],
        "git/c@1": [("src/c.py", own["c"]), ("big.py", near)],
        "git/d@1": [("src/d.py", own["d"]), ("big_copy.py", t.render(t.mutate(near.split(), 0.003, rnd, vocab)))],
    }


def _write_files_corpus(root: Path, repos, stars, n_shards: int = 2) -> None:
    from tasks.common.hashing import shard_of
    from tasks.order.render import render_sample
    rows: dict[int, list[dict]] = {i: [] for i in range(n_shards)}
    for repo in sorted(repos):
        files = repos[repo]
        paths, contents = [p for p, _ in files], [c for _, c in files]
        langs = ["Python"] * len(files)
        text = render_sample(paths, langs, contents)
        rows[shard_of(repo, n_shards)].append({
            "repo": repo, "source": "git", "license": "MIT", "version": None, "stars": stars.get(repo),
            "sample": 0, "files": paths, "langs": langs, "contents": contents, "text": text,
            "n_files": len(files), "size": len(text.encode())})
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n_shards):
        write_parquet(pa.Table.from_pylist(rows[i], schema=dedup_corpus.ORDERED_SCHEMA), root / shard_name(i))


def test_exact_copies_are_dropped_across_repos_with_the_kept_copy_named(tmp_path):
    repos = _files_corpus()
    _write_files_corpus(tmp_path / "ordered", repos, {"git/b@1": 10})
    _, rows, drop, run = run_stage(tmp_path, repos, {}, 2, {"exact": {"enabled": True}, "threshold": 0.99})
    exact = pq.read_table(tmp_path / "exact").to_pylist()
    # the vendored library (one copy re-saved with CRLF and trailing blank lines) is one file: the
    # 10-star repo keeps it; empty __init__.py files are under min_chars and never dropped
    assert [(r["repo"], r["path"], r["kept_repo"], r["kept_path"]) for r in exact] == [
        ("git/a@1", "vendor/lib.py", "git/b@1", "third_party/lib.py")]
    deduped = {r["repo"]: r for p in list_shards(tmp_path / "deduped") for r in pq.read_table(p).to_pylist()}
    assert deduped["git/a@1"]["files"] == ["src/a.py", "__init__.py"]
    assert "vendor/lib.py" not in deduped["git/a@1"]["text"] and "# src/a.py" in deduped["git/a@1"]["text"]
    assert deduped["git/b@1"]["files"] == ["src/b.py", "third_party/lib.py", "__init__.py"]
    m = run.metrics["exact"]
    assert m["files_dropped"] == 1 and m["groups"] == 1 and m["bytes_dropped"] == len(repos["git/a@1"][1][1].encode())
    assert 0 < m["file_share"] < 1 and m["files_short"] == 2


def test_file_granularity_drops_near_duplicate_files_not_repositories(tmp_path):
    repos = _files_corpus()
    _write_files_corpus(tmp_path / "ordered", repos, {})
    _, rows, drop, run = run_stage(tmp_path, repos, {}, 2, {"granularity": "file", "exact": {"enabled": True}})
    near = [(r["repo"], r["path"]) for r in rows if not r["kept"]]
    kept = [(r["repo"], r["path"]) for r in rows if r["kept"]]
    assert len(near) == 1 and set(near + kept) == {("git/c@1", "big.py"), ("git/d@1", "big_copy.py")}
    deduped = {r["repo"]: r for p in list_shards(tmp_path / "deduped") for r in pq.read_table(p).to_pylist()}
    assert set(deduped) == set(repos)  # file level: every repository stays, minus its copied files
    gone_repo, gone_path = near[0]
    assert gone_path not in deduped[gone_repo]["files"]
    assert run.metrics["granularity"] == "file" and run.metrics["near"]["files_dropped"] == 1
    assert run.metrics["repos_dropped"] == 0


def test_a_night_with_one_new_repository_redoes_only_what_it_touches(tmp_path, corpus):
    """Incremental dedup: the same cache, one partition gains a repository. Signatures, verification and
    apply are redone only where their inputs changed; the result equals a from-scratch run."""
    import shutil

    repos, stars = corpus
    night1 = tmp_path / "night1"
    write_ordered(night1 / "ordered", repos, 4, stars)
    run_stage(night1, repos, stars, 4)
    t = dedup_corpus
    newcomer = {"git/newcomer@1": [t.render(t.code_like(random.Random(99), t.vocabulary(), 700))]}
    grown = {**repos, **newcomer}
    night2 = tmp_path / "night2"  # the next night: same partition cache, its ordered input rewritten
    write_ordered(night2 / "ordered", grown, 4, stars)
    shutil.copytree(night1 / "cache", night2 / "cache")
    _, rows2, drop2, run2 = run_stage(night2, grown, stars, 4)
    changed = sum((night1 / "ordered" / shard_name(i)).read_bytes() != (night2 / "ordered" / shard_name(i)).read_bytes()
                  for i in range(4))
    assert changed == 1
    assert run2.runs["signatures"].computed == 1 and run2.runs["signatures"].reused == 3
    assert run2.runs["apply"].computed == 1 and run2.runs["apply"].reused == 3
    assert run2.runs["verify"].reused >= 2
    scratch = tmp_path / "scratch"
    _, rows_s, drop_s, _ = run_stage(scratch, grown, stars, 4)
    assert (rows2, drop2) == (rows_s, drop_s)
    for i in range(4):
        assert (night2 / "deduped" / shard_name(i)).read_bytes() == (scratch / "deduped" / shard_name(i)).read_bytes()


def test_a_new_partition_that_renumbers_the_others_keeps_their_committed_jobs(tmp_path, corpus):
    """Map outputs never name their own partition (readers add it), so partitions whose bytes did not change
    keep their signatures and exact hashes when a new partition shifts the numbering - and the decisions
    still come out as from scratch."""
    import shutil

    repos, stars = corpus
    night1 = tmp_path / "night1"
    write_ordered(night1 / "ordered", repos, 3, stars)
    run_stage(night1, repos, stars, 3, {"exact": {"enabled": True}})
    t = dedup_corpus
    newcomer = {"git/aaa-new@1": [t.render(t.code_like(random.Random(5), t.vocabulary(), 600))]}
    night2 = tmp_path / "night2"
    write_ordered(night2 / "new", newcomer, 1, stars)
    (night2 / "ordered").mkdir(parents=True)
    shutil.copyfile(night2 / "new" / shard_name(0), night2 / "ordered" / shard_name(0))
    for i in range(3):
        shutil.copyfile(night1 / "ordered" / shard_name(i), night2 / "ordered" / shard_name(i + 1))
    shutil.copytree(night1 / "cache", night2 / "cache")
    grown = {**repos, **newcomer}
    _, rows2, drop2, run2 = run_stage(night2, grown, stars, 4, {"exact": {"enabled": True}})
    assert run2.runs["signatures"].reused == 3 and run2.runs["hashes"].reused == 3
    scratch = tmp_path / "scratch"
    shutil.copytree(night2 / "ordered", scratch / "ordered")
    _, rows_s, drop_s, _ = run_stage(scratch, grown, stars, 4, {"exact": {"enabled": True}})
    assert (rows2, drop2) == (rows_s, drop_s)
    for i in range(4):
        assert (night2 / "deduped" / shard_name(i)).read_bytes() == (scratch / "deduped" / shard_name(i)).read_bytes()
