"""The bound on the error's growth, derived from the δ recurrence; and the chapter's measures.

The recurrence δ^{(l)} = f_l'(z^{(l)}) ⊙ (W^{(l+1)})ᵀ δ^{(l+1)} (the main derivation's
eq:delta) gives, taking norms, one factor per layer:

    ‖δ^{(l)}‖ ≤ ‖f_l'(z^{(l)})‖_∞ ‖(W^{(l+1)})ᵀ δ^{(l+1)}‖ ≤ sup|f_l'| ‖W^{(l+1)}‖₂ ‖δ^{(l+1)}‖

and, unrolled down to the output layer, ‖δ^{(l)}‖ ≤ ∏_{j=l}^{L-1} sup|f_j'| ‖W^{(j+1)}‖₂ ‖δ^{(L)}‖.
`recurrence_bound` builds these as SymPy objects, unrolls the one-step bound by substitution
and checks that it is the product (for several depths), so the chapter prints what was
derived; `product_value` evaluates the very same product for measured norms.

    one-step bound ─substitute L-l times─▶ unrolled == Product(…).doit()  (checked)
    Product ─subs l, L; slopes, norms─▶ the number the text quotes
"""

from __future__ import annotations

from functools import cache

import sympy as sp

l, j, L = sp.symbols("l j L", integer=True, positive=True)


def _index(t: sp.Expr) -> str:
    """A layer index as the text reads it (l + 1, not 1 + l), whatever the outer printer."""
    return sp.latex(t)


class _Nonnegative(sp.Expr):
    """A real, non-negative quantity (norms, suprema): lets SymPy build ≤ between them."""

    is_commutative = True
    is_extended_real = True
    is_extended_nonnegative = True
    is_finite = True

    def _symfnn_latex(self, printer):  # symfnn's own printer (latexprint) reads this name
        return self._latex(printer)


class Layered(sp.Expr):
    """A per-layer object, x^{(t)}: `Layered("W", l + 1)` prints W^{(l+1)}."""

    is_commutative = False

    def __new__(cls, stem, index):
        stem = stem if isinstance(stem, sp.Symbol) else sp.Symbol(stem)
        return sp.Expr.__new__(cls, stem, sp.sympify(index))

    def _latex(self, printer):
        return f"{self.args[0].name}^{{({_index(self.args[1])})}}"

    _symfnn_latex = _latex


class Slope(sp.Expr):
    """f_t'(z^{(t)}): the vector of layer t's activation slopes."""

    is_commutative = False

    def __new__(cls, index):
        return sp.Expr.__new__(cls, sp.sympify(index))

    def _latex(self, printer):
        t = _index(self.args[0])
        return rf"f_{{{t}}}'\!\left(z^{{({t})}}\right)"

    _symfnn_latex = _latex


class Hadamard(sp.Expr):
    """u ⊙ v, kept as written."""

    is_commutative = False

    def _latex(self, printer):
        return r" \odot ".join(printer._print(a) for a in self.args)

    _symfnn_latex = _latex


class TransposeTimes(sp.Expr):
    """(W)ᵀ v, kept as written."""

    is_commutative = False

    def _latex(self, printer):
        W, v = (printer._print(a) for a in self.args)
        return rf"\left({W}\right)^{{\top}} {v}"

    _symfnn_latex = _latex


class Norm(_Nonnegative):
    """‖x‖ (Euclidean), or ‖x‖_p with a second argument (2: spectral, ∞: largest entry)."""

    def __new__(cls, x, *p):
        return sp.Expr.__new__(cls, x, *(sp.sympify(v) for v in p))

    def _latex(self, printer):
        body = rf"\left\| {printer._print(self.args[0])} \right\|"
        return body if len(self.args) == 1 else f"{body}_{{{printer._print(self.args[1])}}}"


class SupSlope(_Nonnegative):
    """sup_z |f_t'(z)|: the largest slope of layer t's activation (flow.symbolic.derivative_max)."""

    def __new__(cls, index):
        return sp.Expr.__new__(cls, sp.sympify(index))

    def _latex(self, printer):
        return rf"\sup_{{z}} \left|f_{{{_index(self.args[0])}}}'(z)\right|"


class Log10(_Nonnegative):
    def _latex(self, printer):
        return rf"\log_{{10}} {printer._print(self.args[0])}"


