"""Directed graphs of keys: topological order and readable cycles (`t3 -> t7 -> t3`)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping


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


MAX_CYCLES = 20  # named per run; a hostile file can hold thousands


def find_cycles(nodes: Iterable[str], preds: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Cycles as [a, b, ..., a] in dependency order (b depends on a), at most MAX_CYCLES.

    One depth-first walk over the whole graph, in the input order, so the result is
    deterministic; each edge back onto the walk's path names one cycle. (graphlib names one
    cycle per pass over the graph: naming 5,000 cycles that way took 32 s.)"""
    order = list(nodes)
    known = set(order)
    succs: dict[str, list[str]] = {n: [] for n in order}
    for n in order:
        for p in dict.fromkeys(preds.get(n, ())):
            if p in known:
                succs[p].append(n)
    on_path: dict[str, int] = {}  # node -> its position on the current path
    done: set[str] = set()
    cycles: list[list[str]] = []
    for root in order:
        if root in done:
            continue
        path, walks = [root], [iter(succs[root])]
        on_path[root] = 0
        while walks:
            nxt = next(walks[-1], None)
            if nxt is None:
                node = path.pop()
                walks.pop()
                del on_path[node]
                done.add(node)
            elif nxt in on_path:
                cycles.append(path[on_path[nxt]:] + [nxt])
                if len(cycles) == MAX_CYCLES:
                    return cycles
            elif nxt not in done:
                on_path[nxt] = len(path)
                path.append(nxt)
                walks.append(iter(succs[nxt]))
    return cycles
