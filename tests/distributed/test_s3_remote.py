"""An S3-compatible DVC remote: a real S3 API server (moto's, on 127.0.0.1) stands in for S3 / MinIO / Ceph.
`dvc push` from a project after `dvc repro`, `dvc pull` into a clean git clone, identical files.

The endpoint goes in the remote's config (`endpointurl`), the credentials only in the environment
(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), never in a file the repository carries."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.project import dvc
from tests.support.services import free_port

pytestmark = pytest.mark.e2e
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("dvc_s3", reason="dvc-s3 is not installed (pip install -e '.[test]')")
    server_mod = pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install -e '.[test]')")
    import boto3

    for key, value in {"AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        boto3.client("s3", endpoint_url=url).create_bucket(Bucket="pipeline")
        yield url
    finally:
        server.stop()


def _files(root: Path, outs: list[str]) -> dict[str, bytes]:
    found = {}
    for out in outs:
        path = root / out
        for f in sorted([path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]):
            found[str(f.relative_to(root))] = f.read_bytes()
    return found


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def test_push_to_s3_remote_and_pull_into_clean_clone(tmp_path: Path, local_dedup: Path, s3_endpoint: str) -> None:
    project = local_dedup  # already reproduced (the dedup stage over a generated corpus)
    # the remote in the repository's config (what a team commits), the endpoint beside it
    dvc(project, "remote", "add", "-f", "-d", "shared", "s3://pipeline/dvc-cache")
    dvc(project, "remote", "modify", "shared", "endpointurl", s3_endpoint)
    _git(project, "add", "dvc.lock", ".dvc/config", "metrics/dedup.json")
    _git(project, "commit", "-q", "-m", "dedup outputs")
    pushed = dvc(project, "push").stdout
    assert "pushed" in pushed.lower()

    import boto3

    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(
        Bucket="pipeline", Prefix="dvc-cache/").get("Contents", [])]
    assert any(k.endswith(".dir") for k in keys) and len(keys) > 4

    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(project), str(clone))
    outs = [o["path"] for o in yaml.safe_load((clone / "dvc.lock").read_text())["stages"]["dedup"]["outs"]]
    assert not (clone / "data/deduped").exists()
    dvc(clone, "pull", "dedup")
    assert _files(clone, outs) == _files(project, outs)
    assert "data/deduped" in " ".join(_files(clone, outs))
