"""run_gate with Great Expectations: good tables pass, skewed ones fail, Data Docs are written."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from expectations import GateFailed, enforce, run_gate, suites

SUPPORTED = {"Python", "Go", "JavaScript"}
SHARES = {"Python": [0.3, 0.8], "default": [0.0, 0.5]}
RATES = {"pass_rate_bytes": {"min": 0.2, "max": 0.95}, "pass_rate_files": {"min": 0.3, "max": 1.0}}


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("reports"))  # one GX project for the module (import and init once)


def mix_gate(reports, table):
    return run_gate("filter_language_mix", table, suites.language_mix(SHARES, SUPPORTED, table), reports)


def test_good_tables_pass_and_docs_are_built(reports):
    rates = pd.DataFrame([{"pass_rate_bytes": 0.6, "pass_rate_files": 0.95}])
    result = enforce(run_gate("filter_pass_rate", rates, suites.filter_pass_rate(RATES, rates), reports))
    assert result.success and result.results and all(r["success"] for r in result.results)
    observed = {r["column"]: r["observed"] for r in result.results if r["column"]}
    assert observed == {"pass_rate_bytes": 0.6, "pass_rate_files": 0.95}

    shares = pd.DataFrame({"lang": ["Go", "JavaScript", "Python"], "share": [0.2, 0.1, 0.7]})
    mix = enforce(mix_gate(reports, shares))
    assert mix.docs_path and Path(mix.docs_path).name == "index.html" and Path(mix.docs_path).is_file()
    assert Path(mix.docs_path).parent == Path(reports).resolve() / "data_docs"
    assert (Path(reports) / "gx" / "expectations" / "filter_language_mix.json").is_file()


def test_skewed_corpus_fails(reports):
    # Python share above its band, Go above the default band, Cobol not a supported language.
    skewed = pd.DataFrame({"lang": ["Cobol", "Go", "Python"], "share": [0.05, 0.1, 0.85]})
    result = mix_gate(reports, skewed)
    assert not result.success
    failed = {(r["expectation"], r["condition"]) for r in result.failures()}
    assert ("expect_column_values_to_be_in_set", None) in failed
    assert ("expect_column_max_to_be_between", "lang == 'Python'") in failed
    assert not any(cond == "lang == 'Go'" for _, cond in failed)
    with pytest.raises(GateFailed) as err:
        enforce(result)
    assert err.value.result is result and "Cobol" in str(err.value)


def test_pass_rate_out_of_band_fails(reports):
    rates = pd.DataFrame([{"pass_rate_bytes": 0.99, "pass_rate_files": 0.1}])
    result = run_gate("filter_pass_rate", rates, suites.filter_pass_rate(RATES, rates), reports)
    assert not result.success
    assert {r["column"] for r in result.failures()} == {"pass_rate_bytes", "pass_rate_files"}
    assert Path(result.docs_path).is_file()
