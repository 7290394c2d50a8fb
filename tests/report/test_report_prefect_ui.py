"""A tiny flow publishes artifacts to the session's Prefect server; the test finds the run and its
artifacts through the API client and screenshots the run page of the UI the server serves."""
from __future__ import annotations

import json
import urllib.request
import uuid
import warnings

import pytest

FLOW_NAME = "report-artifacts-probe"


def test_flow_run_and_artifacts_found_and_ui_page_renders(prefect_api_url: str, browser, tmp_path) -> None:
    from prefect import flow
    from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (ArtifactFilter, ArtifactFilterFlowRunId, FlowFilter,
                                                FlowFilterName, FlowRunFilter, FlowRunFilterId)
    from prefect.runtime import flow_run

    tag = uuid.uuid4().hex[:8]
    prefix = f"probe-{tag}"

    @flow(name=FLOW_NAME, persist_result=False)
    def probe() -> str:
        create_markdown_artifact(key=f"{prefix}-summary", markdown=f"# funnel {tag}\n\n| stage | files |\n|---|---|\n| crawl | 3 |",
                                 description="stage summary")
        create_table_artifact(key=f"{prefix}-table", table=[{"stage": "crawl", "files": 3}], description="table")
        create_link_artifact(key=f"{prefix}-docs", link="http://127.0.0.1/data_docs/index.html", description="docs")
        return str(flow_run.get_id())

    run_id = probe()

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])),
                                     flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(run_id)])))
        (run,) = runs
        assert run.state_type.value == "COMPLETED"
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[uuid.UUID(run_id)])))
    keys = sorted(a.key for a in artifacts)
    assert keys == sorted(f"{prefix}-{k}" for k in ("summary", "table", "docs"))
    table = next(a for a in artifacts if a.key == f"{prefix}-table")
    assert table.type == "table" and "crawl" in str(table.data)

    ui = prefect_api_url.rstrip("/").removesuffix("/api")
    page = browser.page()
    page.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1,
                                                     "mobile": False})
    with urllib.request.urlopen(f"{ui}/ui-settings", timeout=30) as resp:
        settings = json.loads(resp.read())
    if settings.get("api_url") != prefect_api_url.rstrip("/"):
        # the server was started on a non-default port without PREFECT_UI_API_URL, so its UI calls another
        # port; answer /ui-settings with the right API URL so the page still shows this server's run
        warnings.warn(f"Prefect UI at {ui} points at {settings.get('api_url')}; set PREFECT_UI_API_URL when "
                      "starting the server on a non-default port (flows/server.py server_env)")
        settings["api_url"] = prefect_api_url.rstrip("/")
        page.override("/ui-settings", json.dumps(settings).encode())
    page.goto(f"{ui}/runs/flow-run/{run_id}")
    try:
        page.wait_for(f"document.body.innerText.includes({json.dumps(run.name)}) && "
                      f"document.body.innerText.includes('{FLOW_NAME}') && "
                      "document.body.innerText.includes('Completed')", timeout=90)
    finally:
        shot = tmp_path / "prefect-run.png"
        page.screenshot(shot, full_page=False)
    assert shot.stat().st_size > 20_000
    exceptions = [e for e in page.errors() if e.startswith("exception:")]
    assert exceptions == []
    # the Artifacts tab of the same page lists what the flow published
    clicked = page.evaluate("(() => { const t = [...document.querySelectorAll('[role=tablist] > *')]"
                            ".find(e => e.innerText.trim() === 'Artifacts'); if (t) t.click(); return !!t; })()")
    assert clicked, "run page has no Artifacts tab"
    try:
        page.wait_for(" && ".join(f"document.body.innerText.includes('{prefix}-{k}')"
                                  for k in ("summary", "table", "docs")), timeout=30)
    except TimeoutError:
        pytest.fail("Artifacts tab of the run page did not list the flow's artifacts")
    page.screenshot(tmp_path / "prefect-run-artifacts.png", full_page=False)
