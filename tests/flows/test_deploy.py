"""infra/prefect.yaml deploys against a real server: the nightly schedule (cron, UTC) and both pools exist."""
from __future__ import annotations

import asyncio

from infra.deploy import deploy


def test_deploy_creates_nightly_schedule_and_pools(prefect_api_url: str) -> None:
    deploy()

    async def read() -> tuple[list, list]:
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            deployments = await client.read_deployments()
            pools = await client.read_work_pools()
            return deployments, pools

    deployments, pools = asyncio.run(read())
    by_name = {d.name: d for d in deployments}
    assert {"nightly-refresh", "gpu-stage"} <= set(by_name)
    nightly = by_name["nightly-refresh"]
    assert nightly.work_pool_name == "cpu"
    assert by_name["gpu-stage"].work_pool_name == "gpu"
    (schedule,) = nightly.schedules
    assert schedule.schedule.cron == "0 2 * * *"
    assert schedule.schedule.timezone == "UTC"
    assert {"cpu", "gpu"} <= {p.name for p in pools}
