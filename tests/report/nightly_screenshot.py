"""Screenshot of a nightly refresh in the Prefect UI: the parent run with a child run per stage.

    python -m tests.report.nightly_screenshot [--out docs/screenshots/nightly.png]

Builds a throwaway project on a generated corpus (crawl..quality), runs the refresh flow twice against a
server of its own (the second night adds a source), and screenshots the second night's parent run page
(its graph shows each stage's child flow run) and its artifacts tab (the delta: sources added and
partitions reused or recomputed per stage). Needs Debian's chromium (make system-deps).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from flows import server

STAGES = ["crawl", "filter", "redact", "order", "dedup", "quality"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/screenshots/nightly.png")
    args = ap.parse_args(argv)
    from tests.report.report_chromium import Browser, available

    if not available():
        print("chromium not found: make system-deps", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="nightly-shot-"))
    home, port = work / "prefect", server.free_port()
    url = server.start(port=port, home=home, timeout_s=240)
    os.environ["PREFECT_API_URL"] = url
    try:
        from flows.refresh import refresh
        from tests.e2e.test_nightly_delta import night_params
        from tests.support.corpus import make_git_corpus
        from tests.support.project import make_project, project_env

        specs = make_git_corpus(work / "repos")
        project = make_project(work / "p", night_params(specs[:3], work / "cache"), stages=STAGES)
        os.environ.update(project_env(project))
        refresh(root=str(project), stages=STAGES)
        params = project / "params.yaml"
        import yaml

        data = yaml.safe_load(params.read_text())
        data["crawl"]["sources"] = specs
        params.write_text(yaml.safe_dump(data, sort_keys=False))
        state = refresh(root=str(project), stages=STAGES, return_state=True)
        run_id = state.state_details.flow_run_id
        browser = Browser()
        try:
            page = browser.page()
            page.send("Emulation.setDeviceMetricsOverride", {"width": 1500, "height": 1000, "deviceScaleFactor": 1,
                                                             "mobile": False})
            ui = url.removesuffix("/api")
            page.goto(f"{ui}/runs/flow-run/{run_id}")
            page.wait_for("document.body.innerText.includes('Completed') && "
                          "document.body.innerText.includes('quality')", timeout=120)
            time.sleep(3)  # the run graph draws after the page text
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(out, full_page=False)
            page.evaluate("(() => { const t = [...document.querySelectorAll('[role=tablist] > *')]"
                          ".find(e => e.innerText.trim() === 'Artifacts'); if (t) t.click(); })()")
            time.sleep(3)
            page.screenshot(out.with_name(out.stem + "-artifacts.png"), full_page=False)
            print(json.dumps({"run": str(run_id), "screenshots": [str(out), str(out.with_name(out.stem + "-artifacts.png"))]}))
        finally:
            browser.close()
    finally:
        server.stop(port=port, home=home, wait_s=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
