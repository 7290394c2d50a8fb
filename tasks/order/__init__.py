"""order stage (DeepSeek-Coder §2.2): parse each repo's files, resolve their dependencies to files of
the same repository, order each dependency subgraph (dependencies first, min-in-degree rule for
cycles) and emit one sample per subgraph; unconnected files stay single-file samples.

Parsing uses tree-sitter grammar wheels (Python, C, C++, Java, C#, JavaScript, TypeScript/TSX, Go,
Rust, Kotlin, Scala, Ruby, PHP); regex is only the fallback for Lua and shell, which have no grammar
here, and for Kotlin/Scala/Ruby/PHP when their wheels are missing (see `regex_extract.py`).

Public API: `Config`, `config_from_params`, `order_shard`, `aggregate`, `render_sample`.
"""
from tasks.order.config import Config, config_from_params
from tasks.order.metrics import aggregate
from tasks.order.render import render_sample
from tasks.order.shard import SCHEMA, order_partition, order_rows, order_shard

__all__ = ["Config", "SCHEMA", "aggregate", "config_from_params", "order_partition", "order_rows", "order_shard", "render_sample"]
