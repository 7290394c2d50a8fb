"""tasks/order/parsing.py: the parse with a time budget gives tree-sitter's own tree and keeps nothing alive."""
from __future__ import annotations

import tracemalloc

from tasks.order.parsing import _CHUNK, _parser, parse


def _source(i: int, copies: int) -> bytes:
    return "".join(f"def f_{i}_{k}(x):\n    return 'é{k}' + x  # ünïcode\n" for k in range(copies)).encode()


def test_a_source_over_many_chunks_parses_as_the_bytes_do():
    source = _source(0, 6000)
    assert len(source) > 3 * _CHUNK
    want = str(_parser("python").parse(source).root_node)
    tree = parse("python", source, timeout_ms=10_000)
    assert str(tree.root_node) == want
    assert tree.root_node.end_byte == len(source) and not tree.root_node.has_error


def test_parsing_many_files_keeps_none_of_them_alive():
    """The binding keeps what the read callback returns; fresh slices kept every parsed file (a worker's
    memory grew job after job: +55 MiB for 35 MiB of sources). Now: a few views of one buffer."""
    parse("python", _source(-1, 10), timeout_ms=10_000)
    parsed = 0
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for i in range(40):  # 40 distinct files over one chunk each, dropped once parsed
            source = _source(i, 2000)
            assert len(source) > _CHUNK
            parsed += len(source)
            parse("python", source, timeout_ms=10_000)
            del source
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < parsed // 20, (after - before, parsed)


def test_node_text_after_the_parse_reads_real_bytes():
    """After the parse the tree re-reads through the callback (node.text, text predicates): real bytes there,
    not views of the reused buffer (the binding crashed on a view in that path)."""
    source = _source(1, 2000)
    tree = parse("python", source, timeout_ms=10_000)
    parse("python", _source(2, 2000), timeout_ms=10_000)  # the buffer now holds another file
    node = tree.root_node.children[-1]
    assert node.text == source[node.start_byte:node.end_byte]
