"""Pack stage: FIM (PSM/SPM), code/text mixture and fixed-length token shards (DeepSeek-Coder §3.2).

Public API: `Config`, `config_from_params`, `pack` (whole stage); for an external fan-out
`plan_units` + `encode_unit` (per shard, picklable args) then `finish`; `aggregate` builds the
metrics; `format.PackedDataset` reads the shards back.

Names are imported lazily so that readers (`pretrain`, `evaluate`) importing `tasks.pack.format`
do not pull in the tokenizer and Parquet machinery.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Config": "tasks.pack.config", "config_from_params": "tasks.pack.config",
    "plan_units": "tasks.pack.encode", "encode_unit": "tasks.pack.encode",
    "pack": "tasks.pack.pipeline", "finish": "tasks.pack.pipeline", "aggregate": "tasks.pack.pipeline",
    "PackedDataset": "tasks.pack.format",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tasks.pack' has no attribute {name!r}")
