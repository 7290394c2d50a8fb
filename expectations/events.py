"""Tell Prefect that a quality gate failed, as an event an automation can react to.

The stage flow calls `emit_gate_failed(result)` before it fails the stage (in warn mode too, where the stage
goes on: the payload and the resource label `coder-pipeline.gate.mode` say which); `infra/automations.py`
subscribes to `coder-pipeline.gate.failed` to notify someone and pause the nightly refresh, so a bad
crawl does not keep feeding the corpus night after night. Emitting never raises: a lost notification
must not change the stage's own outcome (the gate failure does that).
"""
from __future__ import annotations

import logging
import threading
from typing import Any

EVENT = "coder-pipeline.gate.failed"
RESOURCE_PREFIX = "coder-pipeline.gate."
log = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    """JSON-safe copy (event payloads are JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def gate_payload(result: Any, stage: str | None = None) -> dict[str, Any]:
    """What a reader of the notification needs: which gate, what was observed vs expected, Data Docs."""
    results = list(getattr(result, "results", []) or [])
    failures = [r for r in results if not r.get("success")]
    summary = result.summary() if hasattr(result, "summary") else f"gate {getattr(result, 'name', '?')} failed"
    return {
        "gate": str(getattr(result, "name", "unknown")),
        "stage": stage,
        "success": bool(getattr(result, "success", False)),
        "mode": str(getattr(result, "mode", "enforce")),  # warn: the stage was not failed
        "expectations": len(results),
        "failed": len(failures),
        "failures": _plain(failures[:20]),
        "summary": summary,
        "docs_path": getattr(result, "docs_path", None),
    }


def resource_for(gate: str, stage: str | None = None, mode: str | None = None) -> dict[str, str]:
    """The event's resource; `mode` (enforce / warn) is a label an automation can match on."""
    resource = {"prefect.resource.id": f"{RESOURCE_PREFIX}{gate}", "prefect.resource.name": gate}
    if stage:
        resource["coder-pipeline.stage"] = stage
    if mode:
        resource["coder-pipeline.gate.mode"] = mode
    return resource


def flush(timeout_s: float = 10.0) -> bool:
    """Wait (bounded) until queued events are sent: a failing stage exits right after emitting."""
    from prefect.events.worker import EventsWorker

    worker = EventsWorker.instance()
    done = threading.Event()

    def wait() -> None:
        worker.wait_until_empty()
        done.set()

    threading.Thread(target=wait, daemon=True, name="gate-event-flush").start()
    return done.wait(timeout_s)


def emit_gate_failed(result: Any, stage: str | None = None, wait: bool = True, timeout_s: float = 10.0) -> Any:
    """Emit `coder-pipeline.gate.failed` for a GateResult; returns the Event, or None if not sent.

    The resource id is `coder-pipeline.gate.<name>`; inside a flow run Prefect adds the run as a related
    resource, so the notification can link to it.
    """
    try:
        from prefect.events import emit_event

        payload = gate_payload(result, stage)
        event = emit_event(event=EVENT, resource=resource_for(payload["gate"], stage, payload["mode"]),
                           payload=payload)
        if event is not None and wait and not flush(timeout_s):
            log.warning("gate event %s not confirmed sent within %.0fs", event.id, timeout_s)
        return event
    except Exception as exc:  # never let the notification path mask the gate failure itself
        log.warning("could not emit %s: %s", EVENT, exc)
        return None
