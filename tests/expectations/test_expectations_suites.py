"""Suite builders: plain expectation dicts, no Great Expectations import needed."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from expectations import suites


def test_value_between_is_min_and_max_in_band():
    exps = suites.value_between("x", 0.1, 0.9, where=("lang", "C++"))
    assert [e["type"] for e in exps] == ["expect_column_min_to_be_between", "expect_column_max_to_be_between"]
    for e in exps:
        assert e["kwargs"]["min_value"] == 0.1 and e["kwargs"]["max_value"] == 0.9
        assert e["kwargs"]["row_condition"]["parameter"] == "C++"


def test_filter_pass_rate_bands_per_metric_or_shared():
    per = suites.filter_pass_rate({"pass_rate_bytes": {"min": 0.2, "max": 0.9}, "pass_rate_files": [0.3, 1.0]})
    bands = {(e["kwargs"].get("column"), e["kwargs"].get("min_value"), e["kwargs"].get("max_value")) for e in per}
    assert ("pass_rate_bytes", 0.2, 0.9) in bands and ("pass_rate_files", 0.3, 1.0) in bands
    shared = suites.filter_pass_rate({"min": 0.5, "max": 0.6})
    assert {e["kwargs"].get("min_value") for e in shared if "column" in e["kwargs"]} == {0.5}
    with pytest.raises(KeyError, match="pass_rate_files"):
        suites.filter_pass_rate({"min": 0, "max": 1}, pd.DataFrame({"pass_rate_bytes": [0.5]}))


def test_language_mix_bands_default_and_required():
    table = pd.DataFrame({"lang": ["Go", "Python"], "share": [0.3, 0.7]})
    exps = suites.language_mix({"Python": [0.5, 0.9], "Rust": [0.1, 1], "Java": [0, 1], "default": [0, 0.4]},
                               {"Go", "Python", "Rust", "Java"}, table)
    in_set = [e for e in exps if e["type"] == "expect_column_values_to_be_in_set"]
    assert in_set[0]["kwargs"]["value_set"] == ["Go", "Java", "Python", "Rust"]
    required = [e for e in exps if e["type"] == "expect_column_distinct_values_to_contain_set"]
    assert required[0]["kwargs"]["value_set"] == ["Python", "Rust"]  # bands start above 0; Java's does not
    per_lang = {e["kwargs"]["row_condition"]["parameter"]: (e["kwargs"]["min_value"], e["kwargs"]["max_value"])
                for e in exps if "row_condition" in e["kwargs"]}
    assert per_lang == {"Go": (0, 0.4), "Python": (0.5, 0.9)}


def test_importing_gates_and_suites_does_not_import_great_expectations():
    code = ("import sys, expectations, expectations.suites, expectations.gates, tasks.filter; "
            "sys.exit('great_expectations' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2]).returncode == 0
