"""Atomic writes leave no partial file and give artifacts the usual permissions (not mkstemp's 0600)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pyarrow as pa
import pytest

from tasks.common.io import atomic_dir, atomic_write_json, read_parquet, write_parquet


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_artifacts_get_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "m.json", {"a": 1})
        write_parquet(pa.table({"x": [1, 2]}), tmp_path / "t.parquet")
        with atomic_dir(tmp_path / "out") as out:
            atomic_write_json(out / "inner.json", {})
    finally:
        os.umask(old)
    assert mode(tmp_path / "m.json") == 0o644
    assert mode(tmp_path / "t.parquet") == 0o644
    assert mode(tmp_path / "out") == 0o755
    assert read_parquet(tmp_path / "t.parquet").num_rows == 2


def test_failed_atomic_dir_keeps_previous_output(tmp_path: Path) -> None:
    with atomic_dir(tmp_path / "out") as out:
        atomic_write_json(out / "a.json", {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "out") as out:
            atomic_write_json(out / "a.json", {"v": 2})
            raise RuntimeError("killed mid-stage")
    assert (tmp_path / "out" / "a.json").read_text().strip().endswith("}")
    assert '"v": 1' in (tmp_path / "out" / "a.json").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
