"""Vanishing and exploding gradients, derived: Nielsen's chain, derivative maxima, bounds.

Every number here comes out of SymPy: the chain's gradient is differentiated from its cost,
each activation's largest slope is found from its derivative's critical points, and the
article's 1/4, 1/16, 25 and 25^k are what the derived expressions give when the article's
conditions are substituted (equations.md, section 6). `analyse` returns them all as exact
strings, LaTeX and floats, ready for JSON.

    k ─▶ chain(k) ─▶ ratio, bounds ─┐
    activations ─▶ derivative_max ──┼─▶ analyse(spec, k) -> dict
    spec × init scheme ─▶ spec_bounds ┘
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from ..engine import training
from ..engine.activations import derive_activation
from ..engine.activations import z as Z
from ..engine.batchnorm import keep_scale
from ..engine.spec import NetworkSpec

C = sp.Function("C")  # the cost, as a function of the chain's output only
sigma = sp.Function("sigma")  # the chain's activation, generic until substituted


class sigma_prime(sp.Function):
    """σ'(z), printed as such; replaced by the derived derivative where a number is wanted."""

    name, tex = "sigma", r"\sigma"

    def _latex(self, printer):
        return rf"{self.tex}'\!\left({printer._print(self.args[0])}\right)"

    def _sympystr(self, printer):
        return f"{self.name}'({printer._print(self.args[0])})"


class f_prime(sigma_prime):
    """f'(z) for a generic activation f (a table's column head)."""

    name, tex = "f", "f"


class Partial(sp.Function):
    """∂f/∂x unevaluated, printed as a Leibniz quotient whatever f depends on."""

    def _latex(self, printer):
        f, x = (printer._print(a) for a in self.args)
        return rf"\frac{{\partial {f}}}{{\partial {x}}}"


class Quotient(sp.Function):
    """a / b written on one line, a \\Big/ b: no fraction of fractions."""

    def _latex(self, printer):
        a, b = (printer._print(x) for x in self.args)
        return rf"{a} \Big/ {b}"


class Norm(sp.Function):
    """‖x‖, unevaluated."""

    def _latex(self, printer):
        return rf"\left\| {printer._print(self.args[0])} \right\|"


def exact(expr: sp.Basic) -> dict:
    """An expression as JSON: exact text, LaTeX and (when it is a number) a float."""
    out = {"exact": sp.sstr(expr), "latex": sp.latex(expr)}
    if isinstance(expr, sp.Expr) and expr.is_number:
        value = sp.N(expr, 30)
        out["float"] = float(value) if value.is_real else None
    return out


