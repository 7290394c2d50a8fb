"""Which task runner params.yaml / the environment select, and the errors that name the key."""
from __future__ import annotations

import pytest

from flows._runtime import DASK_ADDRESS_ENV, RAY_ADDRESS_ENV, task_runner_from_params
from tasks.common.params import ParamError


@pytest.fixture(autouse=True)
def no_cluster_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DASK_ADDRESS_ENV, raising=False)
    monkeypatch.delenv(RAY_ADDRESS_ENV, raising=False)


def _runner(runtime: dict, **kw):
    return task_runner_from_params({"runtime": runtime}, check_workers=False, **kw)


def test_local_runners_by_name() -> None:
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

    assert isinstance(_runner({"workers": 2}), ProcessPoolTaskRunner)
    assert isinstance(_runner({"task_runner": "thread", "workers": 2}), ThreadPoolTaskRunner)


def test_dask_address_from_params_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect_dask import DaskTaskRunner

    runner = _runner({"task_runner": "dask", "dask_address": "tcp://10.0.0.1:8786"})
    assert isinstance(runner, DaskTaskRunner) and runner.address == "tcp://10.0.0.1:8786"
    # the environment attaches a cluster without editing params.yaml, and wins over it
    monkeypatch.setenv(DASK_ADDRESS_ENV, "tcp://10.0.0.2:8786")
    assert _runner({"task_runner": "process", "dask_address": "tcp://10.0.0.1:8786"}).address == "tcp://10.0.0.2:8786"


def test_ray_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("prefect_ray", reason="prefect-ray is not installed: pip install -e '.[ray]'")
    from prefect_ray import RayTaskRunner

    assert _runner({"task_runner": "ray", "ray_address": "10.0.0.5:6379"}).address == "10.0.0.5:6379"
    monkeypatch.setenv(RAY_ADDRESS_ENV, "10.0.0.6:6379")
    assert isinstance(_runner({}), RayTaskRunner) and _runner({}).address == "10.0.0.6:6379"


def test_errors_name_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ParamError, match="runtime.task_runner: unknown value 'spark'.*ray"):
        _runner({"task_runner": "spark"})
    monkeypatch.setenv(DASK_ADDRESS_ENV, "tcp://10.0.0.2:8786")
    monkeypatch.setenv(RAY_ADDRESS_ENV, "10.0.0.6:6379")
    with pytest.raises(ParamError, match="both a Dask and a Ray address"):
        _runner({})
