"""A killed run does not pay twice: every answer is cached as it arrives, and the rerun asks only for
the seeds it has no answer for (the server's request counter proves it)."""
from __future__ import annotations

from pathlib import Path

import pytest
from oss_helpers import fast_config, varied_answer, with_teacher, write_clean

from tasks.oss_instruct import generate
from tasks.oss_instruct.build import Asked
from tests.support.openai_server import OpenAIServer, Reply


class Killed(Exception):
    pass


def test_kill_after_n_answers_then_rerun_pays_only_for_the_rest(tmp_path: Path) -> None:
    clean = write_clean(tmp_path / "clean")
    with OpenAIServer(default=varied_answer) as server:
        cfg = with_teacher(fast_config(tmp_path, server.base_url), concurrency=1)
        seen: list[Asked] = []

        def kill_after_3(asked: Asked) -> None:
            seen.append(asked)
            if len(seen) == 3:
                raise Killed("simulated kill")

        with pytest.raises(Killed):
            generate(cfg, clean, tmp_path / "out1", on_answer=kill_after_3)
        assert server.requests == 3
        assert len(list((tmp_path / "cache").rglob("*.json"))) == 3

        second = generate(cfg, clean, tmp_path / "out2")
        n_seeds = second.metrics["seeds"]["drawn"]
        assert n_seeds == 6  # 4 Python + 1 Rust + 1 Shell
        # seeds with the same snippet text (pkg/__init__.py is the same line in every py repo) share one prompt
        n_prompts = len(list((tmp_path / "cache").rglob("*.json")))
        assert server.requests == n_prompts  # 3 before the kill + the ones not yet answered, each asked once
        assert second.run["requests"] == n_prompts - 3 and second.run["cache_hits"] == n_seeds - (n_prompts - 3)

        third = generate(cfg, clean, tmp_path / "out3")
        assert server.requests == n_prompts and third.run["cache_hits"] == n_seeds  # nothing asked again
    for name in ("instruct.jsonl", "drops.jsonl"):
        assert (tmp_path / "out2" / name).read_bytes() == (tmp_path / "out3" / name).read_bytes()
    assert second.metrics == third.metrics and second.metrics["kept"] + second.metrics["dropped"] == n_seeds
    assert second.metrics["kept"] == n_prompts  # one item per distinct answer; shared answers are duplicates


def test_a_seed_that_keeps_failing_is_dropped_and_asked_again_next_run(tmp_path: Path) -> None:
    clean = write_clean(tmp_path / "clean")
    with OpenAIServer(default=varied_answer) as server:
        server.on("#!/bin/sh", Reply(status=503, headers={"Retry-After": "0"}))
        cfg = with_teacher(fast_config(tmp_path, server.base_url), retries=1)
        first = generate(cfg, clean, tmp_path / "out", quality_cfg=None)
        drops = [d for d in first.built.drops if d["reason"] == "http_error"]
        assert [d["lang"] for d in drops] == ["Shell"] and "HTTP 503" in drops[0]["detail"]
        before = server.requests
        server.rules.clear()
        again = generate(cfg, clean, tmp_path / "out")
        assert server.requests == before + 1 and again.metrics["dropped_by_reason"]["http_error"] == 0
