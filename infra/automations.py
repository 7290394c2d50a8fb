"""Prefect automation for failed quality gates: notify someone and pause the nightly refresh.

    python -m infra.automations            # create (or replace) the automation on the server in use
    python -m infra.automations --resume   # resume the nightly deployment after fixing the cause

Trigger: the event `coder-pipeline.gate.failed` (emitted by `expectations.events.emit_gate_failed`).
Actions: (a) send a notification through a Prefect block created here: `webhook` = a
CustomWebhookNotificationBlock POSTing JSON {subject, body}; `apprise` = Prefect's Apprise-backed
SlackWebhook block, which takes a Slack URL or any Apprise URL (`mailtos://user:pass@smtp.host?to=ops@x`
for e-mail); (b) pause the nightly deployment, so a broken source or rule stops the refresh until a
person looks. Settings: params.yaml `notify:` section; env CODER_PIPELINE_NOTIFY_URL and
CODER_PIPELINE_NOTIFY_KIND override it (keep secrets such as webhook tokens out of params.yaml).
The pause needs the deployment to exist (`python -m infra.deploy` first).
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping
from uuid import UUID

from expectations.events import EVENT, RESOURCE_PREFIX
from tasks.common.params import ParamError

ROOT = Path(__file__).resolve().parents[1]
SECTION = "notify"
KINDS = ("webhook", "apprise", "none")
ENV_URL = "CODER_PIPELINE_NOTIFY_URL"
ENV_KIND = "CODER_PIPELINE_NOTIFY_KIND"

SUBJECT = "coder-pipeline: quality gate {{ event.resource['prefect.resource.name'] }} failed"
BODY = """{{ event.payload.summary }}

