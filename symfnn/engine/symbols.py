"""How the math's symbols are named, so SymPy, LaTeX and NumPy code say the same thing.

A name is a stem plus a layer tag: `W2`, `b2`, `z2`, `a1`, `delta2`, and for the general
derivation `W_l`, `W_lp1` (layer l+1), `a_lm1` (layer l-1). The printers read names back
with `parse_name`; nothing else in symfnn builds or splits these strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

_GENERIC = {"l": "l", "lp1": "l+1", "lm1": "l-1", "L": "L", "Lm1": "L-1"}
_NAME = re.compile(r"^(W|b|z|a|delta|y|Z|A|Delta|Y|dW|db)(\d+|_l|_lp1|_lm1|_L|_Lm1)?$")

# Index symbols of the index-level derivation. `p`, `q` are the fresh indices we
# differentiate by: differentiating by a bound summation index gives wrong results.
i, j, k, p, q = sp.symbols("i j k p q", integer=True)
N = sp.Symbol("N", integer=True, positive=True)  # the mini-batch size


def tag(layer: int | str) -> str:
    """`2` -> '2', 'l' -> '_l', 'l+1' -> '_lp1', 'l-1' -> '_lm1'."""
    if isinstance(layer, int):
        return str(layer)
    return "_" + {v: key for key, v in _GENERIC.items()}[layer]


def parse_name(name: str) -> tuple[str, str | None] | None:
    """'delta2' -> ('delta', '2'); 'W_lp1' -> ('W', 'l+1'); 'y' -> ('y', None)."""
    m = _NAME.match(name)
    if not m:
        return None
    stem, t = m.groups()
    if t is None:
        return stem, None
    return stem, t if t.isdigit() else _GENERIC[t[1:]]


def width(layer: int | str) -> sp.Symbol:
    """The width m^{(l)} of a layer, as a positive integer symbol."""
    return sp.Symbol(f"m{tag(layer)}", integer=True, positive=True)


@dataclass(frozen=True)
class LayerSymbols:
    """The index-level (IndexedBase) and matrix-level (MatrixSymbol) names of one layer."""

    layer: int | str
    W: sp.IndexedBase
    b: sp.IndexedBase
    z: sp.IndexedBase
    a: sp.IndexedBase
    delta: sp.IndexedBase
    m: sp.Symbol

    def matrices(self, m_prev: sp.Expr) -> dict[str, sp.MatrixSymbol]:
        """Column-vector / matrix symbols in the article's shapes."""
        t, m = tag(self.layer), self.m
        return {
            "W": sp.MatrixSymbol(f"W{t}", m, m_prev),
            "b": sp.MatrixSymbol(f"b{t}", m, 1),
            "z": sp.MatrixSymbol(f"z{t}", m, 1),
            "a": sp.MatrixSymbol(f"a{t}", m, 1),
            "delta": sp.MatrixSymbol(f"delta{t}", m, 1),
        }


def layer_symbols(layer: int | str) -> LayerSymbols:
    t = tag(layer)
    return LayerSymbols(
        layer,
        *(sp.IndexedBase(f"{stem}{t}", real=True) for stem in ("W", "b", "z", "a", "delta")),
        width(layer),
    )


def target() -> sp.IndexedBase:
    """The sample's target y (one-hot for classification, real for regression)."""
    return sp.IndexedBase("y", real=True)
