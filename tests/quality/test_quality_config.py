import pytest

from tasks.common.params import ParamError
from tasks.quality.config import Config, config_from_params


def test_empty_section_gives_defaults():
    cfg = config_from_params({})
    assert cfg == Config()
    assert cfg.decontam.ngram == 10 and cfg.decontam.min_short_ngrams == 3
    assert cfg.scorer.enabled is False
    assert {b.name for b in cfg.decontam.benchmarks} >= {"humaneval", "mbpp", "gsm8k", "math"}


def test_values_are_read():
    cfg = config_from_params({
        "syntax": {"max_error_share": 0.2, "python2": "keep", "reparse_share": 0.1},
        "heuristics": {"max_function_lines": 50, "long_function_zlib_ratio": 1.0, "generated_markers": ["DO NOT EDIT"]},
        "decontam": {"ngram": 8, "unit": "token", "normalise": {"lowercase": False},
                     "benchmarks": [{"name": "mine", "path": "x.jsonl", "fields": ["q", "a"], "join": False}]},
        "gate": {"max_contaminated_files": 5},
    })
    assert cfg.syntax.max_error_share == 0.2 and cfg.syntax.python2 == "keep" and cfg.syntax.reparse_share == 0.1
    assert cfg.heuristics.max_function_lines == 50 and cfg.heuristics.long_function_zlib_ratio == 1.0
    assert cfg.heuristics.generated_markers == ("do not edit",)
    assert cfg.decontam.ngram == 8 and cfg.decontam.unit == "token" and cfg.decontam.lowercase is False
    assert cfg.decontam.benchmarks[0].fields == ("q", "a") and cfg.decontam.benchmarks[0].join is False
    assert cfg.gate.max_contaminated_files == 5


@pytest.mark.parametrize("section, key", [
    ({"syntax": {"max_error_share": 1.5}}, "quality.syntax.max_error_share"),
    ({"syntax": {"python2": "maybe"}}, "quality.syntax.python2"),
    ({"syntax": {"enabled": "yes"}}, "quality.syntax.enabled"),
    ({"heuristics": {"max_function_lines": -3}}, "quality.heuristics.max_function_lines"),
    ({"heuristics": {"long_function_zlib_ratio": 1.5}}, "quality.heuristics.long_function_zlib_ratio"),
    ({"syntax": {"reparse_share": -0.1}}, "quality.syntax.reparse_share"),
    ({"heuristics": {"generated_markers": "x"}}, "quality.heuristics.generated_markers"),
    ({"heuristics": {"bogus": 1}}, "quality.heuristics.bogus"),
    ({"scorer": {"enabled": True}}, "quality.scorer.model_path"),
    ({"scorer": {"threshold": 2}}, "quality.scorer.threshold"),
    ({"decontam": {"ngram": 0}}, "quality.decontam.ngram"),
    ({"decontam": {"ngram": 5, "min_short_ngrams": 6}}, "quality.decontam.min_short_ngrams"),
    ({"decontam": {"unit": "char"}}, "quality.decontam.unit"),
    ({"decontam": {"normalise": {"strip": True}}}, "quality.decontam.normalise.strip"),
    ({"decontam": {"benchmarks": [{"name": "a", "path": "p"}]}}, "quality.decontam.benchmarks[0].fields"),
    ({"decontam": {"benchmarks": [{"name": "a", "fields": ["x"]}]}}, "quality.decontam.benchmarks[0].path"),
    ({"decontam": {"benchmarks": [{"name": "a", "path": "p", "fields": ["x"]},
                                  {"name": "a", "path": "q", "fields": ["x"]}]}},
     "quality.decontam.benchmarks[1].name"),
    ({"gate": {"max_contaminated_files": -1}}, "quality.gate.max_contaminated_files"),
    ({"typo": {}}, "quality.typo"),
])
def test_bad_values_name_their_key(section, key):
    with pytest.raises(ParamError) as err:
        config_from_params(section)
    assert str(err.value).startswith(key + ":"), str(err.value)
