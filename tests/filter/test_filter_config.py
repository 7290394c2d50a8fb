"""params.yaml `filter` section: defaults, validation with dotted key names, gate bands."""
from __future__ import annotations

import pickle

import pytest

from tasks.common.params import ParamError
from tasks.filter import Config, config_from_params

SUPPORTED = ["Python", "Go", "HTML"]

FULL = {
    "max_avg_line_length": 100, "max_line_length": 1000, "min_alpha_fraction": 0.25,
    "xml_header_window": 100, "html_min_visible_fraction": 0.2, "html_min_visible_chars": 100,
    "json_yaml_min_chars": 50, "json_yaml_max_chars": 5000,
    "gate": {"pass_rate_bytes": {"min": 0.2, "max": 0.95}, "pass_rate_files": {"min": 0.3, "max": 1.0},
             "language_share": {"default": [0, 0.5], "Python": [0.1, 0.9]}},
}


def test_full_section_and_defaults():
    cfg = config_from_params(FULL, SUPPORTED)
    assert cfg.max_line_length == 1000 and cfg.json_yaml_max_chars == 5000
    assert cfg.gate.pass_rate_bytes == (0.2, 0.95)
    assert cfg.gate.share_bounds() == {"Python": [0.1, 0.9], "default": [0.0, 0.5]}
    assert cfg.supported() == frozenset(SUPPORTED)
    bare = config_from_params({}, SUPPORTED)
    assert (bare.max_avg_line_length, bare.min_alpha_fraction, bare.html_min_visible_fraction) == (100, 0.25, 0.2)
    assert pickle.loads(pickle.dumps(cfg)) == cfg  # shipped to worker processes


@pytest.mark.parametrize("patch, message", [
    ({"max_line_length": -3}, "filter.max_line_length: must be > 0, got -3"),
    ({"max_line_length": 10.5}, "filter.max_line_length: expected an integer"),
    ({"max_avg_line_length": 0}, "filter.max_avg_line_length: must be > 0"),
    ({"min_alpha_fraction": 1.5}, "filter.min_alpha_fraction: must be <= 1"),
    ({"min_alpha_fraction": True}, "filter.min_alpha_fraction: expected a number"),
    ({"xml_header_window": -1}, "filter.xml_header_window: must be >= 0"),
    ({"html_min_visible_fraction": "0.2"}, "filter.html_min_visible_fraction: expected a number"),
    ({"html_min_visible_chars": -5}, "filter.html_min_visible_chars: must be >= 0"),
    ({"json_yaml_min_chars": 60, "json_yaml_max_chars": 50},
     "filter.json_yaml_max_chars: must be >= json_yaml_min_chars"),
    ({"max_line_lenght": 1000}, "filter.max_line_lenght: unknown key"),
    ({"gate": {"pass_rate_bytes": {"min": 0.9, "max": 0.1}}}, "filter.gate.pass_rate_bytes: min must be <= max"),
    ({"gate": {"pass_rate_files": {"min": -0.1}}}, "filter.gate.pass_rate_files.min: must be >= 0"),
    ({"gate": {"pass_rate_files": {"mni": 0.1}}}, "filter.gate.pass_rate_files.mni: unknown key"),
    ({"gate": {"language_share": {"Pyhton": [0, 1]}}},
     "filter.gate.language_share.Pyhton: not a supported language"),
    ({"gate": {"language_share": {"Python": [0.5]}}}, "filter.gate.language_share.Python: expected"),
    ({"gate": {"language_share": {"Python": [0.6, 1], "Go": [0.6, 1]}}}, "filter.gate.language_share: the lower bounds"),
    ({"gate": {"language_share": {"default": [0, 2]}}}, "filter.gate.language_share.default: must be <= 1"),
    ({"gate": {"thresholds": {}}}, "filter.gate.thresholds: unknown key"),
    ({"html_languages": "HTML"}, "filter.html_languages: expected a list"),
])
def test_invalid_values_name_their_key(patch, message):
    section = {**FULL, **patch}
    with pytest.raises(ParamError) as err:
        config_from_params(section, SUPPORTED)
    assert str(err.value).startswith(message)


def test_section_must_be_a_mapping():
    with pytest.raises(ParamError, match=r"^filter: section must be a mapping"):
        config_from_params([1, 2], SUPPORTED)


def test_supported_list_from_section_or_crawl():
    cfg = config_from_params({"supported_languages": ["Go"]})
    assert cfg.supported() == frozenset({"Go"})
    crawl = pytest.importorskip("tasks.crawl.languages")
    assert Config().supported() == frozenset(crawl.SUPPORTED_LANGUAGES)
