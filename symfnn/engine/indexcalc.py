"""Cleaning SymPy's index-level derivatives into textbook form.

`diff` of an `IndexedBase` expression by a fresh entry `W[p, q]` yields sums of
`KroneckerDelta` products; `.doit()` would leave `Piecewise` bound checks. `fold` instead
expands each sum, pulls out what does not depend on its index, and folds every delta sum
with `deltasummation(..., no_piecewise=True)` (DESIGN.md, measured on SymPy 1.14).
"""

from __future__ import annotations

import sympy as sp
from sympy.concrete.delta import deltasummation


def _common_factors(pw: sp.Piecewise) -> sp.Expr:
    """Factors shared by every non-zero branch of a Piecewise (a delta, a weight entry)."""
    branches = [e for e, _ in pw.args if e != 0]
    if not branches:
        return sp.S.One
    shared = set(sp.Mul.make_args(branches[0]))
    for e in branches[1:]:
        shared &= set(sp.Mul.make_args(e))
    return sp.Mul(*(f for f in shared if not f.is_number))


def pull_out_of_piecewise(e: sp.Expr) -> sp.Expr:
    """Piecewise((K·u, c), (K·v, True)) -> K·Piecewise((u, c), (v, True)), innermost first."""

    def pull(pw: sp.Piecewise) -> sp.Expr:
        k = _common_factors(pw)
        if k == 1:
            return pw
        return k * sp.Piecewise(*((sp.cancel(e / k) if e != 0 else e, c) for e, c in pw.args))

    return e.replace(lambda x: isinstance(x, sp.Piecewise), pull)


def fold(e: sp.Expr) -> sp.Expr:
    """Fold every KroneckerDelta sum in e, bottom-up, and collect what is left."""
    e = pull_out_of_piecewise(e)
    if not e.args:
        return e
    if isinstance(e, sp.Sum):
        return _fold_sum(fold(e.function), e.limits)
    return e.func(*(fold(arg) for arg in e.args))


def _fold_sum(body: sp.Expr, limits) -> sp.Expr:
    (idx, lo, hi), *outer = limits
    out = sp.S.Zero
    for term in sp.Add.make_args(sp.expand_mul(body)):
        factors = sp.Mul.make_args(term)
        free = sp.Mul(*(f for f in factors if idx not in f.free_symbols))
        inner = sp.Mul(*(f for f in factors if idx in f.free_symbols))
        if inner.has(sp.KroneckerDelta):
            summed = deltasummation(inner, (idx, lo, hi), no_piecewise=True)
        elif idx not in inner.free_symbols:
            summed = inner * (hi - lo + 1)
        else:
            summed = sp.Sum(inner, (idx, lo, hi))
        out += free * summed
    out = sp.factor_terms(out)
    return _fold_sum(out, outer) if outer else out
