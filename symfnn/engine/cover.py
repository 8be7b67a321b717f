"""Which small network stands for a deep one in the proof, and how its layers are renamed.

The derivation makes each step once per layer type at a generic layer and renames it per
layer, so a deep network's layers are copies of few distinct steps. The proof therefore
runs on a *covering instance*: a short network in which every adjacent pair of layer types
of the deep network occurs (the input and the output count as types; the output is its own
type, with its loss), ending in the same output layer. Each deep layer l maps to the
instance layer k where its pair (type of l−1, type of l) first occurs, and its steps,
renamed from layer l to layer k, must equal the instance's — which is then proven.

    8-8:sigmoid-8:sigmoid-8:sigmoid-3:softmax  ->  sigmoid, sigmoid, softmax
    layers 1 -> 1, 2..3 -> 2, 4 -> 3
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from dataclasses import dataclass

import sympy as sp

from .spec import NetworkSpec
from .symbols import layer_symbols, parse_name, width

INPUT = ("input",)


@dataclass(frozen=True)
class Cover:
    """A walk over the deep network's layer types that uses every adjacent pair of them."""

    spec: NetworkSpec  # the deep network
    layers: tuple[int, ...]  # instance layer k (1-based) is a copy of deep layer layers[k-1]
    image: tuple[int, ...]  # deep layer l (1-based) maps to instance layer image[l-1]

    def pairs(self) -> list[str]:
        """The adjacent pairs of layer types, as 'input>sigmoid', in instance order."""
        names = ["input", *(_name(self.spec, l) for l in self.layers)]
        return [f"{a}>{b}" for a, b in itertools.pairwise(names)]

    def describe(self) -> str:
        """'1 -> 1, 2..5 -> 2, 6 -> 3': which deep layers each instance layer stands for."""
        return runs(self.image, start=1)


def runs(image: tuple[int, ...], start: int) -> str:
    """'1 -> 1, 2..5 -> 2, 6 -> 3' for image (1, 2, 2, 2, 2, 3) numbered from `start`."""
    spans: list[list[int]] = []
    for l, k in enumerate(image, start=start):
        if spans and spans[-1][2] == k and spans[-1][1] == l - 1:
            spans[-1][1] = l
        else:
            spans.append([l, l, k])
    return ", ".join(
        f"{a} -> {k}" if a == b else f"{a}..{b} -> {k}" if b > a + 1 else f"{a}, {b} -> {k}"
        for a, b, k in spans
    )


def _key(spec: NetworkSpec, l: int) -> tuple:
    """A layer's type: its activation and parameter, batch normalisation and dropout (the
    derivation makes a layer's steps once per type, cover_bn), and whether it is the output."""
    layer = spec.layers[l - 1]
    return (layer.activation, layer.param, layer.batchnorm, layer.dropout, l == spec.depth)


def _name(spec: NetworkSpec, l: int) -> str:
    layer = spec.layers[l - 1]
    return layer.compact.split(":", 1)[1]


def cover(spec: NetworkSpec) -> Cover:
    """The shortest walk found greedily: from the first layer's type, to the nearest pair
    not yet used (breadth first over the pairs that exist), until all are used; then to the
    output. Linear in depth; its length is bounded by the number of distinct pairs."""
    L = spec.depth
    keys = [INPUT, *(_key(spec, l) for l in range(1, L + 1))]
    edges: dict[tuple, None] = {}  # ordered by first appearance
    for a, b in itertools.pairwise(keys):
        edges.setdefault((a, b), None)
    succ: dict[tuple, list[tuple]] = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
    out = keys[-1]
    walk, used = [keys[1]], {(INPUT, keys[1])}
    todo = [e for e in edges if e not in used and e[1] != out]
    while todo:
        path = _nearest(walk[-1], succ, {e for e in todo}, out)
        for a, b in zip([walk[-1], *path], path):
            used.add((a, b))
        walk += path
        todo = [e for e in edges if e not in used and e[1] != out]
    if walk[-1] != out:
        walk += _nearest(walk[-1], succ, {e for e in edges if e[1] == out}, None)
    # each instance layer copies the first deep layer with the same incoming pair
    first: dict[tuple, int] = {}
    for l in range(1, L + 1):
        first.setdefault((keys[l - 1], keys[l]), l)
    inst_pairs = list(zip([INPUT, *walk], walk))
    layers = tuple(first[p] for p in inst_pairs)
    where = {}
    for k, p in enumerate(inst_pairs, start=1):
        where.setdefault(p, k)
    image = tuple(where[(keys[l - 1], keys[l])] for l in range(1, L + 1))
    return Cover(spec, layers, image)


def _nearest(start: tuple, succ: dict, targets: set, avoid: tuple | None) -> list[tuple]:
    """The nodes after `start` of a shortest path that ends by crossing one of `targets`."""
    queue, back = deque([start]), {start: None}
    while queue:
        node = queue.popleft()
        for nxt in succ.get(node, []):
            if (node, nxt) in targets:
                path = [nxt]
                while node != start:
                    path.append(node)
                    node = back[node]
                return path[::-1]
            if nxt not in back and nxt != avoid:
                back[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"no path from {start} to the pairs {targets}")


def instance_spec(c: Cover, widths: int | None = None) -> NetworkSpec:
    """The covering instance as a spec: the deep layers it copies, at small widths.

    `widths`: 2 (the numeric proof) or 1 (the symbolic one); a softmax output gets one
    class more, since softmax needs two.
    """
    from dataclasses import replace

    layers = tuple(c.spec.layers[l - 1] for l in c.layers)
    spec = replace(c.spec, layers=layers)
    if widths is None:
        return spec
    last = widths + 1 if layers[-1].activation == "softmax" else widths
    return spec.with_widths((widths,) * len(layers) + (last,))


# -- renaming a layer's steps from layer l to layer k ---------------------------------------

_WIDTH = re.compile(r"^m(\d+)$")


def shift(expr: sp.Basic, by: int) -> sp.Basic:
    """`expr` with every layer number moved by `by`: W3 -> W2, A2 -> A1, m3 -> m2, delta4[p] ->
    delta3[p] (by = -1). Names without a layer number (Y, N, λ) stay; Y's width follows."""
    if by == 0 or expr is None:
        return expr
    mapping: dict = {}
    for s in expr.atoms(sp.Symbol):
        if m := _WIDTH.match(s.name):
            mapping[s] = width(int(m[1]) + by)
    for base in expr.atoms(sp.IndexedBase):
        if (parsed := parse_name(base.name)) and parsed[1] and parsed[1].isdigit():
            mapping[base] = getattr(layer_symbols(int(parsed[1]) + by), parsed[0])
    for ms in expr.atoms(sp.MatrixSymbol):
        if (parsed := parse_name(ms.name)) and parsed[1] and parsed[1].isdigit():
            shape = [d.xreplace(mapping) for d in ms.shape]
            mapping[ms] = sp.MatrixSymbol(f"{parsed[0]}{int(parsed[1]) + by}", *shape)
    return expr.xreplace(mapping)
