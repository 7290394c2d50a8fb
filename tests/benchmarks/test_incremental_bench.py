"""benchmarks.incremental: the new sources of night 2 and the RESULTS.md sections `make bench` keeps."""
from __future__ import annotations

import json

from benchmarks import incremental as inc


def _key(spec: dict) -> tuple:
    return spec["type"], spec["name"]


def test_night_two_adds_five_percent_new_sources_of_the_base_mean_size():
    for base, n_base in (("1x", 78), ("4x", 390)):
        sources, mean_kib = inc.base_sources(base)
        assert len(sources) == n_base
        added = inc.extra_sources(round(0.05 * n_base), mean_kib, inc.BASES[base]["extra_from"])
        assert len(added) == round(0.05 * n_base)
        assert not {_key(s) for s in added} & {_key(s) for s in sources}, "night 2's sources must be new"
        sizes = dict((_key(spec), kib) for kib, spec in inc.sized_part(inc.BASES[base]["extra_from"]))
        mean_added = sum(sizes[_key(s)] for s in added) / len(added)
        assert abs(mean_added - mean_kib) / mean_kib < 0.25, "the delta is ~5% by bytes too, not the smallest"


def _results(base: str) -> dict:
    stage = {"cpu_s": 2.0, "wall_s": 1.0, "reused": 3, "computed": 1}
    return {"base": base, "finished_at": "2026-12-06T00:00:00+00:00", "git_commit": "abc", "loadavg": 1.0,
            "sources": {"night1": 78, "added": ["pypi/x@1"]}, "partition_mb": 2.0, "delta": {"added": 1},
            "night2": {s: stage for s in inc.DATA}, "scratch": {s: {**stage, "cpu_s": 8.0} for s in inc.DATA},
            "cpu": {"incremental": 16.0, "scratch": 64.0, "ratio": 0.25, "target": inc.TARGET},
            "identical_outputs": {s: True for s in inc.DATA}, "dedup_decisions_identical": True}


def test_make_bench_keeps_both_sections(tmp_path, monkeypatch):
    for base in inc.BASES:
        path = tmp_path / f"{base}.json"
        path.write_text(json.dumps(_results(base)))
        monkeypatch.setitem(inc.BASES[base], "json", path)
    md = inc.with_sections("# Results\n\n## Peers\n\np\n")
    assert md.count(inc.BASES["1x"]["heading"] + "\n") == 1 and md.count(inc.BASES["4x"]["heading"] + "\n") == 1
    assert "**25%** (target <= 25%: met)" in md and "## Peers\n\np" in md
    assert inc.with_sections(md) == md


def test_a_ratio_over_nothing_is_not_a_figure():
    results = _results("1x")
    results["cpu"].update(scratch=0.0, ratio=None)
    md = inc.render(results)
    assert "**n/a** (target <= 25%: not measured" in md and "met)" not in md
