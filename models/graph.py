"""Directed graphs of keys: topological order and readable cycles (`t3 -> t7 -> t3`), the
cycles found by the standard library's graphlib."""

from __future__ import annotations

from collections import deque
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
    """Nodes ordered so every node comes after its predecessors; None when there is a cycle.

    Written out rather than through graphlib: the live reschedule orders the tasks after a
    change on every web update, and graphlib's bookkeeping made "new forecast" on 10,000
    tasks ~50 ms slower against its 100 ms target (docs/cli.md, "Fast paths"). Among ready
    nodes the input order is kept, as graphlib does, so the result is deterministic."""
    order_in = list(nodes)
    known = set(order_in)
    indegree = dict.fromkeys(order_in, 0)
    succs: dict[str, list[str]] = {n: [] for n in order_in}
    for n in order_in:
        for p in set(preds.get(n, ())):
            if p in known:
                indegree[n] += 1
                succs[p].append(n)
    ready = deque(n for n in order_in if indegree[n] == 0)
    out: list[str] = []
    while ready:
        n = ready.popleft()
        out.append(n)
        for s in succs[n]:
            indegree[s] -= 1
            if indegree[s] == 0:
                ready.append(s)
    return out if len(out) == len(order_in) else None


MAX_CYCLES = 20  # named per run: each costs a pass over the whole graph


def find_cycles(nodes: Iterable[str], preds: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The cycles as [a, b, ..., a] in dependency order, at most MAX_CYCLES of them. graphlib
    names one cycle at a time: its nodes are set aside and the rest searched again, so
    naming every one of 5,000 cycles in a hostile file would take a pass for each (~30 s)."""
    remaining = list(nodes)
    cycles: list[list[str]] = []
    while len(cycles) < MAX_CYCLES:
        try:
            _sorter(remaining, preds).prepare()
        except CycleError as exc:
            cycle: list[str] = exc.args[1]
            cycles.append(cycle)
            seen = set(cycle)
            remaining = [n for n in remaining if n not in seen]
        else:
            break
    return cycles