# -- Nielsen's chain ------------------------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    """A chain of k one-neuron layers, z_j = w_j a_{j-1} + b_j, a_j = σ(z_j), cost C(a_k).

    `grad_b[j]` is ∂C/∂b_j as SymPy's `diff` gives it, rewritten in the names z_j, a_j and
    σ'(z_j); `product[j]` is the article's product written out, and `equal[j]` records that
    the two are identical. `ratio` is ∂C/∂b_1 / ∂C/∂b_3 after `simplify`; `input_gain` is
    ∂C/∂x / ∂C/∂a_k, the product of all k factors w_j σ'(z_j).
    """

    k: int
    w: tuple[sp.Symbol, ...]  # w_1 … w_k
    b: tuple[sp.Symbol, ...]
    z: tuple[sp.Symbol, ...]
    a: tuple[sp.Symbol, ...]
    x: sp.Symbol
    cost: sp.Expr  # C(σ(w_k σ(…) + b_k)) as differentiated
    dC_da: sp.Expr  # ∂C/∂a_k
    grad_b: tuple[sp.Expr, ...]
    product: tuple[sp.Expr, ...]
    equal: tuple[bool, ...]
    ratio: sp.Expr | None  # None when k < 3
    input_gain: sp.Expr
    numeric_check: float  # largest relative error, real sigmoid, random points


@cache
def chain(k: int = 4) -> Chain:
    """Differentiate the chain's cost with respect to every bias and name the factors."""
    if k < 1:
        raise ValueError(f"the chain needs at least one layer, got k={k}")
    real = {"real": True}
    x = sp.Symbol("x", **real)
    w = tuple(sp.Symbol(f"w_{j}", **real) for j in range(1, k + 1))
    b = tuple(sp.Symbol(f"b_{j}", **real) for j in range(1, k + 1))
    z = tuple(sp.Symbol(f"z_{j}", **real) for j in range(1, k + 1))
    a = tuple(sp.Symbol(f"a_{j}", **real) for j in range(1, k + 1))
    # [symbols] -> nested expression: the whole chain as one function of every w, b and x
    nested_z, nested_a, prev = [], [], x
    for j in range(k):
        nested_z.append(w[j] * prev + b[j])
        prev = sigma(nested_z[-1])
        nested_a.append(prev)
    cost = C(prev)
    # Name the nested sub-expressions; xreplace matches the outermost first.
    names = {e: s for e, s in zip(nested_z, z)} | {e: s for e, s in zip(nested_a, a)}

    def rename(expr: sp.Expr) -> sp.Expr:
        # [diff result: Subs(Derivative(σ(ξ), ξ), ξ, …)] -> [σ'(z_j)]
        expr = expr.replace(
            lambda e: isinstance(e, sp.Subs) and e.expr.func is sp.Derivative,
            lambda e: sigma_prime(e.point[0]),
        )
        expr = expr.replace(
            lambda e: isinstance(e, sp.Derivative) and e.expr.func is sigma,
            lambda e: sigma_prime(e.expr.args[0]),
        )
        return expr.xreplace(names)

    dC_da = sp.Derivative(C(a[-1]), a[-1])
    grad_b, product, equal = [], [], []
    for j in range(k):
        g = rename(sp.diff(cost, b[j]))
        # The article's product: σ'(z_j) · w_{j+1} σ'(z_{j+1}) ⋯ w_k σ'(z_k) · ∂C/∂a_k
        prod = sigma_prime(z[j]) * sp.Mul(*(w[i] * sigma_prime(z[i]) for i in range(j + 1, k)))
        prod = prod * dC_da
        grad_b.append(g)
        product.append(prod)
        equal.append(sp.simplify(g - prod) == 0)
    ratio = sp.simplify(grad_b[0] / grad_b[2]) if k >= 3 else None
    gain = sp.simplify(rename(sp.diff(cost, x)) / dC_da)
    check = _numeric_check(cost, b, w, x, product, a, z, nested_a, nested_z)
    return Chain(
        k,
        w,
        b,
        z,
        a,
        x,
        cost,
        dC_da,
        tuple(grad_b),
        tuple(product),
        tuple(equal),
        ratio,
        gain,
        check,
    )


def _numeric_check(cost, b, w, x, product, a, z, nested_a, nested_z, points: int = 3) -> float:
    """Put the real sigmoid and C(a) = a²/2 in; diff of the whole vs the product, 30 digits."""
    sig = derive_activation("sigmoid")
    real_sigma = sp.Lambda(Z, sig.f)
    half_square = sp.Lambda(Z, Z**2 / 2)
    whole = cost.replace(sigma, real_sigma).replace(C, half_square)
    rng = _rng()
    worst = 0.0
    for _ in range(points):
        at = {s: sp.Rational(int(rng.integers(-200, 200)), 100) for s in (*w, *b, x)}
        zs = [e.replace(sigma, real_sigma).subs(at) for e in nested_z]
        as_ = [e.replace(sigma, real_sigma).subs(at) for e in nested_a]
        values = {**dict(zip(z, zs)), **dict(zip(a, as_)), **at}
        for bj, prod in zip(b, product):
            direct = sp.N(sp.diff(whole, bj).subs(at), 30)
            claimed = prod.replace(sigma_prime, sp.Lambda(Z, sig.fprime))
            claimed = claimed.replace(C, half_square).doit()
            claimed = sp.N(claimed.subs(values), 30)
            worst = max(worst, float(abs(direct - claimed) / (abs(direct) + 1e-300)))
    return worst


def _rng():
    import numpy as np

    return np.random.default_rng(20240601)


# -- the largest slope of each activation --------------------------------------------------


