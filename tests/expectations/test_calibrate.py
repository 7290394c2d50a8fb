"""`python -m flows.calibrate`: bands from an accepted run's metrics into params.yaml, the rest of the file
untouched; the accepted snapshot; gate modes. No Great Expectations, no Prefect: fast."""
from __future__ import annotations

import difflib
import hashlib
import json
import re

import pytest
import yaml

from expectations.baseline import (GatePolicy, accepted_path, drift_rows, load_accepted, observe, policy_from_params,
                                   save_accepted)
from expectations.calibration import band, rewrite_gates
from flows import calibrate
from tasks.common.params import ParamError
from tests.expectations.gate_testkit import GATED_STAGES, gate_block_lines, make_project, stage_metrics, write_metrics


def test_band_is_observed_plus_margin_rounded_outward_and_clipped():
    assert band(0.42, 0.05) == [0.37, 0.47]
    assert band(0.60713, 0.05) == [0.557, 0.658]  # outward: the observed value always passes
    assert band(0.02, 0.05) == [0.0, 0.07] and band(0.98, 0.05) == [0.93, 1.0]
    assert band(0.5, 0.0) == [0.5, 0.5]


def test_calibration_writes_observed_bands_and_keeps_the_rest_of_params(tmp_path, capsys):
    root = make_project(tmp_path, stage_metrics())
    old = (root / "params.yaml").read_text()

    assert calibrate.main(["--root", str(root)]) == 0
    new = (root / "params.yaml").read_text()
    params = yaml.safe_load(new)
    f = params["filter"]["gate"]
    assert f["pass_rate_bytes"] == {"min": 0.37, "max": 0.47}
    assert f["pass_rate_files"] == {"min": 0.5, "max": 0.6}
    # every language of the run gets its band, most common first; C and JavaScript (absent) fall to default
    assert list(f["language_share"].items()) == [("Go", [0.65, 0.75]), ("Python", [0.23, 0.33]),
                                                 ("Shell", [0.0, 0.07]), ("default", [0.0, 0.05])]
    assert params["order"]["gate"]["min_resolution_rate"] == 0.26
    assert params["dedup"]["gate"]["dropped_share"] == [0.07, 0.17]
    assert params["quality"]["gate"]["max_removed_file_share"] == 0.25
    assert params["quality"]["gate"]["max_contaminated_files"] is None  # a count: not calibrated
    assert all(params[s]["gate"]["mode"] == "enforce" for s in GATED_STAGES)
    assert params["filter"]["gate"]["drift"] == yaml.safe_load(old)["filter"]["gate"]["drift"]

    # nothing but the gate blocks changed: same params otherwise, every other line (comments too) byte-identical
    before, after = yaml.safe_load(old), yaml.safe_load(new)
    for stage in GATED_STAGES:
        before[stage].pop("gate"), after[stage].pop("gate")
    assert before == after
    old_lines, gates = old.splitlines(), gate_block_lines(old)
    matcher = difflib.SequenceMatcher(a=old_lines, b=new.splitlines(), autojunk=False)
    touched = {i for op, i1, i2, _, _ in matcher.get_opcodes() if op != "equal" for i in range(i1, max(i2, i1 + 1))}
    assert touched and touched <= gates
    # comments inside the gate blocks stay, with the observed value beside each band
    assert "# share of repositories dropped (default run: 0.064); observed 0.12" in new
    assert "Reference: the paper keeps 32.8% of its crawl" in new
    assert re.search(r"\n      Python: \[0\.23, 0\.33\] +# observed 0\.28\n", new)
    assert "accepted snapshot expectations/accepted/filter.json (new)" in capsys.readouterr().out

    # the accepted snapshot: the values the gates judge, and which metrics file they came from
    snap = load_accepted("filter", root)
    assert snap["values"] == observe("filter", stage_metrics()["filter"])
    assert snap["source"]["md5"] == hashlib.md5((root / "metrics/filter.json").read_bytes()).hexdigest()
    assert snap["source"]["dvc_lock"] == "recorded in dvc.lock"

    # calibrating the same run again changes nothing
    assert calibrate.main(["--root", str(root)]) == 0
    assert (root / "params.yaml").read_text() == new
    assert "(unchanged)" in capsys.readouterr().out


