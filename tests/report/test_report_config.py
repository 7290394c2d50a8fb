"""The `report` params section: defaults, and every bad value named by its dotted key."""
from __future__ import annotations

import pytest

from tasks.common.params import ParamError
from tasks.report import Config, config_from_params


def test_defaults_and_overrides() -> None:
    assert config_from_params(None) == Config() == config_from_params({})
    cfg = config_from_params({"top_languages": 5, "prefect_ui_url": "http://prefect.local:4200/", "max_rows": 3})
    assert (cfg.top_languages, cfg.prefect_ui_url, cfg.max_rows) == (5, "http://prefect.local:4200", 3)


@pytest.mark.parametrize("section, key", [
    ({"top_languages": 0}, "report.top_languages: must be > 0"),
    ({"top_languages": True}, "report.top_languages: expected int"),
    ({"max_rows": "10"}, "report.max_rows: expected int"),
    ({"plots_dir": ""}, "report.plots_dir: expected a non-empty path"),
    ({"prefect_ui_url": "prefect.local"}, "report.prefect_ui_url: expected null or an http(s) URL"),
    ({"top_langs": 3}, "report.top_langs: unknown key"),
])
def test_bad_values_name_their_key(section, key) -> None:
    with pytest.raises(ParamError) as err:
        config_from_params(section)
    assert str(err.value).startswith(key)


def test_section_must_be_a_mapping() -> None:
    with pytest.raises(ParamError, match=r"^report: expected a mapping"):
        config_from_params(["top_languages"])  # type: ignore[arg-type]
