"""Directed graphs of keys, on the standard library's graphlib: topological order and
readable cycles (`t3 -> t7 -> t3`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter


def _sorter(nodes: list[str], preds: Mapping[str, Iterable[str]]) -> TopologicalSorter[str]:
    # Every node is added before any edge, so ready nodes come out in the input order and
    # the result is deterministic. Predecessors that are not nodes are reported elsewhere.
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for n in nodes:
        sorter.add(n)
    known = set(nodes)
    for n in nodes:
        sorter.add(n, *(p for p in set(preds.get(n, ())) if p in known))
    return sorter


def topological_order(nodes: Iterable[str], preds: Mapping[str, Iterable[str]]) -> list[str] | None:
    """Nodes ordered so every node comes after its predecessors; None when there is a cycle."""
    try:
        return list(_sorter(list(nodes), preds).static_order())
    except CycleError:
        return None


def find_cycles(nodes: Iterable[str], preds: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every cycle as [a, b, ..., a] in dependency order. graphlib names one cycle at a
    time: its nodes are set aside and the rest searched again."""
    remaining = list(nodes)
    cycles: list[list[str]] = []
    while True:
        try:
            _sorter(remaining, preds).prepare()
        except CycleError as exc:
            cycle: list[str] = exc.args[1]
            cycles.append(cycle)
            seen = set(cycle)
            remaining = [n for n in remaining if n not in seen]
        else:
            return cycles
