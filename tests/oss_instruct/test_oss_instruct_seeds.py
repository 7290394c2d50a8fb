"""Seed snippets: per-language quotas, 1-15 consecutive lines, provenance, determinism; params validation."""
from __future__ import annotations

from pathlib import Path

import pytest
from oss_helpers import repos, write_clean

from tasks.common.params import ParamError
from tasks.oss_instruct import config_from_params, draw_seeds
from tasks.oss_instruct.seeds import draw_snippet, file_lines


def _many_python(n: int) -> dict[str, dict[str, str]]:
    body = "\n".join(f"def f{i}(x):\n    return x * {i}\n" for i in range(30))
    return {f"local/many{k}": {f"m{k}.py": f"# module {k}\n" + body, f"t{k}.rs": "fn main() {}\n"} for k in range(n)}


def test_quota_per_language_and_shortfall(tmp_path: Path) -> None:
    clean = write_clean(tmp_path / "clean", files=_many_python(20))
    seeds, counts = draw_seeds(clean, [("Python", 7), ("Rust", 30), ("Swift", 3)], seed=1)
    by_lang = {lang: sum(s.lang == lang for s in seeds) for lang in ("Python", "Rust", "Swift")}
    assert by_lang == {"Python": 7, "Rust": 20, "Swift": 0}
    assert counts["Rust"] == {"quota": 30, "files": 20, "drawn": 20}
    assert counts["Swift"] == {"quota": 3, "files": 0, "drawn": 0}


def test_snippets_are_consecutive_lines_with_provenance(tmp_path: Path) -> None:
    files = _many_python(20)
    clean = write_clean(tmp_path / "clean", files=files)
    seeds, _ = draw_seeds(clean, [("Python", 20)], seed=3)
    sizes = set()
    for s in seeds:
        lines = file_lines(files[s.repo][s.path])
        assert 1 <= s.start_line <= s.end_line <= len(lines)
        assert s.end_line - s.start_line + 1 <= 15
        assert s.text == "\n".join(lines[s.start_line - 1:s.end_line]) and s.text.strip()
        assert s.provenance()["sha256"] == s.sha256 and len(s.id) == 64
        sizes.add(s.end_line - s.start_line + 1)
    assert len(sizes) > 3  # the count is drawn, not fixed


def test_same_seed_same_snippets_whatever_the_sharding(tmp_path: Path) -> None:
    files = {**_many_python(12), **repos()}
    a, _ = draw_seeds(write_clean(tmp_path / "a", 1, files), [("Python", 9), ("Rust", 3)], seed=5)
    b, _ = draw_seeds(write_clean(tmp_path / "b", 3, files), [("Python", 9), ("Rust", 3)], seed=5)
    c, _ = draw_seeds(write_clean(tmp_path / "c", 3, files), [("Python", 9), ("Rust", 3)], seed=6)
    assert a == b
    assert a != c
    more, _ = draw_seeds(write_clean(tmp_path / "d", 2, files), [("Python", 12), ("Rust", 3)], seed=5)
    assert set(a) <= set(more)  # a larger quota extends the draw


def test_blank_or_empty_files_give_no_seed() -> None:
    assert draw_snippet("", "Python", "r", "p.py", 0, 1, 15) is None
    assert draw_snippet("\n\n   \n", "Python", "r", "p.py", 0, 1, 15) is None
    one = draw_snippet("x = 1\n", "Python", "r", "p.py", 0, 1, 15)
    assert one is not None and (one.start_line, one.end_line, one.text) == (1, 1, "x = 1")


def test_params_errors_name_the_key() -> None:
    cases = {"oss_instruct.quotas.Klingon": {"quotas": {"Klingon": 3}},
             "oss_instruct.quotas.Python": {"quotas": {"Python": -1}},
             "oss_instruct.max_lines": {"min_lines": 5, "max_lines": 2},
             "oss_instruct.teacher.base_url": {"teacher": {"base_url": "ftp://x"}},
             "oss_instruct.teacher.concurrency": {"teacher": {"concurrency": 0}},
             "oss_instruct.validate.max_error_share": {"validate": {"max_error_share": 2}},
             "oss_instruct.gate.min_kept_share": {"gate": {"min_kept_share": -0.1}},
             "oss_instruct.teacher.nope": {"teacher": {"nope": 1}},
             "oss_instruct.nope": {"nope": 1}}
    for key, section in cases.items():
        with pytest.raises(ParamError, match=key.replace(".", r"\.")):
            config_from_params(section)


def test_enabled_only_with_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not config_from_params({}).enabled
    assert config_from_params({"teacher": {"base_url": "http://127.0.0.1:8000/v1/"}}).teacher.base_url == \
        "http://127.0.0.1:8000/v1"
    monkeypatch.setenv("CODER_PIPELINE_TEACHER_BASE_URL", "http://127.0.0.1:9/v1")
    assert config_from_params({}).enabled


def test_project_params_section_is_valid() -> None:
    import yaml

    params = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())
    cfg = config_from_params(params["oss_instruct"])
    assert not cfg.enabled and dict(cfg.quotas)["Python"] == 16 and cfg.teacher.temperature == 0.0