@dataclass(frozen=True)
class DerivativeMax:
    """sup |f'(z)| over the reals, where it is reached, and whether it is reached."""

    name: str
    fprime: sp.Expr
    sup: sp.Expr
    at: sp.Expr | None  # a z where |f'| = sup, or None when only approached
    attained: bool


def _pieces(fprime: sp.Expr) -> list[tuple[sp.Expr, sp.Set]]:
    """f' as (expression, the part of the real line where it applies)."""
    if not isinstance(fprime, sp.Piecewise):
        return [(fprime, sp.S.Reals)]
    out, left = [], sp.S.Reals
    for expr, cond in fprime.args:
        region = left if cond is sp.true else left.intersect(cond.as_set())
        out.append((expr, region))
        left = left - region
    return out


def _boundaries(region: sp.Set) -> list[sp.Expr]:
    ends = []
    for part in region.args if isinstance(region, sp.Union) else (region,):
        if isinstance(part, sp.Interval):
            ends += [part.start, part.end]
    return ends


@cache
def derivative_max(name: str, param: float | None = None) -> DerivativeMax:
    """Find sup |f'| piece by piece: critical points, the pieces' ends and ±∞."""
    fprime = derive_activation(name, param).fprime
    best, best_at, attained = sp.S.NegativeInfinity, None, False
    for expr, region in _pieces(fprime):
        if region is sp.S.EmptySet:
            continue
        candidates: list[tuple[sp.Expr, sp.Expr | None, bool]] = []
        if not expr.has(Z):
            inside = next(iter(_sample(region)))
            candidates.append((abs(expr), inside, True))
        else:
            critical = sp.solveset(sp.diff(expr, Z), Z, region)
            if isinstance(critical, sp.FiniteSet):
                candidates += [(abs(expr.subs(Z, c)), c, True) for c in critical]
            for end in _boundaries(region):
                side = "+" if end == region.inf else "-"
                value = sp.limit(expr, Z, end, side)
                candidates.append(
                    (abs(value), end if end.is_finite else None, region.contains(end) is sp.true)
                )
        for value, at, reached in candidates:
            value = sp.nsimplify(sp.simplify(value))
            if (value > best) is sp.true:
                best, best_at, attained = value, at, reached
            elif value == best and reached and not attained:
                best_at, attained = at, True
    return DerivativeMax(name, fprime, best, best_at, attained)


def _sample(region: sp.Set):
    """One point of a region, for a constant piece (0 if allowed, else near an end)."""
    if region.contains(0) is sp.true:
        return [sp.Integer(0)]
    for end in _boundaries(region):
        if end.is_finite:
            return [end + (1 if region.contains(end + 1) is sp.true else -1)]
    return [sp.Integer(0)]


# -- the article's bounds ------------------------------------------------------------------


