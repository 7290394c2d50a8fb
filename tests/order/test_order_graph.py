"""The min-in-degree ordering: topological on DAGs, cycle breaking, ties by path, speed."""
from __future__ import annotations

import random
import time

from hypothesis import given, settings, strategies as st

from order_testkit import run
from tasks.order.graph import order_graph


def _reachable_cycle(n: int, edges: set[tuple[int, int]], nodes: list[int]) -> bool:
    """Whether the subgraph on `nodes` has a directed cycle (Kahn's algorithm)."""
    inside = set(nodes)
    sub = [(a, b) for a, b in edges if a in inside and b in inside]
    indeg = {v: 0 for v in nodes}
    for _, b in sub:
        indeg[b] += 1
    ready = [v for v in nodes if indeg[v] == 0]
    seen = 0
    while ready:
        v = ready.pop()
        seen += 1
        for a, b in sub:
            if a == v:
                indeg[b] -= 1
                if indeg[b] == 0:
                    ready.append(b)
    return seen < len(nodes)


graphs = st.integers(min_value=1, max_value=18).flatmap(
    lambda n: st.tuples(st.just(n), st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n)))


@settings(max_examples=150, deadline=None)
@given(graphs)
def test_every_node_once_and_acyclic_components_are_topological(graph):
    n, edges = graph
    edges = {(a, b) for a, b in edges if a != b}
    result = order_graph(n, sorted(edges))
    flat = [v for comp in result.components for v in comp]
    assert sorted(flat) == list(range(n))
    assert [c[0] for c in result.components] == sorted(c[0] for c in result.components)
    cyclic = 0
    for comp in result.components:
        pos = {v: i for i, v in enumerate(comp)}
        inner = [(a, b) for a, b in edges if a in pos]
        assert all(b in pos for _, b in inner)  # components are closed under edges
        if _reachable_cycle(n, edges, comp):
            cyclic += 1
        else:
            assert all(pos[a] < pos[b] for a, b in inner)
    assert result.components_with_cycles == cyclic
    assert (result.cycles_broken == 0) == (cyclic == 0)


def test_min_in_degree_and_path_ties():
    # 0 <-> 1 cycle, 2 depends on both; 3 isolated
    result = order_graph(4, [(0, 1), (1, 0), (0, 2), (1, 2)])
    assert result.components == [[0, 1, 2], [3]]
    assert result.cycles_broken == 1
    # among several ready nodes the smallest index (path) goes first
    assert order_graph(3, [(2, 0), (1, 0)]).components == [[1, 2, 0]]


def test_python_cycle_end_to_end():
    samples, stats = run({"a.py": "import b\n", "b.py": "import a\n", "c.py": "import a\n"}, lang="Python")
    assert samples == [["a.py", "b.py", "c.py"]]
    assert stats["cycles_broken"] == 1 and stats["edges_against_order"] == 1


module_graphs = st.integers(min_value=2, max_value=10).flatmap(
    lambda n: st.tuples(st.just(n), st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=2 * n)))


@settings(max_examples=25, deadline=None)
@given(module_graphs)
def test_files_come_after_their_imports_in_acyclic_samples(graph):
    """Property on real parsing: importer i imports module j for every (j, i) edge."""
    n, edges = graph
    edges = {(a, b) for a, b in edges if a != b}
    files = {f"m{i:02d}.py": "".join(f"import m{j:02d}\n" for j, k in sorted(edges) if k == i) for i in range(n)}
    samples, stats = run(files, lang="Python")
    assert sorted(p for s in samples for p in s) == sorted(files)
    index = {f"m{i:02d}.py": i for i in range(n)}
    for sample in samples:
        nodes = [index[p] for p in sample]
        if _reachable_cycle(n, edges, nodes):
            continue
        pos = {v: k for k, v in enumerate(nodes)}
        for a, b in edges:
            if b in pos:
                assert a in pos and pos[a] < pos[b], f"m{b:02d} before its import m{a:02d}"
    assert stats["edges"] == len(edges)


def test_large_graph_is_fast():
    rng = random.Random(7)
    n = 20_000
    edges = [(rng.randrange(n), rng.randrange(n)) for _ in range(60_000)]
    started = time.process_time()
    result = order_graph(n, edges)
    elapsed = time.process_time() - started
    assert sum(len(c) for c in result.components) == n
    assert elapsed < 10, f"{elapsed:.1f}s CPU for 20k nodes / 60k edges"
