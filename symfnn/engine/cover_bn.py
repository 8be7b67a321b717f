"""The covering instance of a network with batch normalisation or dropout, and its links.

The derivation makes a layer's steps once per layer type at a generic layer and renames
them (batchnorm.layer), so, as for plain networks (`cover.py`), the proof runs on a short
network in which every adjacent pair of the network's layer types occurs — here a type
counts its batch normalisation and dropout too. verify_bn proves that network link by link;
each link Z(l) -> Z(l+1) of the deep network is one of the instance's links renamed:

    deep link l (1 <= l < L)  ->  instance link image(l+1) - 1

(the instance layer image(l+1) is where the pair (type l, type l+1) occurs), link 0 (the data
to Z(1)) -> link 0, link L (Z(L) to the risk) -> the instance's last. The claim is literal
because both layers of every deep link are compared, renamed, with the instance link's two
layers — step by step, every form the proof evaluates — so a wrong step in any one deep
layer cannot hide behind the layer that stands for it.

    4-4:tanh:bn-4:tanh:bn-4:tanh:bn-3:softmax  ->  tanh:bn, tanh:bn, softmax
    layers 1 -> 1, 2..3 -> 2, 4 -> 3; links 0 -> 0, 1..2 -> 1, 3 -> 2, 4 -> 3
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from . import batchnorm
from .batchnorm import batch_backward, batch_forward
from .cover import Cover, cover, runs
from .derive import Derivation, Step
from .spec import NetworkSpec

STEPS = ("index", "matrix", "batch_lhs", "batch")  # the forms compared after renaming


def cover_normalised(spec: NetworkSpec) -> Cover:
    """`cover.cover`: a layer's type counts its batch normalisation and dropout (cover._key)."""
    return cover(spec)


def link_image(c: Cover) -> tuple[int, ...]:
    """Deep link l (0..L) -> the instance link that stands for it (see the docstring)."""
    L, K = len(c.image), max(c.image)
    return (0, *(c.image[l] - 1 for l in range(1, L)), K)


def compared_layers(c: Cover) -> list[tuple[int, int]]:
    """(deep layer, instance layer) pairs whose steps must be equal after renaming: each
    layer against the instance layer of each of the two links it takes part in."""
    links = link_image(c)
    pairs: dict[tuple[int, int], None] = {}
    for l in range(len(c.image) + 1):  # link l holds layer l (l >= 1) and layer l+1
        j = links[l]
        if l >= 1:
            pairs.setdefault((l, j), None)
        if l < len(c.image):
            pairs.setdefault((l + 1, j + 1), None)
    return sorted(pairs)


@cache
def _move(l: int, k: int) -> dict:
    """Layer l's names (and l-1's, l+1's) -> layer k's: the derivation's own renaming
    (batchnorm._rename_map, generic -> numbered) from l back to generic, on to k."""
    at_l, at_k = batchnorm._rename_map(l, 0.0), batchnorm._rename_map(k, 0.0)
    return {at_l[g]: at_k[g] for g in at_l if g != batchnorm.Q and at_l[g] != at_k[g]}


def _steps(layer) -> list[Step]:
    """Every step of a layer the proof reads, once each (bn layers share some)."""
    out: dict[int, Step] = {}
    for step in (*batch_forward(layer), *batch_backward(layer), layer.delta, layer.grad_b):
        out.setdefault(id(step), step)
    return list(out.values())


def renamed_layer(layer, k: int):
    """A LayerDerivation of layer l as layer k: every step renamed, shared steps kept shared."""
    l = layer.l
    mapping = _move(l, k)
    done: dict[int, Step] = {}

    def rn(step: Step | None) -> Step | None:
        if step is None:
            return None
        if id(step) not in done:
            label = step.label.rsplit("-", 1)[0] + f"-{k}"
            done[id(step)] = step.rename(mapping, label) if mapping else replace(step, label=label)
        return done[id(step)]

    fields = {f: rn(getattr(layer, f)) for f in ("forward_z", "forward_a", "delta", "grad_W")}
    fields["grad_b"] = rn(layer.grad_b)
    norm = layer.norm
    if norm is not None:
        norm = replace(
            norm,
            l=k,
            forward=tuple(rn(s) for s in norm.forward),
            backward=tuple(rn(s) for s in norm.backward),
            grad_gamma=rn(norm.grad_gamma),
            grad_beta=rn(norm.grad_beta),
        )
    return replace(layer, l=k, norm=norm, **fields)


def transplant(d: Derivation, c: Cover, small: NetworkSpec) -> tuple[Derivation, list[str]]:
    """The instance's derivation made of `d`'s own steps (instance layer k: the deep layer
    it copies, renamed to k), and every difference found by `compared_layers`."""
    layers = []
    for k, l in enumerate(c.layers, start=1):
        moved = renamed_layer(d.layers[l - 1], k)
        layers.append(replace(moved, width=small.widths[k], fan_in=small.widths[k - 1]))
    d_small = replace(d, spec=small, layers=tuple(layers))
    mismatches = []
    for l, k in compared_layers(c):
        mismatches += differences(d.layers[l - 1], layers[k - 1], "instance layer")
    return d_small, mismatches


def differences(layer, other, other_is: str = "layer") -> list[str]:
    """How `layer`, renamed to `other`'s number, differs from `other` (nothing: the same
    steps in every form the proof evaluates)."""
    l, k = layer.l, other.l
    mine, theirs = _steps(renamed_layer(layer, k)), _steps(other)
    if [s.label for s in mine] != [s.label for s in theirs]:
        return [f"layer {l}'s steps are not {other_is} {k}'s kinds of step"]
    out = []
    for a, b in zip(mine, theirs):
        if any(getattr(a, f) != getattr(b, f) for f in STEPS):
            deep = a.label.rsplit("-", 1)[0] + f"-{l}"
            out.append(f"{deep} is not {other_is} {k}'s {b.label} renamed: {a.batch} vs {b.batch}")
    return out


def repeated_links(d: Derivation) -> dict[int, int]:
    """Links Z(j) -> Z(j+1) of `d` that are an earlier link j0 renamed: j -> j0.

    The same kinds of layer at the same widths, and both layers' steps equal to j0's and
    j0+1's after renaming (a link that differs is not listed: it is proven on its own). A
    cover's walk can pass a pair of layer types more than once; each is proven once.
    """
    spec, out, first = d.spec, {}, {}
    kind = lambda l: (*_kind(spec.layers[l - 1]), spec.widths[l], l == spec.depth)
    for j in range(1, spec.depth):
        j0 = first.setdefault((kind(j), kind(j + 1)), j)
        if j0 != j and not any(
            differences(d.layers[a - 1], d.layers[b - 1]) for a, b in ((j, j0), (j + 1, j0 + 1))
        ):
            out[j] = j0
    return out


def _kind(x) -> tuple:
    return (x.activation, x.param, x.batchnorm, x.dropout)


def describe_links(c: Cover) -> str:
    """'links 0 -> 0, 1..5 -> 1, 6 -> 2, 7 -> 3' in the style of Cover.describe."""
    return runs(link_image(c), start=0)
