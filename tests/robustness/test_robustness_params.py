"""Malformed params.yaml values fail a stage at start: `python -m flows.<stage>` exits 2 and stderr names
the dotted key. One case per stage section, of each kind: negative thresholds, out-of-range values, an
unknown language in a gate, an unknown source type, an unknown key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from robustness_support import run_flow, set_params

from tests.support.project import make_project

BASE = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())

# stage -> (params update, the dotted key stderr must name)
CASES = {
    "crawl": ({"crawl": {"manifest": None, "sources": [{"type": "ftp", "name": "x", "url": "ftp://127.0.0.1/x"}]}},
              "crawl.sources[0].type"),
    "filter": ({"filter": {"gate": {"language_share": {"Klingon": [0.0, 1.0]}}}},
               "filter.gate.language_share.Klingon"),
    "order": ({"order": {"max_parse_bytes": -1}}, "order.max_parse_bytes"),
    "dedup": ({"dedup": {"threshold": 1.5}}, "dedup.threshold"),
    "quality": ({"quality": {"syntax": {"max_error_share": -0.1}}}, "quality.syntax.max_error_share"),
    "tokenizer": ({"tokenizer": {"vocab_size": -5}}, "tokenizer.vocab_size"),
    "pack": ({"pack": {"seq_len": -1}}, "pack.seq_len"),
    "pretrain": ({"pretrain": {"no_such_knob": 3}}, "pretrain.no_such_knob"),
    "evaluate": ({"evaluate": {"timeout_s": -1.0}}, "evaluate.timeout_s"),
    "report": ({"report": {"top_languages": -1}}, "report.top_languages"),
    "oss_instruct": ({"oss_instruct": {"quotas": {"Klingon": 3}}}, "oss_instruct.quotas.Klingon"),
    "sft": ({"sft": {"lr": -1.0}}, "sft.lr"),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("params-project"))


FAST = {"crawl", "filter", "dedup"}  # each case is a ~10 s flow start; the rest run with the e2e tests


@pytest.mark.parametrize("stage", [s if s in FAST else pytest.param(s, marks=pytest.mark.soak) for s in sorted(CASES)])
def test_bad_param_fails_at_start_naming_the_key(stage: str, project: Path, prefect_api_url: str) -> None:
    update, key = CASES[stage]
    (project / "params.yaml").write_text(yaml.safe_dump(BASE, sort_keys=False))
    set_params(project, update)
    before = sorted(p.name for p in (project / "data").iterdir()) if (project / "data").exists() else []
    proc = run_flow(project, stage, timeout=240)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("params.yaml: ")]
    assert lines and key in lines[-1], proc.stderr[-3000:]
    # it failed before doing any work: no new output appeared
    after = sorted(p.name for p in (project / "data").iterdir()) if (project / "data").exists() else []
    assert after == before
