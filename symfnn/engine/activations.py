"""Activation functions as data: one entry per activation, with its SymPy definition.

An entry gives the function as pieces `(expression in z, condition on z, inverse)`; the
derivative, its form in terms of the output `a`, and the proof that the two agree are all
computed by `derive_activation`, never written here. The inverse maps `a` back to `z` on
a piece whose derivative depends on `z`, which is how the output form is found (DESIGN.md:
`solve` is slow and fragile). Every piecewise activation here is increasing with f(0) = 0,
so a condition `z > 0` holds exactly when `a > 0`; `derive_activation` checks that too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from ..errors import DerivationError

z = sp.Symbol("z", real=True)
a = sp.Symbol("a", real=True)
c = sp.Symbol("c", positive=True)  # the activation's parameter (slope, alpha)

Piece = tuple[sp.Expr, sp.Basic, sp.Expr | None]  # (f on the piece, condition on z, z(a))


@dataclass(frozen=True)
class Activation:
    """One row of the rule table."""

    name: str
    latex: str  # how its name prints: \sigma, \tanh, \operatorname{ReLU}
    pieces: tuple[Piece, ...]
    param: str | None = None  # name of its parameter, if any
    default: float | None = None
    output_only: bool = False  # softmax: needs the whole vector, so output layer only

    def definition(self, param: float | None = None) -> sp.Expr:
        """f(z) as one SymPy expression (Piecewise where it has pieces)."""
        expr = (
            self.pieces[0][0]
            if len(self.pieces) == 1
            else sp.Piecewise(*((e, cond) for e, cond, _ in self.pieces))
        )
        return self.bind(expr, param)

    def rectifier(self) -> bool:
        """f(z) = z for z > 0 and another piece below: the units He initialisation was derived
        for (the positive half passes the variance unchanged; the negative half damps it)."""
        return len(self.pieces) > 1 and any(
            e == z and cond == (z > 0) for e, cond, _ in self.pieces
        )

    def bind(self, expr: sp.Expr, param: float | None) -> sp.Expr:
        """Put the layer's parameter value in place of the symbol `c`."""
        if self.param is None:
            return expr
        value = self.default if param is None else param
        return expr.subs(c, sp.nsimplify(value))


TABLE: dict[str, Activation] = {}


def register(act: Activation) -> Activation:
    TABLE[act.name] = act
    return act


register(Activation("identity", r"\operatorname{id}", ((z, sp.true, a),)))
register(Activation("sigmoid", r"\sigma", ((1 / (1 + sp.exp(-z)), sp.true, sp.log(a / (1 - a))),)))
register(Activation("tanh", r"\tanh", ((sp.tanh(z), sp.true, sp.atanh(a)),)))
register(
    Activation("relu", r"\operatorname{ReLU}", ((z, z > 0, a), (sp.Integer(0), sp.true, None)))
)
register(
    Activation(
        "leaky_relu",
        r"\operatorname{LReLU}",
        ((z, z > 0, a), (c * z, sp.true, a / c)),
        param="slope",
        default=0.01,
    )
)
register(
    Activation(
        "softplus",
        r"\operatorname{softplus}",
        ((sp.log(1 + sp.exp(z)), sp.true, sp.log(sp.exp(a) - 1)),),
    )
)
register(
    Activation(
        "elu",
        r"\operatorname{ELU}",
        ((z, z > 0, a), (c * (sp.exp(z) - 1), sp.true, sp.log(a / c + 1))),
        param="alpha",
        default=1.0,
    )
)
# softmax is not element-wise: its single "piece" is the numerator; derive.py divides by
# the sum over the layer. It has no inverse in the per-element sense.
register(
    Activation(
        "softmax", r"\operatorname{softmax}", ((sp.exp(z), sp.true, None),), output_only=True
    )
)


@dataclass(frozen=True)
class ActivationDerivation:
    """What SymPy derived for one activation (with its parameter bound)."""

    name: str
    latex: str
    param: float | None
    f: sp.Expr  # f(z)
    fprime_raw: sp.Expr  # diff(f, z) as SymPy returns it
    fprime: sp.Expr  # simplified, still in z
    fprime_of_a: sp.Expr | None  # the same in terms of a = f(z), or None
    proven: bool  # fprime_of_a(f(z)) == fprime(z) was shown symbolically
    elementwise: bool


def lookup(name: str) -> Activation:
    try:
        return TABLE[name]
    except KeyError:
        raise DerivationError(f"unknown activation {name!r}") from None


def _simplify(expr: sp.Expr) -> sp.Expr:
    """The shortest of a few rewritings that keep the textbook's exp/log/tanh form."""
    candidates = [sp.simplify(expr), expr, sp.cancel(expr)]  # ties go to the first
    candidates = [e for e in candidates if not e.has(sp.cosh, sp.sinh)] or [expr]
    return min(candidates, key=sp.count_ops)


def _is_zero(expr: sp.Expr) -> bool:
    return sp.simplify(sp.expand(expr.rewrite(sp.exp))) == 0


@cache
def derive_activation(name: str, param: float | None = None) -> ActivationDerivation:
    """Differentiate f, rewrite f' in terms of a piece by piece, and prove each piece."""
    act = lookup(name)
    f = act.definition(param)
    if act.output_only:  # softmax: derive.py handles the vector Jacobian
        return ActivationDerivation(
            name, act.latex, param, f, sp.S.Zero, sp.S.Zero, None, False, False
        )
    raw = sp.diff(f, z)
    pieces_z, pieces_a, proven = [], [], True
    for expr, cond, inverse in act.pieces:
        expr = act.bind(expr, param)
        d = _simplify(sp.diff(expr, z))
        cond_a = cond.subs(z, a) if cond is not sp.true else sp.true
        if not d.has(z):
            d_a = d
        elif inverse is None:
            d_a, proven = None, False
        else:
            d_a = _simplify(d.subs(z, act.bind(inverse, param)))
            # The proof: substituting a = f(z) back must give f'(z) exactly.
            proven &= _is_zero(d_a.subs(a, expr) - d)
        pieces_z.append((d, cond))
        pieces_a.append((d_a, cond_a))
        if cond is not sp.true:
            # a > 0 <=> z > 0 needs f(0) = 0 and f increasing on the piece
            proven &= sp.limit(expr, z, 0) == 0
    fprime = pieces_z[0][0] if len(pieces_z) == 1 else sp.Piecewise(*pieces_z)
    if any(d is None for d, _ in pieces_a):
        fprime_a = None
    else:
        fprime_a = pieces_a[0][0] if len(pieces_a) == 1 else sp.Piecewise(*pieces_a)
    if fprime_a is not None and not proven:
        raise DerivationError(f"could not prove the output form of {name}'s derivative")
    return ActivationDerivation(name, act.latex, param, f, raw, fprime, fprime_a, proven, True)


def names() -> list[str]:
    return list(TABLE)
