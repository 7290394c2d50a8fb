"""Atomic, deterministic writes: a killed stage never leaves a partial file visible as an output.

Every artifact is written to a temporary sibling and moved into place with os.replace, so readers
(and DVC) only ever see complete files. Parquet is written with fixed options so that the same rows
give the same bytes on every run.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

SHARD_GLOB = "part-*.parquet"


def shard_name(index: int) -> str:
    """File name of shard `index`; zero-padded so lexical order is numeric order."""
    return f"part-{index:05d}.parquet"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _tmp_sibling(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; an artifact gets the usual permissions
    os.close(fd)
    return Path(tmp)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    tmp = _tmp_sibling(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dumps_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, fixed indent, trailing newline (diffable, byte-stable)."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=_json_default) + "\n"


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, dumps_json(obj))


def write_parquet(table: pa.Table, path: str | os.PathLike) -> None:
    """Write one Parquet file atomically with options fixed for byte-identical output."""
    path = Path(path)
    tmp = _tmp_sibling(path)
    try:
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            compression_level=3,
            use_dictionary=True,
            write_statistics=True,
            row_group_size=4096,
        )
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_parquet(path: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    return pq.read_table(path, columns=columns)


def list_shards(directory: str | os.PathLike) -> list[Path]:
    """The shard files of a stage output directory, in order."""
    return sorted(Path(directory).glob(SHARD_GLOB))


def read_shards(directory: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    shards = list_shards(directory)
    if not shards:
        raise FileNotFoundError(f"no {SHARD_GLOB} shards in {directory}")
    return pa.concat_tables([pq.read_table(p, columns=columns) for p in shards])


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Build a directory under a temporary name and swap it into place only on success.

    A stage writes all its shards inside the yielded path; if it is killed, the previous output
    (or nothing) stays in place and the half-built directory is removed on the next run.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.building-*"):
        shutil.rmtree(stale, ignore_errors=True)
    building = Path(tempfile.mkdtemp(prefix=f".{final.name}.building-", dir=final.parent))
    os.chmod(building, 0o777 & ~_umask())
    try:
        yield building
        old = None
        if final.exists():
            old = final.parent / f".{final.name}.old-{os.getpid()}"
            os.replace(final, old)
        os.replace(building, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
