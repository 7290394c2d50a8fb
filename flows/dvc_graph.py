"""The stage order, read from DVC: dvc.yaml is the only DAG, nothing here hard-codes it."""
from __future__ import annotations

from pathlib import Path


def _name(stage) -> str:
    """A dvc.yaml stage's name (`addressing` would be relative to the current directory)."""
    return getattr(stage, "name", None) or stage.addressing


def stage_order(root: str | Path = ".") -> list[str]:
    """Stage names of dvc.yaml in dependency order (ties broken by name, so the order is stable)."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        graph = repo.index.graph  # edge A -> B means stage A depends on an output of B
        names = {stage: _name(stage) for stage in graph.nodes}
        data_flow = graph.reverse(copy=True)
        order = nx.lexicographical_topological_sort(data_flow, key=lambda s: names[s])
        return [names[s] for s in order]


def stage_dependencies(root: str | Path = ".") -> dict[str, list[str]]:
    """For each stage, the stages whose outputs it reads."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        graph = repo.index.graph
        return {_name(s): sorted(_name(d) for d in graph.successors(s)) for s in graph.nodes}
