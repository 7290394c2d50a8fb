from __future__ import annotations

import pytest

from tasks.common.params import ParamError
from tasks.evaluate.config import BENCHMARKS, Config, config_from_params


def test_defaults_are_the_dataclass_defaults() -> None:
    cfg = config_from_params({})
    assert cfg == Config()
    assert cfg.benchmarks == BENCHMARKS and cfg.limit_for("humaneval") is None


def test_full_section_round_trips() -> None:
    cfg = config_from_params({
        "benchmarks": ["humaneval", "val_ppl"], "limit": {"humaneval": 20, "val_ppl": None},
        "max_new_tokens": 64, "batch_size": 4, "temperature": 0.8, "top_p": 0.9, "n_samples": 10, "k": [10, 1],
        "seed": 7, "timeout_s": 3, "memory_mb": 256, "workers": 3, "device": "auto", "dtype": "bfloat16",
        "max_seq_len": 1024, "fim": {"mode": "exec", "stop_at_newline": True},
        "validation": {"packed_dir": None, "heldout_dir": "data/heldout", "max_docs": 5},
        "sandbox": {"isolate": False, "nproc": 8},
    })
    assert cfg.benchmarks == ("humaneval", "val_ppl")
    assert cfg.limit_for("humaneval") == 20 and cfg.limit_for("mbpp") is None
    assert cfg.k == (1, 10) and cfg.temperature == 0.8 and cfg.timeout_s == 3.0
    assert cfg.fim.mode == "exec" and cfg.fim.stop_at_newline
    assert cfg.validation.packed_dir is None and cfg.validation.max_docs == 5
    assert cfg.sandbox.isolate is False and cfg.sandbox.nproc == 8 and cfg.sandbox.audit_guard


def test_int_limit_applies_to_every_benchmark() -> None:
    cfg = config_from_params({"limit": 5, "benchmarks": ["mbpp", "humaneval_fim"]})
    assert cfg.limit_for("mbpp") == 5 and cfg.limit_for("humaneval_fim") == 5


@pytest.mark.parametrize("section,key", [
    ({"max_new_tokens": -3}, "evaluate.max_new_tokens"),
    ({"batch_size": 0}, "evaluate.batch_size"),
    ({"benchmarks": ["humaneval", "gsm8k"]}, "evaluate.benchmarks"),
    ({"benchmarks": "humaneval"}, "evaluate.benchmarks"),
    ({"limit": 0}, "evaluate.limit"),
    ({"limit": {"nope": 3}}, "evaluate.limit.nope"),
    ({"limit": {"mbpp": -1}}, "evaluate.limit.mbpp"),
    ({"temperature": -0.1}, "evaluate.temperature"),
    ({"n_samples": 5}, "evaluate.n_samples"),  # greedy with 5 samples
    ({"k": [1, 10], "n_samples": 5, "temperature": 0.8}, "evaluate.k"),
    ({"k": []}, "evaluate.k"),
    ({"top_p": 0}, "evaluate.top_p"),
    ({"timeout_s": 0}, "evaluate.timeout_s"),
    ({"memory_mb": 8}, "evaluate.memory_mb"),
    ({"workers": True}, "evaluate.workers"),
    ({"device": "tpu"}, "evaluate.device"),
    ({"dtype": "int8"}, "evaluate.dtype"),
    ({"max_seq_len": 4}, "evaluate.max_seq_len"),
    ({"fim": {"mode": "fuzzy"}}, "evaluate.fim.mode"),
    ({"fim": {"typo": 1}}, "evaluate.fim.typo"),
    ({"validation": {"max_docs": 0}}, "evaluate.validation.max_docs"),
    ({"validation": {"packed_dir": 3}}, "evaluate.validation.packed_dir"),
    ({"sandbox": {"nproc": 0}}, "evaluate.sandbox.nproc"),
    ({"sandbox": {"isolate": "yes"}}, "evaluate.sandbox.isolate"),
    ({"unknown_key": 1}, "evaluate.unknown_key"),
    ({"max_new_tokens_by_benchmark": {"leetcode": 0}}, "evaluate.max_new_tokens_by_benchmark.leetcode"),
    ({"max_new_tokens_by_benchmark": {"gsm8k": 9}}, "evaluate.max_new_tokens_by_benchmark.gsm8k"),
    ({"multilingual": {"languages": ["cpp", "go"]}}, "evaluate.multilingual.languages"),
    ({"multilingual": {"languages": ["js", "js"]}}, "evaluate.multilingual.languages"),
    ({"multilingual": {"fim_languages": ["ts"]}}, "evaluate.multilingual.fim_languages"),
    ({"multilingual": {"timeout_s": 0}}, "evaluate.multilingual.timeout_s"),
    ({"multilingual": {"memory_mb": 1}}, "evaluate.multilingual.memory_mb"),
    ({"multilingual": {"typo": 1}}, "evaluate.multilingual.typo"),
    ({"sandbox": {"exec_unisolated": "no"}}, "evaluate.sandbox.exec_unisolated"),
])
def test_bad_values_name_their_key(section: dict, key: str) -> None:
    with pytest.raises(ParamError) as err:
        config_from_params(section)
    assert str(err.value).startswith(key + ":"), str(err.value)


def test_paper_suite_keys_round_trip() -> None:
    cfg = config_from_params({
        "benchmarks": ["humaneval", "humaneval_multilingual", "fim_multilingual", "leetcode"],
        "limit": {"humaneval_multilingual": 2, "leetcode": None}, "max_new_tokens": 500,
        "max_new_tokens_by_benchmark": {"leetcode": 1024},
        "multilingual": {"languages": ["cpp", "sh"], "fim_languages": ["java"], "timeout_s": 30, "memory_mb": 4096,
                         "leetcode_timeout_s": 12, "data_dir": "elsewhere"},
        "sandbox": {"exec_unisolated": True},
    })
    assert cfg.tokens_for("leetcode") == 1024 and cfg.tokens_for("humaneval") == 500
    assert cfg.limit_for("humaneval_multilingual") == 2 and cfg.limit_for("leetcode") is None
    ml = cfg.multilingual
    assert (ml.languages, ml.fim_languages, ml.timeout_s, ml.memory_mb, ml.leetcode_timeout_s, ml.data_dir) == (
        ("cpp", "sh"), ("java",), 30.0, 4096, 12.0, "elsewhere")
    assert cfg.sandbox.exec_unisolated


def test_params_yaml_evaluate_section_is_valid_and_small() -> None:
    """The default run evaluates every benchmark on small subsets; the paper profile lifts the limits."""
    from tasks.common.params import load_params
    from tests.support.project import ROOT

    section = dict(load_params(ROOT / "params.yaml")["evaluate"])
    section.pop("model_dir")
    cfg = config_from_params(section)
    assert set(cfg.benchmarks) == set(BENCHMARKS)
    assert all(cfg.limit_for(b) is not None and cfg.limit_for(b) <= 16
               for b in ("humaneval_multilingual", "fim_multilingual", "leetcode"))
