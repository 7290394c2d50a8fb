"""The paper's ordering (DeepSeek-Coder §2.2, Algorithm 1) on a repo's file dependency graph.

Edges point from a dependency to its dependent, so a file is placed after the files it imports.
Within each weakly connected subgraph the node of minimum in-degree among the remaining nodes is
taken next (in-degree counted over remaining nodes only), ties broken by node index (= path order).
On an acyclic subgraph this is a topological order; on a cycle it still progresses by taking the
least-constrained file, and each such pick (in-degree > 0) counts as one broken cycle.
A lazy min-heap keyed by (in-degree, index) gives O(E log V) per repository.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass


@dataclass(frozen=True)
class Ordering:
    components: list[list[int]]  # each subgraph's nodes in order; components sorted by first node
    cycles_broken: int
    components_with_cycles: int


def _components(n: int, edges: list[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for node in range(n):
        groups.setdefault(find(node), []).append(node)
    return list(groups.values())


def order_graph(n: int, edges: list[tuple[int, int]]) -> Ordering:
    """Order nodes 0..n-1 given edges (dependency, dependent); self-loops and duplicates ignored."""
    unique = sorted({(a, b) for a, b in edges if a != b})
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for a, b in unique:
        succ[a].append(b)
        indeg[b] += 1
    done = [False] * n
    cycles = 0
    cyclic_components = 0
    ordered: list[list[int]] = []
    for comp in _components(n, unique):
        heap = [(indeg[v], v) for v in comp]
        heapq.heapify(heap)
        out: list[int] = []
        broke = 0
        while heap:
            degree, node = heapq.heappop(heap)
            if done[node] or degree != indeg[node]:
                continue  # stale entry: the node was taken or its in-degree has dropped since
            done[node] = True
            out.append(node)
            if degree > 0:
                broke += 1
            for nxt in succ[node]:
                if not done[nxt]:
                    indeg[nxt] -= 1
                    heapq.heappush(heap, (indeg[nxt], nxt))
        cycles += broke
        cyclic_components += broke > 0
        ordered.append(out)
    ordered.sort(key=lambda c: c[0])
    return Ordering(ordered, cycles, cyclic_components)