def article(k: int = 4) -> dict:
    """The article's numbers from the chain: 1/4, 1/16, 25, 25^k, P(|w| < 1)."""
    ch = chain(max(k, 3))
    smax = derivative_max("sigmoid")
    fprime = derive_activation("sigmoid").fprime
    # The bound on the ratio: every |w_j| < 1 and every σ'(z_j) at its maximum.
    ws = sorted(ch.ratio.atoms(sp.Symbol) & set(ch.w), key=str)
    bound = ch.ratio.replace(sigma_prime, lambda _: smax.sup).subs({wj: 1 for wj in ws})
    factor_bound = (ch.w[1] * sigma_prime(ch.z[1])).replace(sigma_prime, lambda _: smax.sup)
    factor_bound = factor_bound.subs(ch.w[1], 1)
    # Exploding: w_j = 100 and σ'(z_j) = 1/4, which SymPy solves for z_j.
    w_big = sp.Integer(100)
    z_star = sp.solveset(sp.Eq(fprime, smax.sup), Z, sp.S.Reals)
    z0 = min(z_star, key=abs) if isinstance(z_star, sp.FiniteSet) else sp.Integer(0)
    at_big = {sigma_prime: sp.Lambda(Z, fprime)}
    big_factor = sp.simplify((w_big * sigma_prime(z0)).replace(sigma_prime, at_big[sigma_prime]))
    chain_k = chain(k)
    big = {wj: w_big for wj in chain_k.w} | {zj: z0 for zj in chain_k.z}
    growth = sp.simplify(chain_k.input_gain.subs(big).replace(sigma_prime, at_big[sigma_prime]))
    # ∂C/∂b_1 / ∂C/∂b_k: the quotient the chapter prints, and its value at w_j = 100, z_j = 0
    quotient_first_last = sp.simplify(chain_k.grad_b[0] / chain_k.grad_b[-1])
    first_over_last = sp.simplify(
        quotient_first_last.subs(big).replace(sigma_prime, at_big[sigma_prime])
    )
    # One layer fewer: the same quotient of chain(k - 1), to show what one layer multiplies by
    shorter = chain(k - 1) if k > 1 else None
    if shorter is not None:
        small = {wj: w_big for wj in shorter.w} | {zj: z0 for zj in shorter.z}
        q = sp.simplify(shorter.grad_b[0] / shorter.grad_b[-1])
        per_layer = sp.simplify(
            first_over_last / q.subs(small).replace(sigma_prime, at_big[sigma_prime])
        )
    else:
        per_layer = sp.nan
    exponent = sp.simplify(sp.log(first_over_last) / sp.log(big_factor))
    as_power = sp.Pow(big_factor, exponent, evaluate=False)
    kk = sp.Symbol("k", positive=True, integer=True)
    article_ratio = sp.Mul(*(ch.w[j] * sigma_prime(ch.z[j]) for j in (1, 2)))
    ratio_left = sp.simplify(ch.ratio / article_ratio)
    bias_for_zero = sp.solve(sp.Eq(ch.w[1] * sp.Symbol("a_1") + ch.b[1], z0), ch.b[1])[0]
    p_within = probability_within_one()
    # The notation the chapter's prose uses, so that no formula is typed into the template.
    wj, bj, zj, aj, a_prev, w = (
        sp.Symbol(n, real=True) for n in ("w_j", "b_j", "z_j", "a_j", "a_{j-1}", "w")
    )
    cost, R = sp.Symbol("C"), sp.Symbol("R")
    W_first, W_last = sp.Symbol("W^{(1)}"), sp.Symbol("W^{(L)}")
    delta_l, delta_L = sp.Symbol("delta^(l)"), sp.Symbol("delta^(L)")
    ratio_lhs = Quotient(Partial(cost, ch.b[0]), Partial(cost, ch.b[2]))
    factored = sp.Mul(article_ratio, ratio_left, evaluate=False)
    first_last_lhs = Quotient(Partial(cost, chain_k.b[0]), Partial(cost, chain_k.b[-1]))
    notation = {
        "k": sp.Eq(kk, k),
        "first_last": sp.Eq(first_last_lhs, quotient_first_last, evaluate=False),
        "first_last_value": sp.Eq(
            first_last_lhs, sp.Eq(as_power, first_over_last, evaluate=False), evaluate=False
        ),
        "b_1": chain_k.b[0],
        "b_k": chain_k.b[-1],
        "w_all": sp.Eq(wj, w_big, evaluate=False),
        "z_j": sp.Eq(zj, wj * a_prev + bj),
        "a_j": sp.Eq(aj, sigma(zj)),
        "cost": C(chain_k.a[-1]),
        "grad_b1": sp.Eq(Partial(cost, chain_k.b[0]), chain_k.grad_b[0], evaluate=False),
        "ratio": sp.Eq(ratio_lhs, sp.Eq(ch.ratio, factored, evaluate=False), evaluate=False),
        "sigmoid_prime": sp.Eq(sigma_prime(Z), fprime_display("sigmoid"), evaluate=False),
        "argmax": sp.Eq(Z, smax.at, evaluate=False),
        "w_small": sp.Lt(sp.Abs(wj), 1),
        "factor_bound": sp.Lt(sp.Abs(wj * sigma_prime(zj)), factor_bound),
        "abs_w_small": sp.Lt(sp.Abs(w), 1),
        "w_big": sp.Eq(wj, w_big, evaluate=False),
        "z_big": sp.Eq(zj, z0, evaluate=False),
        "factor": sp.Eq(wj * sigma_prime(zj), big_factor, evaluate=False),
        "fprime": f_prime(Z),
        "abs_fprime": sp.Abs(f_prime(Z)),
        "grad_W_first": Norm(Partial(R, W_first)),
        "grad_W_last": Norm(Partial(R, W_last)),
        "grad_W_ratio": Quotient(Norm(Partial(R, W_first)), Norm(Partial(R, W_last))),
        "grad_b_l": Norm(Partial(R, sp.Symbol("b^{(l)}"))),
        "delta_ratio": Norm(delta_l) / Norm(delta_L),
    }
    return {
        "depth": k,
        "notation": {name: exact(e) for name, e in notation.items()},
        "chain": {
            "grad_b1": exact(chain_k.grad_b[0]),
            "grad_b1_product": exact(chain_k.product[0]),
            "grad_b1_equals_product": all(chain_k.equal),
            "grad_b": [exact(g) for g in chain_k.grad_b],
            "ratio_b1_over_b3": exact(ch.ratio),
            # The article writes the ratio as (w_2σ'(z_2))(w_3σ'(z_3)); SymPy's quotient
            # differs from it by σ'(z_1)/σ'(z_3), so the two agree when σ'(z_1) = σ'(z_3).
            "ratio_article": exact(article_ratio),
            "ratio_over_article": exact(ratio_left),
            "ratio_equals_article": ratio_left == 1,
            "input_gain": exact(chain_k.input_gain),
            "numeric_check_max_relative_error": chain_k.numeric_check,
        },
        "sigmoid_prime": exact(fprime),
        "sigmoid_prime_max": exact(smax.sup),
        "sigmoid_prime_argmax": exact(smax.at),
        "vanishing": {
            "factor_bound": exact(factor_bound),  # |w σ'(z)| < 1/4 when |w| < 1
            "shrink_per_layer": exact(1 / factor_bound),  # at least 4 times smaller per layer
            "ratio_bound": exact(bound),  # |∂C/∂b_1| < |∂C/∂b_3| / 16
        },
        "exploding": {
            "w": exact(w_big),
            "z": exact(z0),
            "bias_for_z": exact(bias_for_zero),
            "factor": exact(big_factor),
            "growth_k": exact(big_factor**kk),
            "growth_depth": exact(growth),  # ∂C/∂x / ∂C/∂a_k = 25^k
            "grad_b1_over_grad_bk": exact(first_over_last),  # 25^(k-1)
            "quotient_first_last": exact(quotient_first_last),
            "first_last_power": exact(as_power),
            "first_last_exponent": exact(exponent),
            "per_layer_growth": exact(per_layer),  # quotient(k) / quotient(k - 1)
        },
        "p_abs_w_below_1": exact(p_within),
    }


