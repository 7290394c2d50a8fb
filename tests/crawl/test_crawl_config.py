from __future__ import annotations

import pickle
from collections import Counter

import pytest

from tasks.common.params import ParamError
from tasks.crawl.config import DEFAULT_MANIFEST, Config, config_from_params, load_manifest


def test_defaults_read_the_default_manifest():
    cfg = config_from_params({})
    assert cfg.manifest == DEFAULT_MANIFEST and cfg.on_truncated == Config.on_truncated == "drop"
    assert cfg.sources == load_manifest(DEFAULT_MANIFEST)
    assert pickle.loads(pickle.dumps(cfg)) == cfg  # shipped to worker processes
    limits, policy = cfg.limits(), cfg.fetch_policy()
    assert limits.max_file_bytes == cfg.max_file_bytes and policy.retries == cfg.retries


def test_default_manifest_is_a_real_curated_list():
    specs = load_manifest(DEFAULT_MANIFEST)
    assert len(specs) >= 40
    kinds = Counter(s["type"] for s in specs)
    assert kinds["pypi"] >= 15 and kinds["npm"] >= 10
    ids = [(s["type"], s["name"].lower(), s["version"]) for s in specs]
    assert len(set(ids)) == len(ids)  # no entry twice
    versions = Counter((s["type"], s["name"].lower()) for s in specs)
    assert 3 <= sum(1 for n in versions.values() if n >= 2) <= 5  # close-version pairs for near-dedup
    assert all(isinstance(s["version"], str) for s in specs)


def test_inline_sources_and_values():
    cfg = config_from_params({"sources": [{"type": "local", "path": "/x"}], "on_truncated": "keep", "max_ratio": 20,
                              "cache_dir": "/tmp/c", "retries": 0})
    assert cfg.sources == ({"type": "local", "path": "/x"},) and cfg.manifest is None
    assert (cfg.on_truncated, cfg.max_ratio, cfg.cache_dir, cfg.retries) == ("keep", 20.0, "/tmp/c", 0)
    assert not cfg.git_blob_filter and config_from_params({"git_blob_filter": True}).output_params()["git_blob_filter"]


@pytest.mark.parametrize("section,key", [
    ({"n_shards": 8}, "crawl.n_shards"),  # partitions are sized by bytes now (runtime.partition_mb)
    ({"on_truncated": "cut"}, "crawl.on_truncated"),
    ({"max_file_bytes": -3}, "crawl.max_file_bytes"),
    ({"max_ratio": 0.5}, "crawl.max_ratio"),
    ({"timeout_s": 0}, "crawl.timeout_s"),
    ({"retries": True}, "crawl.retries"),
    ({"cache_dir": ""}, "crawl.cache_dir"),
    ({"shards": 4}, "crawl.shards"),
    ({"sources": {"type": "pypi"}}, "crawl.sources"),
    ({"sources": [{"type": "local", "path": "/x"}, {"type": "pypi", "name": "x"}]}, "crawl.sources[1].version"),
    ({"sources": [], "manifest": "m.yaml"}, "crawl.sources"),
    ({"manifest": "/nonexistent/manifest.yaml"}, "crawl.manifest"),
    ({"github": {"enabled": "yes"}}, "crawl.github.enabled"),
    ({"git_blob_filter": "yes"}, "crawl.git_blob_filter"),
])
def test_invalid_values_name_their_key(section, key):
    with pytest.raises(ParamError) as err:
        config_from_params(section)
    assert str(err.value).startswith(key + ":"), str(err.value)


def test_manifest_entries_are_validated_with_their_index(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("- {type: npm, name: ms, version: '2.1.3'}\n- {type: npm, name: ms, version: 2.0}\n")
    with pytest.raises(ParamError) as err:
        config_from_params({"manifest": str(path)})
    assert str(err.value).startswith("crawl.manifest[1].version:")
    path.write_text("sources:\n  - {type: npm, name: ms, version: '2.1.3'}\n")
    assert config_from_params({"manifest": str(path)}).sources == (
        {"type": "npm", "name": "ms", "version": "2.1.3"},)
    path.write_text("just: [a, mapping")
    with pytest.raises(ParamError, match="^crawl.manifest: .*not valid YAML"):
        config_from_params({"manifest": str(path)})
