"""The derived inputs: materialised files, repository-level samples, replicas with distinct ids."""
from __future__ import annotations

import json

import bench_corpus as bc
import pyarrow.parquet as pq
import pytest

from benchmarks.corpus import locate_raw, prepare, replica_id
from tasks.common.hashing import shard_of
from tasks.common.io import list_shards
from tasks.order.render import render_sample


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    raw = bc.write_raw(root / "raw")
    return raw, prepare(raw, root / "work", [1, 3], {})


def test_files_hold_every_content_byte_once(prepared):
    _, corpus = prepared
    manifest = json.loads(open(corpus["files_manifest"]).read())
    assert corpus["files_bytes"] == bc.content_bytes() == corpus["scales"]["1"]["raw_content_bytes"]
    assert len(manifest["paths"]) == len(manifest["langs"]) == corpus["files"] == len(bc.rows()) - 1  # binary row
    assert sum(len(open(p, "rb").read()) for p in manifest["paths"]) == bc.content_bytes()


def test_replicas_scale_bytes_exactly_with_distinct_repos_in_their_shards(prepared):
    raw, corpus = prepared
    one, three = corpus["scales"]["1"], corpus["scales"]["3"]
    assert one["raw_dir"] == str(raw)
    assert three["raw_files"] == 3 * one["raw_files"]
    assert three["raw_content_bytes"] == 3 * one["raw_content_bytes"]
    assert three["sample_text_bytes"] == 3 * one["sample_text_bytes"]
    assert three["repos"] == 3 * one["repos"] == 9
    shards = list_shards(three["raw_dir"])
    assert len(shards) == corpus["n_shards"] == 2
    repos = set()
    for i, path in enumerate(shards):
        table = pq.read_table(path)
        keys = list(zip(table.column("repo").to_pylist(), table.column("path").to_pylist()))
        assert keys == sorted(keys)
        assert all(shard_of(repo, 2) == i for repo, _ in keys)
        repos.update(repo for repo, _ in keys)
    assert repos == {replica_id(r, i) for r in bc.FILES for i in range(3)}


def test_samples_are_the_kept_files_rendered_in_path_order(prepared):
    _, corpus = prepared
    table = pq.read_table(corpus["texts"]).to_pylist()
    by_repo = {row["repo"]: row["text"] for row in table}
    assert sorted(by_repo) == sorted(bc.FILES)
    alpha = bc.FILES["local/alpha"]
    kept = sorted(p for p in alpha if alpha[p] is not None and p != "src/long.py")  # long line: filtered out
    langs = [bc.LANGS["." + p.rsplit(".", 1)[1]] for p in kept]
    assert by_repo["local/alpha"] == render_sample(kept, langs, [alpha[p] for p in kept])


def test_an_existing_raw_directory_is_used_and_a_missing_one_needs_crawl_params(prepared, tmp_path):
    raw, _ = prepared
    found, origin = locate_raw(raw, tmp_path / "work", ["six@1.16.0"], None)
    assert found == raw and "existing" in origin
    with pytest.raises(FileNotFoundError):
        locate_raw(tmp_path / "empty", tmp_path / "work", ["six@1.16.0"], None)
