"""Disk full while writing an artifact: a clear OSError(ENOSPC) reaches the caller, the previous file or
directory stays intact, and no temp file is left behind. Simulated by patching the writes inside
tasks.common.io, and for real on a 1 MiB tmpfs where the test may mount one (root), skipped otherwise."""
from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks.common import io as cio


def _enospc() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _FullFile:
    """A file object that accepts a few bytes, then fails like a full disk."""

    def __init__(self, fh, budget: int = 8) -> None:
        self._fh, self._budget = fh, budget

    def write(self, data: bytes) -> int:
        if len(data) > self._budget:
            self._fh.write(data[: self._budget])
            raise _enospc()
        self._budget -= len(data)
        return self._fh.write(data)

    def __getattr__(self, name: str):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._fh.close()


def full_disk_parquet(monkeypatch: pytest.MonkeyPatch) -> None:
    real = pq.write_table

    def write_half(table: pa.Table, where, **kwargs) -> None:
        real(table, where, **kwargs)
        with open(where, "r+b") as fh:  # a partial file, as a full disk leaves it
            fh.truncate(max(1, os.path.getsize(where) // 2))
        raise _enospc()

    monkeypatch.setattr(cio.pq, "write_table", write_half)


def _table(n: int = 50, seed: int = 0) -> pa.Table:
    return pa.table({"repo": [f"r{i}" for i in range(n)], "blob": [os.urandom(64).hex() + str(seed) for _ in range(n)]})


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.name.endswith(".tmp") or ".building-" in p.name)


def test_json_enospc_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "metrics" / "stage.json"
    cio.atomic_write_json(target, {"files": 1})
    before = target.read_bytes()
    real_open = open
    monkeypatch.setattr(cio, "open", lambda *a, **k: _FullFile(real_open(*a, **k)), raising=False)
    with pytest.raises(OSError) as exc:
        cio.atomic_write_json(target, {"files": 2, "pad": "x" * 1000})
    assert exc.value.errno == errno.ENOSPC
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["stage.json"]


def test_parquet_enospc_keeps_previous_shard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "part-00000.parquet"
    cio.write_parquet(_table(seed=1), target)  # the previous output (written before the disk filled up)
    before = target.read_bytes()
    full_disk_parquet(monkeypatch)
    with pytest.raises(OSError) as exc:
        cio.write_parquet(_table(seed=2), target)
    assert exc.value.errno == errno.ENOSPC
    assert target.read_bytes() == before
    assert pq.read_table(target).num_rows == 50
    assert _leftovers(tmp_path) == []


def test_atomic_dir_enospc_keeps_previous_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    final = tmp_path / "data" / "filtered"
    with cio.atomic_dir(final) as d:
        cio.write_parquet(_table(seed=1), d / cio.shard_name(0))
    before = {p.name: p.read_bytes() for p in final.iterdir()}
    real = pq.write_table
    calls = []

    def fail_second(table: pa.Table, where, **kwargs) -> None:
        calls.append(where)
        if len(calls) == 2:
            raise _enospc()
        real(table, where, **kwargs)

    monkeypatch.setattr(cio.pq, "write_table", fail_second)
    with pytest.raises(OSError) as exc:
        with cio.atomic_dir(final) as d:
            for i in range(3):
                cio.write_parquet(_table(seed=10 + i), d / cio.shard_name(i))
    assert exc.value.errno == errno.ENOSPC and len(calls) == 2
    assert {p.name: p.read_bytes() for p in final.iterdir()} == before
    assert sorted(p.name for p in final.parent.iterdir()) == ["filtered"]


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_real_full_tmpfs(tiny_tmpfs: Path) -> None:
    """On a real 1 MiB filesystem: JSON, a Parquet shard and a shard directory each fail with ENOSPC cleanly."""
    js, shard, final = tiny_tmpfs / "m.json", tiny_tmpfs / "part-00000.parquet", tiny_tmpfs / "out"
    cio.atomic_write_json(js, {"ok": True})
    cio.write_parquet(_table(seed=1), shard)
    with cio.atomic_dir(final) as d:
        cio.write_parquet(_table(seed=3), d / cio.shard_name(0))
    snap = {p.relative_to(tiny_tmpfs): p.read_bytes() for p in sorted(tiny_tmpfs.rglob("*")) if p.is_file()}
    big = os.urandom(2 << 20).hex()  # incompressible, larger than the filesystem
    with pytest.raises(OSError) as e1:
        cio.atomic_write_json(js, {"pad": big})
    with pytest.raises(OSError) as e2:
        cio.write_parquet(pa.table({"blob": [big]}), shard)
    with pytest.raises(OSError) as e3:
        with cio.atomic_dir(final) as d:
            cio.write_parquet(pa.table({"blob": [big]}), d / cio.shard_name(0))
    assert {e.value.errno for e in (e1, e2, e3)} == {errno.ENOSPC} or all(
        "No space left" in str(e.value) for e in (e1, e2, e3))
    assert {p.relative_to(tiny_tmpfs): p.read_bytes() for p in sorted(tiny_tmpfs.rglob("*")) if p.is_file()} == snap
    assert _leftovers(tiny_tmpfs) == []