@cache
def probability_within_one() -> sp.Expr:
    """P(|w| < 1) for w ~ N(0, 1), by sympy.stats (erf(1/√2))."""
    from sympy.stats import Normal, P

    w = Normal("w", 0, 1)
    return sp.simplify(P(sp.And(w > -1, w < 1)))


# -- the user's architecture ---------------------------------------------------------------


def init_std(scheme: str, fan_in: sp.Expr, fan_out: sp.Expr) -> sp.Expr:
    """The standard deviation of a weight under each initialisation scheme: the table the
    generated script and the document print from (symfnn.engine.training.INITS)."""
    return training.init_std(scheme, fan_in, fan_out)


SCHEMES = tuple(training.INITS)


def spec_bounds(spec: NetworkSpec, schemes: tuple[str, ...] = SCHEMES) -> dict:
    """Per hidden layer l: max|f_l'| · E‖W^{(l+1)}‖ and the product over all layers.

    ‖δ^{(l)}‖ ≤ max|f_l'| · ‖W^{(l+1)}‖ · ‖δ^{(l+1)}‖ (δ^{(l)} = f_l'(z) ⊙ W^{(l+1)ᵀ} δ^{(l+1)});
    for an m_out × m_in matrix of independent N(0, s²) entries, E‖W‖ ≤ s(√m_in + √m_out)
    (Gordon), the estimate used here. The product bounds ‖δ^{(1)}‖ / ‖δ^{(L)}‖ from above:
    below 1 it forces vanishing; above 1 it only allows growth.
    """
    widths = spec.widths
    maxima = {}
    for layer in spec.layers[:-1]:
        key = (layer.activation, layer.param)
        if key not in maxima:
            maxima[key] = derivative_max(*key)
    m_in, m_out, s_ = sp.symbols("m_in m_out s", positive=True)
    out = {
        "spec": spec.compact,
        "norm_estimate": exact(s_ * (sp.sqrt(m_in) + sp.sqrt(m_out))),  # Gordon's E‖W‖ bound
        "activations": {},
        "schemes": {},
    }
    for (name, param), m in maxima.items():
        out["activations"][name if param is None else f"{name}={param:g}"] = {
            "fprime": exact(m.fprime),
            "sup": exact(m.sup),
            "at": exact(m.at) if m.at is not None else None,
            "attained": m.attained,
        }
    # batch norm (issue 11): a normalised layer's δ mixes the samples (through μ and σ²), so
    # it has no per-sample factor, and the product over all layers no bound; dropout scales
    # a kept unit's δ by 1/(1 − q), a factor of its layer's bound
    out["normalised_layers"] = [l for l, x in enumerate(spec.layers, start=1) if x.batchnorm]
    out["dropout_layers"] = [l for l, x in enumerate(spec.layers, start=1) if x.dropout]
    for scheme in schemes:
        rows, total = [], sp.Integer(1)
        for l in range(1, spec.depth):
            layer = spec.layers[l - 1]
            fan_in, fan_out = sp.Integer(widths[l]), sp.Integer(widths[l + 1])
            s = init_std(scheme, fan_in, fan_out)
            norm = sp.nsimplify(s * (sp.sqrt(fan_in) + sp.sqrt(fan_out)))
            slope = maxima[(layer.activation, layer.param)].sup
            factor = sp.radsimp(slope * keep_scale(sp.nsimplify(layer.dropout)) * norm)
            total = None if total is None or layer.batchnorm else total * factor
            rows.append(
                {
                    "l": l,
                    "activation": layer.activation,
                    "W_next_shape": [widths[l + 1], widths[l]],
                    "std": exact(s),
                    "W_next_norm_estimate": exact(norm),
                    "factor_bound": None if layer.batchnorm else exact(factor),
                }
            )
        out["schemes"][scheme] = {"layers": rows, "product": None}
        if total is not None:
            out["schemes"][scheme]["product"] = {
                "exact": sp.sstr(total) if len(sp.sstr(total)) < 400 else None,
                "float": float(sp.N(total, 30)),
                "log10": float(sp.N(sp.log(total, 10), 30)),
            }
    return out


