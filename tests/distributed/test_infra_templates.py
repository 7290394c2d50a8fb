"""The Kubernetes work-pool templates (infra/*-job-template.json) and manifests (infra/k8s/) hold together:
every placeholder is a declared variable, the defaults obey the schema, the GPU job asks for GPUs on GPU
nodes with the shared volume and the torchrun rendezvous, and everything names the same paths.
Where prefect-kubernetes is installed, its own job configuration renders the templates; the Prefect server
accepts them as kubernetes pools."""
from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = {pool: ROOT / "infra" / f"{pool}-job-template.json" for pool in ("cpu", "gpu")}
PLACEHOLDER = re.compile(r"\{\{\s*([\w.$-]+)\s*\}\}")


def _load(pool: str) -> dict[str, Any]:
    return json.loads(TEMPLATES[pool].read_text())


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def _defaults(template: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    values = {k: v.get("default") for k, v in template["variables"]["properties"].items()}
    return {**values, **overrides}


def _container(manifest: dict[str, Any]) -> dict[str, Any]:
    return manifest["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("pool", ["cpu", "gpu"])
def test_placeholders_are_declared_and_defaults_valid(pool: str) -> None:
    import jsonschema

    template = _load(pool)
    props = template["variables"]["properties"]
    used = {m for s in _strings(template["job_configuration"]) for m in PLACEHOLDER.findall(s)}
    assert used and used <= set(props), sorted(used - set(props))
    assert {"command", "env", "image", "namespace", "shared_pvc", "project_dir"} <= used
    jsonschema.validate(_defaults(template), template["variables"])
    for name, spec in props.items():
        assert spec.get("description"), f"{pool}: variable {name} has no description"


def test_gpu_template_asks_for_gpus_shared_storage_and_rendezvous() -> None:
    template = _load("gpu")
    manifest = template["job_configuration"]["job_manifest"]
    pod = manifest["spec"]["template"]["spec"]
    container = _container(manifest)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "{{ gpus_per_node }}"
    assert pod["nodeSelector"] == "{{ gpu_node_selector }}" and pod["tolerations"] == "{{ tolerations }}"
    assert any(t["key"] == "nvidia.com/gpu" for t in template["variables"]["properties"]["tolerations"]["default"])
    # one pod per node, all at once; pod 0 runs the flow, the others join torchrun's rendezvous
    assert manifest["spec"]["completionMode"] == "Indexed"
    assert manifest["spec"]["completions"] == manifest["spec"]["parallelism"] == "{{ nnodes }}"
    script = container["command"][2]
    assert 'exec "$@"' in script and "python -m infra.torchrun_node" in script and "JOB_COMPLETION_INDEX" in script
    env = {e["name"]: e for e in container["env"]}
    assert {"PET_NNODES", "PET_RDZV_BACKEND", "PET_RDZV_ENDPOINT", "PET_RDZV_ID"} <= set(env)
    # credentials only from a Secret, never a value in the template
    assert "valueFrom" in env["AWS_SECRET_ACCESS_KEY"] and "value" not in env["AWS_SECRET_ACCESS_KEY"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts["shared"] == "{{ shared_mount }}" and mounts["dshm"] == "/dev/shm"
    assert volumes["shared"]["persistentVolumeClaim"]["claimName"] == "{{ shared_pvc }}"
    assert container["workingDir"] == "{{ project_dir }}"
    props = template["variables"]["properties"]
    assert props["project_dir"]["default"].startswith(props["shared_mount"]["default"] + "/")
    # the template's default GPU count is the ranks per node params.yaml starts
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert props["gpus_per_node"]["default"] == params["runtime"]["train_nproc_per_node"]


def test_cpu_template_passes_cluster_addresses() -> None:
    container = _container(_load("cpu")["job_configuration"]["job_manifest"])
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CODER_PIPELINE_DASK_ADDRESS"] == "{{ dask_address }}"
    assert env["CODER_PIPELINE_RAY_ADDRESS"] == "{{ ray_address }}"
    from flows._runtime import DASK_ADDRESS_ENV, RAY_ADDRESS_ENV

    assert {DASK_ADDRESS_ENV, RAY_ADDRESS_ENV} <= set(env)


def test_k8s_manifests_agree_with_the_templates() -> None:
    cpu, gpu = (_defaults(_load(p)) for p in ("cpu", "gpu"))
    docs = {(d["kind"], d["metadata"]["name"]): d
            for f in sorted((ROOT / "infra" / "k8s").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d}
    worker = docs[("Deployment", "coder-pipeline-dask-worker")]["spec"]["template"]["spec"]
    wc = worker["containers"][0]
    assert wc["workingDir"] == cpu["project_dir"]
    assert {"name": "PYTHONPATH", "value": cpu["project_dir"]} in wc["env"]
    assert {v["persistentVolumeClaim"]["claimName"] for v in worker["volumes"]} == {cpu["shared_pvc"]}
    assert [m["mountPath"] for m in wc["volumeMounts"]] == [cpu["shared_mount"]]
    assert "--nthreads" in wc["command"] and "--preload" in wc["command"]
    rdzv = docs[("Service", "coder-pipeline-rdzv")]
    pod_labels = _load("gpu")["job_configuration"]["job_manifest"]["spec"]["template"]["metadata"]["labels"]
    selector = rdzv["spec"]["selector"]
    assert selector["app.kubernetes.io/name"] == pod_labels["app.kubernetes.io/name"]
    assert selector["batch.kubernetes.io/job-completion-index"] == "0"
    host, port = gpu["rdzv_endpoint"].rsplit(":", 1)
    assert host == rdzv["metadata"]["name"] and int(port) == rdzv["spec"]["ports"][0]["port"]


def test_torchrun_node_runs_the_pretrain_flows_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nodes 1.. of a multi-node job must run exactly the torchrun command pod 0's pretrain flow runs."""
    import flows.pretrain as pretrain
    from infra import torchrun_node

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"runtime": {"train_nproc_per_node": 4}}))
    seen: list[list[str]] = []

    class Ran(Exception):
        pass

    def fake_run(cmd, **kwargs):
        seen.append(cmd)
        raise Ran

    monkeypatch.setattr(pretrain.subprocess, "run", fake_run)
    with pytest.raises(Ran):
        pretrain.train_task.fn(str(params), 4)
    assert seen == [torchrun_node.command(str(params))]
    assert "--nproc_per_node=4" in seen[0]
    # one GPU per node: the job's PET_NNODES makes pod 0's flow use torchrun too, with the same command
    params.write_text(yaml.safe_dump({"runtime": {"train_nproc_per_node": 1}}))
    monkeypatch.delenv("PET_NNODES", raising=False)
    assert torchrun_node.main(["--params", str(params), "--print"]) == 2  # a single process: nothing to join
    monkeypatch.setenv("PET_NNODES", "2")
    seen.clear()
    with pytest.raises(Ran):
        pretrain.train_task.fn(str(params), 1)
    assert seen == [torchrun_node.command(str(params))] and "--nproc_per_node=1" in seen[0]
    assert torchrun_node.main(["--params", str(params), "--print"]) == 0


def test_prefect_kubernetes_renders_the_gpu_job(prefect_api_url: str) -> None:
    """prefect-kubernetes' own job configuration: resolved manifest with typed values and string env values."""
    worker = pytest.importorskip("prefect_kubernetes.worker",
                                 reason="prefect-kubernetes not installed: the templates are checked structurally only")
    from prefect.client.schemas.objects import FlowRun

    template = _load("gpu")
    cfg = asyncio.run(worker.KubernetesWorkerJobConfiguration.from_template_and_values(
        template, {"nnodes": 2, "gpus_per_node": 8, "name": "pretrain"}))
    cfg.prepare_for_flow_run(FlowRun(id=uuid.uuid4(), flow_id=uuid.uuid4(), name="nightly"))
    manifest = cfg.job_manifest
    container = _container(manifest)
    assert manifest["spec"]["completions"] == manifest["spec"]["parallelism"] == 2
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 8
    env = {e["name"]: e for e in container["env"]}
    assert env["PET_NNODES"]["value"] == "2:2" and env["PET_RDZV_ENDPOINT"]["value"] == "coder-pipeline-rdzv:29400"
    assert "PREFECT__FLOW_RUN_ID" in env and env["CODER_PIPELINE_ROOT"]["value"] == "/shared/coder-pipeline"
    assert all(isinstance(e["value"], str) for e in container["env"] if "value" in e)
    assert container["args"][:3] == ["prefect", "flow-run", "execute"]
    assert manifest["spec"]["template"]["spec"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}


def test_prefect_server_accepts_the_templates_as_kubernetes_pools(prefect_api_url: str) -> None:
    pytest.importorskip("prefect_kubernetes", reason="prefect-kubernetes not installed: checked structurally only")
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    async def roundtrip() -> dict[str, dict]:
        stored = {}
        async with get_client() as client:
            for pool in ("cpu", "gpu"):
                name = f"test-k8s-{pool}-{uuid.uuid4().hex[:6]}"
                await client.create_work_pool(WorkPoolCreate(name=name, type="kubernetes",
                                                             base_job_template=_load(pool)))
                stored[pool] = (await client.read_work_pool(name)).base_job_template
                await client.delete_work_pool(name)
        return stored

    stored = asyncio.run(roundtrip())
    assert stored == {"cpu": _load("cpu"), "gpu": _load("gpu")}