Stage: {{ event.payload.stage }}
Data Docs: {{ event.payload.docs_path or 'not built' }}
Event: {{ event.id }} at {{ event.occurred }}
The nightly refresh deployment has been paused; resume it with `python -m infra.automations --resume`
or from the Prefect UI once the cause is fixed."""


@dataclass(frozen=True)
class NotifyConfig:
    kind: str = "webhook"                       # webhook | apprise | none
    url: str | None = None                      # webhook URL or Apprise URL; None = pause only, no message
    block_name: str = "coder-pipeline-gate-alerts"
    deployment: str | None = "refresh/nightly-refresh"   # <flow>/<deployment> to pause; None = do not pause
    automation_name: str = "coder-pipeline-gate-failed"


def config_from_params(section: Mapping[str, Any] | None, env: Mapping[str, str] | None = None) -> NotifyConfig:
    """Validate params.yaml `notify:`, then apply the environment overrides."""
    env = os.environ if env is None else env
    section = dict(section or {})
    known = {"kind", "url", "block_name", "deployment", "automation_name"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ParamError(f"{SECTION}.{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
    d = NotifyConfig()
    kind = env.get(ENV_KIND) or section.get("kind", d.kind)
    if kind not in KINDS:
        raise ParamError(f"{SECTION}.kind: unknown value {kind!r}; expected one of {', '.join(KINDS)}")
    url = env.get(ENV_URL) or section.get("url", d.url)
    if url is not None and (not isinstance(url, str) or "://" not in url):
        raise ParamError(f"{SECTION}.url: expected null or a URL, got {url!r}")
    if kind == "webhook" and url is not None and not url.startswith(("http://", "https://")):
        raise ParamError(f"{SECTION}.url: a webhook needs an http(s) URL, got {url.split('://')[0]}://...")
    for key in ("block_name", "automation_name"):
        value = section.get(key, getattr(d, key))
        if not isinstance(value, str) or not value or not all(c.isalnum() or c == "-" for c in value):
            raise ParamError(f"{SECTION}.{key}: expected lowercase letters, digits and dashes, got {value!r}")
    deployment = section.get("deployment", d.deployment)
    if deployment is not None and (not isinstance(deployment, str) or deployment.count("/") != 1):
        raise ParamError(f"{SECTION}.deployment: expected null or '<flow>/<deployment>', got {deployment!r}")
    return NotifyConfig(kind=kind, url=None if kind == "none" else url, block_name=section.get("block_name", d.block_name),
                        deployment=deployment, automation_name=section.get("automation_name", d.automation_name))


def notification_block(cfg: NotifyConfig) -> Any:
    """The block that carries the message (None when there is nowhere to send it)."""
    if cfg.kind == "none" or not cfg.url:
        return None
    if cfg.kind == "webhook":
        from prefect.blocks.notifications import CustomWebhookNotificationBlock

        return CustomWebhookNotificationBlock(
            name=cfg.block_name, url=cfg.url, method="POST",
            json_data={"subject": "{{subject}}", "body": "{{body}}", "source": "coder-pipeline"})
    from prefect.blocks.notifications import SlackWebhook

    return SlackWebhook(url=cfg.url, notify_type="failure")


def build_automation(block_id: UUID | None, deployment_id: UUID | None, name: str) -> Any:
    """The automation object: one gate-failed event (any gate) fires both actions at once."""
    from prefect.automations import AutomationCore, EventTrigger, PauseDeployment, Posture, SendNotification

    actions: list[Any] = []
    if block_id is not None:
        actions.append(SendNotification(block_document_id=block_id, subject=SUBJECT, body=BODY))
    if deployment_id is not None:
        actions.append(PauseDeployment(source="selected", deployment_id=deployment_id))
    if not actions:
        raise ValueError("nothing to do: no notification URL and no deployment to pause")
    return AutomationCore(
        name=name,
        description="A coder-pipeline quality gate failed: notify and pause the nightly refresh.",
        trigger=EventTrigger(expect={EVENT}, match={"prefect.resource.id": f"{RESOURCE_PREFIX}*"},
                             posture=Posture.Reactive, threshold=1, within=timedelta(0)),
        actions=actions,
    )


def create(cfg: NotifyConfig) -> dict[str, Any]:
    """Create the block (overwriting one of the same name) and replace the automation of the same name."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    block = notification_block(cfg)
    block_id = block.save(cfg.block_name, overwrite=True) if block is not None else None
    with get_client(sync_client=True) as client:
        deployment_id = None
        if cfg.deployment:
            try:
                deployment_id = client.read_deployment_by_name(cfg.deployment).id
            except ObjectNotFound:
                raise RuntimeError(f"deployment {cfg.deployment!r} not found: run `python -m infra.deploy` first "
                                   "(or set notify.deployment: null)") from None
        automation = build_automation(block_id, deployment_id, cfg.automation_name)
        for old in client.read_automations_by_name(cfg.automation_name):
            client.delete_automation(old.id)
        automation_id = client.create_automation(automation)
    return {"automation_id": str(automation_id), "block_id": str(block_id) if block_id else None,
            "deployment_id": str(deployment_id) if deployment_id else None,
            "actions": [a.type for a in automation.actions]}


def resume(cfg: NotifyConfig) -> str:
    from prefect.client.orchestration import get_client

    if not cfg.deployment:
        raise RuntimeError("notify.deployment is null: nothing to resume")
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(cfg.deployment)
        client.resume_deployment(deployment.id)
    return str(deployment.id)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default=str(ROOT / "params.yaml"))
    ap.add_argument("--resume", action="store_true", help="resume the paused deployment instead")
    args = ap.parse_args(argv)
    from flows.server import ensure_api_url
    from tasks.common.params import load_params

    try:
        params = load_params(args.params) if Path(args.params).exists() else {}
        cfg = config_from_params(params.get(SECTION))
    except ParamError as exc:
        print(f"params.yaml: {exc}", file=sys.stderr)
        return 2
    os.environ["PREFECT_API_URL"] = ensure_api_url()
    if args.resume:
        print(f"resumed deployment {cfg.deployment} ({resume(cfg)})")
        return 0
    if not cfg.url:
        print(f"note: no notification URL ({ENV_URL} or notify.url); the automation only pauses", file=sys.stderr)
    result = create(cfg)
    print(f"automation {cfg.automation_name} ({result['automation_id']}): on {EVENT} -> {', '.join(result['actions'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