@cache
def fprime_display(name: str) -> sp.Expr:
    """f'(z) as a textbook writes it, in terms of f itself (σ(z)(1 − σ(z)), 1 − tanh²(z)),
    proven equal to the derivative; f'(z) as derived where f has no such name (ReLU)."""
    act = derive_activation(name)
    form = act.fprime_of_a
    named = act.latex.startswith("\\") and "{" not in act.latex  # \sigma, \tanh
    if form is None or form.has(sp.Piecewise) or not named:
        return act.fprime
    f = sp.Function(act.latex[1:])(Z)
    shown = form.subs(activation_output(), f)
    if sp.simplify(shown.subs(f, act.f) - act.fprime) != 0:
        return act.fprime
    return shown


def activation_output() -> sp.Symbol:
    from ..engine.activations import a

    return a


def analyse(spec: NetworkSpec | None = None, k: int = 4) -> dict:
    """Everything symbolic for the JSON: the article's chain and bounds, the spec's bounds."""
    maxima = {}
    for name in ("sigmoid", "tanh", "relu"):
        m = derivative_max(name)
        maxima[name] = {
            "fprime": exact(m.fprime),
            "fprime_display": exact(fprime_display(name)),
            "sup": exact(m.sup),
            "at": exact(m.at) if m.at is not None else None,
            "attained": m.attained,
        }
    out = {"article": article(k), "activation_maxima": maxima}
    if spec is not None:
        out["spec"] = spec_bounds(spec)
    return out
