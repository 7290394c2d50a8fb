"""A tiny deterministic container for named numpy arrays plus JSON metadata.

Why not `np.savez`: its zip entries carry timestamps, so the same arrays give different bytes. Here
the file is `magic | header length | canonical JSON header | raw little-endian arrays (64-byte
aligned)`, byte-identical for identical content, and readable with `np.memmap`, so worker processes
that open the same benchmark index share its pages through the OS cache instead of each copying it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from tasks.common.io import atomic_write_bytes

MAGIC = b"QARRAYS1"
_ALIGN = 64


def save_arrays(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    entries = []
    offset = 0
    blobs = []
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        data = arr.tobytes()
        pad = (-offset) % _ALIGN
        blobs.append(b"\0" * pad + data)
        offset += pad
        entries.append({"name": name, "dtype": arr.dtype.str, "shape": list(arr.shape), "offset": offset})
        offset += len(data)
    header = json.dumps({"arrays": entries, "meta": meta}, sort_keys=True, separators=(",", ":")).encode()
    head = MAGIC + len(header).to_bytes(8, "little") + header
    head += b"\0" * ((-len(head)) % _ALIGN)
    atomic_write_bytes(path, head + b"".join(blobs))


def load_arrays(path: str | os.PathLike, mmap: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    path = Path(path)
    with open(path, "rb") as fh:
        if fh.read(len(MAGIC)) != MAGIC:
            raise ValueError(f"{path}: not an arrays file")
        size = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(size))
    base = len(MAGIC) + 8 + size
    base += (-base) % _ALIGN
    arrays: dict[str, np.ndarray] = {}
    raw = None if mmap else path.read_bytes()
    for entry in header["arrays"]:
        dtype = np.dtype(entry["dtype"])
        shape = tuple(entry["shape"])
        count = int(np.prod(shape)) if shape else 1
        start = base + entry["offset"]
        if count == 0:
            arrays[entry["name"]] = np.zeros(shape, dtype=dtype)
        elif mmap:
            arrays[entry["name"]] = np.memmap(path, dtype=dtype, mode="r", offset=start, shape=shape)
        else:
            arrays[entry["name"]] = np.frombuffer(raw, dtype=dtype, count=count, offset=start).reshape(shape)
    return arrays, header["meta"]
