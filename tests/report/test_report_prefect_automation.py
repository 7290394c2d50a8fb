"""Gate failure -> Prefect event -> automation: a webhook POST on a local server and the nightly
deployment paused. Runs against the session's Prefect server (its triggers and actions services)."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from expectations.events import EVENT, gate_payload, resource_for
from expectations.gates import GateResult
from infra.automations import ENV_KIND, ENV_URL, NotifyConfig, config_from_params
from tasks.common.params import ParamError

FAILED = GateResult(success=False, name="filter", docs_path=None, results=[
    {"expectation": "expect_column_values_to_be_between", "column": "share", "condition": "lang == 'C'",
     "observed": 0.91, "bounds": {"min_value": 0.0, "max_value": 0.5}, "success": False},
    {"expectation": "expect_column_values_to_be_in_set", "column": "lang", "condition": None, "observed": None,
     "bounds": {"value_set": ["C", "Python"]}, "success": True},
])


# ------------------------------------------------------------------ no server needed
def test_payload_names_the_gate_and_what_failed() -> None:
    payload = gate_payload(FAILED, stage="filter")
    assert payload["gate"] == "filter" and payload["failed"] == 1 and payload["expectations"] == 2
    assert payload["failures"][0]["observed"] == 0.91
    assert "FAILED" in payload["summary"] and "share" in payload["summary"]
    json.dumps(payload)  # an event payload must be JSON
    assert resource_for("filter", "filter") == {"prefect.resource.id": "coder-pipeline.gate.filter",
                                                "prefect.resource.name": "filter", "coder-pipeline.stage": "filter"}


def test_notify_config_validation_and_env_override() -> None:
    assert config_from_params(None, env={}) == NotifyConfig()
    cfg = config_from_params({"url": "https://hooks.example.org/x"}, env={ENV_URL: "http://127.0.0.1:9/hook"})
    assert cfg.url == "http://127.0.0.1:9/hook" and cfg.kind == "webhook"
    assert config_from_params({"kind": "apprise", "url": "mailtos://u:p@smtp.example.org?to=a@b.c"}, env={}).kind \
        == "apprise"
    assert config_from_params({"kind": "webhook"}, env={ENV_KIND: "none", ENV_URL: "http://x/y"}).url is None
    bad = [({"kind": "pager"}, "notify.kind:"), ({"url": "not a url"}, "notify.url:"),
           ({"url": "mailto://a@b"}, "notify.url:"), ({"deployment": "nightly"}, "notify.deployment:"),
           ({"block_name": "Bad Name"}, "notify.block_name:"), ({"hook": 1}, "notify.hook:")]
    for section, prefix in bad:
        with pytest.raises(ParamError) as err:
            config_from_params(section, env={})
        assert str(err.value).startswith(prefix), (section, str(err.value))


# ------------------------------------------------------------------ against the session server
class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).received.append({"path": self.path, "json": json.loads(body or b"null")})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def webhook() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []
    handler = type("Hook", (_Hook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/gate-alerts", received
    finally:
        server.shutdown()
        server.server_close()


def _nightly(client):
    """The nightly deployment: the one infra.deploy created, else a bare one with the same name."""
    from prefect.exceptions import ObjectNotFound

    try:
        return client.read_deployment_by_name("refresh/nightly-refresh"), False
    except ObjectNotFound:
        flow_id = client.create_flow_from_name("refresh")
        client.create_deployment(flow_id=flow_id, name="nightly-refresh")
        return client.read_deployment_by_name("refresh/nightly-refresh"), True


# A failing stage emits the event from its own process (python -m flows.<stage>): so does the test, which
# also keeps it independent of event-client state left in the pytest process by earlier tests.
EMIT = """
import json, sys
from expectations.events import emit_gate_failed
from expectations.gates import GateResult
event = emit_gate_failed(GateResult(**json.loads(sys.argv[1])), stage="filter")
print(json.dumps({"id": str(event.id), "event": event.event} if event is not None else None))
"""


def emit_from_stage_process(result: GateResult) -> dict | None:
    proc = subprocess.run([sys.executable, "-c", EMIT, json.dumps(dataclasses.asdict(result))],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_gate_failed_event_notifies_and_pauses_nightly(prefect_api_url: str, webhook) -> None:
    from prefect.client.orchestration import get_client

    from infra.automations import create

    url, received = webhook
    name = f"report-test-gate-failed-{int(time.time())}"
    cfg = NotifyConfig(kind="webhook", url=url, block_name="report-test-gate-alerts", automation_name=name)
    with get_client(sync_client=True) as client:
        deployment, created = _nightly(client)
        client.resume_deployment(deployment.id)
    result = create(cfg)
    try:
        assert result["actions"] == ["send-notification", "pause-deployment"]
        event = emit_from_stage_process(FAILED)
        assert event is not None and event["event"] == EVENT
        deadline = time.monotonic() + 60
        paused = False
        while time.monotonic() < deadline and not (paused and received):
            time.sleep(0.5)
            with get_client(sync_client=True) as client:
                paused = client.read_deployment(deployment.id).paused
        assert received, "the webhook got no POST within 60 s (automation actions service not running?)"
        assert paused, "the nightly deployment was not paused within 60 s"
        body = received[0]["json"]
        assert received[0]["path"] == "/gate-alerts"
        assert body["source"] == "coder-pipeline"
        assert "gate filter failed" in body["subject"]
        assert "share" in body["body"] and "0.91" in body["body"] and event["id"] in body["body"]
    finally:
        with get_client(sync_client=True) as client:
            client.delete_automation(uuid.UUID(result["automation_id"]))
            # leave the session as found: other tests may expect an active nightly deployment
            if created:
                client.delete_deployment(deployment.id)
            else:
                client.resume_deployment(deployment.id)