def test_dry_run_shows_the_diff_and_writes_nothing(tmp_path, capsys):
    root = make_project(tmp_path, stage_metrics())
    old = (root / "params.yaml").read_text()
    assert calibrate.main(["--root", str(root), "--dry-run", "--stages", "dedup", "--margin", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "+    dropped_share: [0.02, 0.22]" in out and "dry run: nothing written" in out
    assert (root / "params.yaml").read_text() == old and not accepted_path("dedup", root).exists()


def test_no_accepted_run_is_a_clear_error(tmp_path, capsys):
    root = make_project(tmp_path)
    old = (root / "params.yaml").read_text()
    assert calibrate.main(["--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert "no metrics/filter.json" in err and "python -m flows.calibrate warn && dvc repro" in err
    # a named stage without metrics is an error even when others have them; nothing is written
    write_metrics(root, {"filter": stage_metrics()["filter"]})
    assert calibrate.main(["--root", str(root), "--stages", "filter", "order"]) == 1
    assert "no metrics/order.json" in capsys.readouterr().err
    assert (root / "params.yaml").read_text() == old
    # unnamed: the stages that have metrics are calibrated, the others named as skipped
    assert calibrate.main(["--root", str(root)]) == 0
    assert "order: skipped, no metrics/order.json" in capsys.readouterr().out
    assert yaml.safe_load((root / "params.yaml").read_text())["order"]["gate"]["min_resolution_rate"] == 0.2


def test_metrics_dvc_lock_does_not_record_are_refused_unless_unlocked(tmp_path, capsys):
    root = make_project(tmp_path, stage_metrics())
    (root / "metrics/dedup.json").write_text(json.dumps(stage_metrics(dropped=0.4)["dedup"]))
    assert calibrate.main(["--root", str(root), "--stages", "dedup"]) == 1
    assert "not the one dvc.lock records" in capsys.readouterr().err
    assert calibrate.main(["--root", str(root), "--stages", "dedup", "--unlocked"]) == 0
    assert yaml.safe_load((root / "params.yaml").read_text())["dedup"]["gate"]["dropped_share"] == [0.35, 0.45]
    assert load_accepted("dedup", root)["source"]["dvc_lock"] == "not in dvc.lock"


def test_mode_actions_and_accept_only(tmp_path):
    from tasks.dedup.config import config_from_params as dedup_config
    from tasks.filter.config import config_from_params as filter_config
    from tasks.quality.config import config_from_params as quality_config

    root = make_project(tmp_path, stage_metrics())
    assert calibrate.main(["warn", "--root", str(root)]) == 0
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert filter_config(params["filter"]).gate.policy.mode == "warn"
    assert dedup_config(params["dedup"]).gate_policy.mode == "warn"
    assert quality_config(params["quality"]).gate.policy.mode == "warn"
    assert policy_from_params("order", params["order"]["gate"]).mode == "warn"
    assert not accepted_path("filter", root).exists()

    before = (root / "params.yaml").read_text()
    assert calibrate.main(["accept", "--root", str(root), "--stages", "order"]) == 0
    assert (root / "params.yaml").read_text() == before  # accept only snapshots
    assert load_accepted("order", root)["values"] == {"resolution_rate": 0.31}
    assert calibrate.main(["enforce", "--root", str(root), "--stages", "filter"]) == 0
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert params["filter"]["gate"]["mode"] == "enforce" and params["dedup"]["gate"]["mode"] == "warn"


def test_unsupported_languages_get_no_band(tmp_path, capsys):
    root = make_project(tmp_path, stage_metrics(shares={"Python": 0.9, "Klingon": 0.1}))
    assert calibrate.main(["bands", "--root", str(root), "--stages", "filter"]) == 0
    assert "no band for Klingon" in capsys.readouterr().out
    assert set(yaml.safe_load((root / "params.yaml").read_text())["filter"]["gate"]["language_share"]) == \
        {"Python", "default"}


def test_rewrite_adds_missing_gate_sections_and_refuses_inline_ones():
    text = "# top\nfilter:\n  max_line_length: 1000   # keep\n  gate: null\norder:\n  max_parse_bytes: 10\n\n# tail\n"
    new = rewrite_gates(text, {"filter": {"mode": "warn"}, "order": {"min_resolution_rate": 0.1}},
                        {"order": {"min_resolution_rate": "observed 0.15"}})
    assert yaml.safe_load(new) == {"filter": {"max_line_length": 1000, "gate": {"mode": "warn"}},
                                   "order": {"max_parse_bytes": 10, "gate": {"min_resolution_rate": 0.1}}}
    assert new.startswith("# top\nfilter:\n  max_line_length: 1000   # keep\n") and new.endswith("\n\n# tail\n")
    assert "observed 0.15" in new
    with pytest.raises(ValueError, match="inline"):
        rewrite_gates("dedup:\n  gate: {dropped_share: [0, 1]}\n", {"dedup": {"mode": "warn"}})


def test_accepted_snapshot_round_trips(tmp_path):
    values = observe("filter", stage_metrics()["filter"])
    source = {"metrics": "metrics/filter.json", "md5": "0" * 32, "dvc_lock": "recorded in dvc.lock"}
    path = save_accepted("filter", values, source, tmp_path)
    assert path == tmp_path / "expectations" / "accepted" / "filter.json"
    assert load_accepted("filter", tmp_path) == {"stage": "filter", "values": values, "source": source}
    assert load_accepted("dedup", tmp_path) is None
    path.write_text(json.dumps({"stage": "dedup", "values": {}}))
    with pytest.raises(ValueError, match="not an accepted snapshot of stage filter"):
        load_accepted("filter", tmp_path)


def test_policy_validation_names_the_key():
    assert policy_from_params("filter", {"mode": "warn", "drift": {"language_share": 0.1, "pass_rate_files": None}}) \
        == GatePolicy(mode="warn", drift=(("language_share", 0.1),))
    bad = [({"mode": "strict"}, "filter.gate.mode: unknown value"),
           ({"drift": {"pass_rate": 0.1}}, "filter.gate.drift.pass_rate: unknown key"),
           ({"drift": {"language_share": 2}}, "filter.gate.drift.language_share: expected a share"),
           ({"drift": [0.1]}, "filter.gate.drift: expected a mapping")]
    for gate, message in bad:
        with pytest.raises(ParamError, match=message.replace(".", r"\.")):
            policy_from_params("filter", gate)
    with pytest.raises(ParamError, match=r"order\.gate\.min_resolution_rte: unknown key"):
        policy_from_params("order", {"min_resolution_rte": 0.1}, bands=("min_resolution_rate",))


def test_drift_rows_count_new_and_vanished_languages_from_zero():
    accepted = {"pass_rate_bytes": 0.60, "language_share": {"Python": 0.7, "C": 0.3}}
    observed = {"pass_rate_bytes": 0.65, "pass_rate_files": 0.5, "language_share": {"Python": 0.9, "Go": 0.1}}
    check = drift_rows(observed, accepted, {"pass_rate_bytes": 0.05, "pass_rate_files": 0.05, "language_share": 0.1})
    moves = {r["metric"]: r["move"] for r in check.rows}
    assert moves == {"language_share[C]": -0.3, "language_share[Go]": 0.1, "language_share[Python]": 0.2,
                     "pass_rate_bytes": 0.05}  # rounded: 0.65 - 0.60 is not more than 0.05
    assert check.notes == ["pass_rate_files: the accepted snapshot has no value for it; not checked"]