class OverLayers(_Nonnegative):
    """max_l x_l or min_l x_l (first argument 'max' or 'min')."""

    def __new__(cls, op, x):
        return sp.Expr.__new__(cls, sp.Symbol(str(op)), x)

    def _latex(self, printer):
        return rf"\{self.args[0].name}_{{l}} {printer._print(self.args[1])}"


def delta(t) -> Layered:
    return Layered(r"\delta", t)


def W(t) -> Layered:
    return Layered("W", t)


def _one_step(t) -> sp.Expr:
    """The bound of ‖δ^{(t)}‖ by ‖δ^{(t+1)}‖: sup|f_t'| ‖W^{(t+1)}‖₂ ‖δ^{(t+1)}‖."""
    return SupSlope(t) * Norm(W(t + 1), 2) * Norm(delta(t + 1))


def factor(t) -> sp.Expr:
    """Layer t's factor of the product bound."""
    return _one_step(t) / Norm(delta(t + 1))


def product() -> sp.Product:
    """∏_{j=l}^{L-1} sup|f_j'| ‖W^{(j+1)}‖₂, the bound on ‖δ^{(l)}‖ / ‖δ^{(L)}‖."""
    return sp.Product(factor(j), (j, l, L - 1))


def unrolled(first: int, last: int) -> sp.Expr:
    """Substitute the one-step bound into itself from layer `first` down to `last`."""
    bound = _one_step(first)
    for t in range(first + 1, last):
        bound = bound.xreplace({Norm(delta(t)): _one_step(t)})
    return bound


@cache
def recurrence_bound(depths: tuple[int, ...] = (2, 3, 4, 5, 6)) -> dict:
    """The derivation's lines as LaTeX, and the check that unrolling gives the product."""
    vector = TransposeTimes(W(l + 1), delta(l + 1))
    recurrence = Hadamard(Slope(l), vector)
    # written in the order of the argument: slope, matrix, error
    steps = [
        Norm(recurrence),
        sp.Mul(Norm(Slope(l), sp.oo), Norm(vector), evaluate=False),
        sp.Mul(SupSlope(l), Norm(W(l + 1), 2), Norm(delta(l + 1)), evaluate=False),
    ]
    for depth in depths:  # the product form is the unrolled recurrence, checked depth by depth
        closed = product().subs({l: 1, L: depth}).doit() * Norm(delta(depth))
        if sp.simplify(unrolled(1, depth) - closed) != 0:
            raise AssertionError(f"the product bound is not the unrolled recurrence (L={depth})")
    ratio = Norm(delta(l)) / Norm(delta(L))
    return {
        "lhs": sp.latex(Norm(delta(l))),
        "recurrence": sp.latex(sp.Eq(delta(l), recurrence, evaluate=False)),
        "steps": [sp.latex(s, order="none") for s in steps],
        "product": sp.latex(sp.Le(ratio, product(), evaluate=False)),
        "factor": sp.latex(factor(l)),
        "checked_depths": list(depths),
    }


def product_value(first: int, depth: int, slopes: dict[int, float], norms: dict[int, float]):
    """The product bound for ‖δ^{(first)}‖/‖δ^{(depth)}‖: slopes[t] = sup|f_t'|,
    norms[t] = ‖W^{(t)}‖₂ (measured or estimated); the same `product()` the text prints."""
    expr = product().subs({l: first, L: depth}).doit()
    values = {SupSlope(t): sp.nsimplify(v) if isinstance(v, int) else v for t, v in slopes.items()}
    values |= {Norm(W(t), 2): v for t, v in norms.items()}
    out = expr.xreplace(values)
    if out.free_symbols or out.atoms(_Nonnegative):
        raise ValueError(f"product bound left unevaluated: {out}")
    return sp.nsimplify(out) if out.is_Rational else float(out)


@cache
def orders_definition() -> str:
    """O = log10(max_l ‖∂R/∂W^{(l)}‖ / min_l ‖∂R/∂W^{(l)}‖), printed."""
    grad = Norm(sp.Symbol(r"\frac{\partial R}{\partial W^{(l)}}"))
    orders = Log10(OverLayers("max", grad) / OverLayers("min", grad))
    return sp.latex(sp.Eq(sp.Symbol("O"), orders, evaluate=False))


def orders(values: list[float]) -> float | None:
    """The measure `orders_definition` prints, for a list of per-layer norms."""
    import math

    if not values or any(not math.isfinite(v) or v <= 0 for v in values):
        return None
    return math.log10(max(values) / min(values))
