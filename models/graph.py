"""Directed graphs of keys: topological order and readable cycles (`t3 -> t7 -> t3`)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping


def topological_order(nodes: Iterable[str], preds: Mapping[str, Iterable[str]]) -> list[str] | None:
    """Nodes ordered so every node comes after its predecessors; None when there is a cycle.

    Predecessors that are not nodes are ignored (they are reported elsewhere).
    Among ready nodes the input order is kept, so the result is deterministic.
    """
    order_in = list(nodes)
    known = set(order_in)
    indegree = {n: 0 for n in order_in}
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


def find_cycles(nodes: Iterable[str], preds: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle per strongly connected component, as [a, b, ..., a] in dependency order."""
    order_in = list(nodes)
    known = set(order_in)
    # Edges go from a predecessor to the node that depends on it.
    succs: dict[str, list[str]] = {n: [] for n in order_in}
    for n in order_in:
        for p in preds.get(n, ()):
            if p in known:
                succs[p].append(n)
    cycles: list[list[str]] = []
    for component in _strongly_connected(order_in, succs):
        members = set(component)
        start = min(component, key=order_in.index) if len(component) < 50 else component[0]
        if len(component) == 1 and start not in succs[start]:
            continue
        cycles.append(_cycle_through(start, members, succs))
    return cycles


def _strongly_connected(nodes: list[str], succs: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative so ten thousand nodes do not hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(succs[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(succs[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(component)
    return result


def _cycle_through(start: str, members: set[str], succs: dict[str, list[str]]) -> list[str]:
    """Shortest path from start back to start inside one strongly connected component."""
    parent: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for nxt in succs[node]:
            if nxt not in members:
                continue
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return list(reversed(path)) + [start]
            if nxt not in seen:
                seen.add(nxt)
                parent[nxt] = node
                queue.append(nxt)
    return [start, start]
