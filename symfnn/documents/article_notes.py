"""Where the document corrects the source article: every number here is computed by SymPy.

- Nielsen's one-neuron chain, differentiated: ∂C/∂b_1 and ∂C/∂b_3 as products of σ'(z_j) and
  w_j, and their exact ratio w_2 w_3 σ'(z_1) σ'(z_2) (the article pairs each weight with the
  σ' one layer later);
- the maximum of σ' (1/4, at z = 0), which bounds each factor;
- P(|w| < 1) for w ~ N(0, 1), erf(1/√2) ≈ 0.683: not "all weights", as the article says.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp


@dataclass(frozen=True)
class Chain:
    """Nielsen's chain of `n` sigmoid neurons: z_j = w_j a_{j-1} + b_j, a_j = σ(z_j), C(a_n)."""

    n: int
    grads: dict[int, sp.Expr]  # j -> ∂C/∂b_j, written with σ'(z_j), w_j and ∂C/∂a_n
    ratio: sp.Expr  # ∂C/∂b_1 / ∂C/∂b_3
    article_ratio: sp.Expr  # the article's (w_2 σ'(z_2))(w_3 σ'(z_3))
    sigma_max: sp.Expr  # max σ'(z) = 1/4
    argmax: sp.Expr  # at z = 0
    p_small: sp.Expr  # P(|w| < 1) for w ~ N(0, 1), exact
    p_both: sp.Expr  # P(|w_2| < 1 and |w_3| < 1)
    p_event: sp.Expr  # the unevaluated P(|w| < 1), as printed


def sigma_prime(z: sp.Expr) -> sp.Expr:
    """σ'(z), as an unevaluated derivative of the undefined σ (printed σ'(z))."""
    from .tidy import activation_function

    u = sp.Dummy("u")
    return sp.Subs(sp.Derivative(activation_function("sigmoid")(u), u), u, z)


@cache
def chain(n: int = 4) -> Chain:
    """Differentiate the chain by each bias with SymPy's chain rule, then name each z_j."""
    from .tidy import activation_function

    sigma = activation_function("sigmoid")
    x = sp.Symbol("x")
    w = [None] + [sp.Symbol(f"w_{j}") for j in range(1, n + 1)]
    b = [None] + [sp.Symbol(f"b_{j}") for j in range(1, n + 1)]
    zs = [None] + [sp.Symbol(f"z_{j}") for j in range(1, n + 1)]
    a_n = sp.Symbol(f"a_{n}")
    cost = sp.Function("C")
    exprs, a = [], x
    for j in range(1, n + 1):
        z = w[j] * a + b[j]
        exprs.append(z)
        a = sigma(z)
    C = cost(a)
    grads = {}
    for j in range(1, n + 1):
        g = sp.diff(C, b[j]).doit()
        for k in range(1, n + 1):  # name the net inputs, innermost first: z_1, …, z_n
            g = g.subs(_inner(exprs, k, sigma, zs), zs[k])
        g = g.replace(lambda e: isinstance(e, sp.Subs), lambda e: e.doit())
        g = g.replace(
            lambda e: isinstance(e, sp.Derivative) and e.expr.has(cost),
            lambda e: sp.Derivative(sp.Symbol("C"), a_n),
        )
        grads[j] = g
    ratio = sp.cancel(grads[1] / grads[3])
    article = w[2] * sigma_prime(zs[2]).doit() * w[3] * sigma_prime(zs[3]).doit()
    # σ' = a(1 - a) in the sigmoid's output a: its maximum, and the z where σ(z) = a
    from ..engine.activations import a as a_sym
    from ..engine.activations import derive_activation, lookup

    sig = derive_activation("sigmoid")
    (a_star,) = sp.solve(sp.diff(sig.fprime_of_a, a_sym), a_sym)
    sigma_max = sig.fprime_of_a.subs(a_sym, a_star)
    argmax = sp.simplify(lookup("sigmoid").pieces[0][2].subs(a_sym, a_star))
    from sympy.stats import Normal, Probability, cdf

    W = Normal("w", 0, 1)
    F = cdf(W)
    p_small = sp.simplify(F(1) - F(-1))  # P(-1 < w < 1)
    event = Probability(sp.Abs(W) < 1)
    return Chain(n, grads, ratio, article, sigma_max, argmax, p_small, p_small**2, event)


def in_chain_order(g: sp.Expr) -> sp.Expr:
    """The factors as Nielsen writes them: σ'(z_1) w_2 σ'(z_2) … σ'(z_n) ∂C/∂a_n."""

    def position(f):
        if isinstance(f, sp.Derivative) and f.expr == sp.Symbol("C"):
            return (100, 0)
        name = (f.variables[0] if isinstance(f, sp.Derivative) else f).name
        j = int(name.split("_")[1]) if "_" in name else 99
        return (j, 0 if isinstance(f, sp.Symbol) else 1)

    return sp.Mul(*sorted(sp.Mul.make_args(g), key=position), evaluate=False)


def _inner(exprs, k, sigma, zs):
    """The k-th net input as it appears after z_{k-1} has been named."""
    z = exprs[k - 1]
    for m in range(k - 1, 0, -1):
        z = z.subs(exprs[m - 1], zs[m])
    return z
