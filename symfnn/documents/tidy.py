"""The tidying stage between SymPy and the printers: textbook forms, each proven equal.

SymPy returns correct results in forms no textbook prints: softmax as
`exp(z) ⊙ (1/(exp(z)ᵀ 1)) 1`, the loss as `Σ -log(a_i) y_i`, a double negative
`-(-log S + z_i) y_i`, σ' as `e^{-z}/(1 + e^{-z})²`. `tidy` rewrites such results into
the forms a reader expects (softmax(z), `-Σ y_i log a_i`, `(log S - z_i) y_i`,
`σ(z)(1 - σ(z))`) and **proves every rewrite it applies**: the rewritten expression is
evaluated beside the original at random points (explicit sizes, 30 digits) and must agree,
else `DerivationError`. The LaTeX printer, the terminal printer and any other printer call
`tidy` first, so they all show the same forms.

    SymPy result ─tidy (rule by rule, each proven)─▶ textbook form ─printer─▶ LaTeX | text

Term order is the printers' business (`ordered_terms`: positive terms first, `z - y` not
`-y + z`), shared here so that both printers order alike.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..engine.symbols import N
from ..errors import DerivationError

DIGITS = 30
TOLERANCE = sp.Float(10) ** -20


class Softmax(sp.MatrixExpr):
    """softmax of a column vector (m×1), or of each row of a mini-batch (N×m)."""

    def __new__(cls, arg):
        return super().__new__(cls, sp.sympify(arg))

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return self.arg.shape

    @property
    def rowwise(self) -> bool:
        return self.arg.shape[1] != 1

    def explicit(self, M: sp.Matrix) -> sp.Matrix:
        """The definition, entry by entry: exp(v_p) / Σ_k exp(v_k) over a column (row)."""
        M = M.T if self.rowwise else M
        out = sp.Matrix(M.shape[0], M.shape[1], lambda r, c: sp.exp(M[r, c]))
        for c in range(out.cols):
            total = sum(out[:, c])
            out[:, c] = out[:, c] / total
        return out.T if self.rowwise else out


class Diag(sp.MatrixExpr):
    """diag(v): the square matrix with the vector v on its diagonal (the article's Jacobian
    ∂a/∂z = diag(f'(z)))."""

    def __new__(cls, arg):
        return super().__new__(cls, sp.sympify(arg))

    arg = property(lambda self: self.args[0])
    shape = property(lambda self: (self.arg.shape[0], self.arg.shape[0]))


@dataclass(frozen=True)
class Rule:
    """One rewrite: `apply` returns the rewritten expression, or None where it does not fit."""

    name: str
    doc: str
    apply: Callable[[sp.Basic], sp.Basic | None]


# -- the rules -----------------------------------------------------------------------------


def _sign_out_of_sum(e):
    """Σ_i (-f_i) -> -Σ_i f_i: a sum of negated terms reads as the negated sum."""

    def negated(f):
        if f.is_Add:
            return all(t.could_extract_minus_sign() for t in f.args)
        coeff, rest = f.as_coeff_Mul()
        return coeff.is_negative and not any(
            g.is_Add and any(t.could_extract_minus_sign() for t in g.args)
            for g in sp.Mul.make_args(rest)
        )

    def fits(x):
        return isinstance(x, sp.Sum) and negated(x.function)

    if not e.has(sp.Sum) or not any(fits(s) for s in e.atoms(sp.Sum)):
        return None
    return e.replace(fits, lambda s: -sp.Sum(-s.function, *s.limits))


def _no_double_negative(e):
    """-(−A + B)·c -> (A − B)·c: a negative factor times a sum with as many minus signs."""

    def flippable(f):
        if not f.is_Add:
            return False
        neg = sum(t.could_extract_minus_sign() for t in f.args)
        return 0 < neg and len(f.args) - neg <= neg

    def fits(x):
        if not isinstance(x, sp.Mul):
            return False
        coeff, rest = x.as_coeff_Mul()
        return coeff.is_negative and any(flippable(f) for f in sp.Mul.make_args(rest))

    def flip(x):
        coeff, rest = x.as_coeff_Mul()
        factors = list(sp.Mul.make_args(rest))
        n = next(n for n, f in enumerate(factors) if flippable(f))
        factors[n] = sp.Add(*(-t for t in factors[n].args))
        return sp.Mul(-coeff, *factors)

    if not any(fits(x) for x in sp.preorder_traversal(e)):
        return None
    return e.replace(fits, flip)


def _no_nested_fraction(e):
    """a/(b + c/d) -> one fraction, where that is much shorter (the binary cross-entropy
    error: 25 operations over three fractions -> (e^z - e^z y - y)/(e^z + 1), 8); inside a
    sum, its summand."""
    if getattr(e, "is_Matrix", False) or not isinstance(e, sp.Expr):
        return None
    if e.has(sp.Sum):
        inner = [s for s in e.atoms(sp.Sum) if not s.function.has(sp.Sum)]
        done = {s: sp.Sum(new, *s.limits) for s in inner if (new := _one_fraction(s.function))}
        return e.xreplace(done) if done else None
    return _one_fraction(e)


def _one_fraction(e):
    if not any(x.is_Pow and x.exp.is_negative for x in sp.preorder_traversal(e)):
        return None
    candidate = sp.cancel(e)
    if sp.count_ops(candidate) > 0.6 * sp.count_ops(e):
        return None
    best = shorter(e, candidate)
    return None if best == e else best


def _softmax(e):
    """exp(v) ⊙ (1/(exp(v)ᵀ 1)) 1 (and its mini-batch form) -> softmax(v)."""
    if not getattr(e, "is_Matrix", False) or isinstance(e, Softmax):
        return None
    exps = [
        x
        for x in sp.preorder_traversal(e)
        if isinstance(x, ElementwiseApplyFunction)
        and x.function.expr == sp.exp(x.function.variables[0])
        and isinstance(x.expr, sp.MatrixSymbol)
    ]
    if not exps or not (e.has(sp.Inverse) or e.has(sp.Pow) or _has_reciprocal(e)):
        return None
    candidate = Softmax(exps[0].expr)
    return candidate if candidate.shape == e.shape and _matrices_agree(e, candidate) else None


def _activation_name(e):
    """g∘V where g is an activation's definition (1/(1 + e^{-x}), the ReLU cases) -> σ(V),
    ReLU(V): the forward pass reads a = f(z) with f named, defined once in the text."""
    if not getattr(e, "is_Matrix", False):
        return None
    known = _definitions()

    def fits(x):
        return isinstance(x, ElementwiseApplyFunction) and _named(x, known) is not None

    if not any(fits(x) for x in sp.preorder_traversal(e)):
        return None
    return e.replace(fits, lambda x: _named(x, known))


def _named(x, known):
    (v,) = x.function.variables
    body = x.function.expr.xreplace({v: _X})
    name = known.get(body)
    if name is None:
        return None
    return ElementwiseApplyFunction(sp.Lambda(_X, activation_function(name)(_X)), x.expr)


_X = sp.Dummy("x", real=True)


@lru_cache(maxsize=1)
def _definitions() -> dict:
    """Definition (in _X) -> activation name; a parameter at its default (a layer with
    another slope keeps the written-out form, so the name never hides a parameter)."""
    from ..engine.activations import TABLE, derive_activation, z

    out = {}
    for name, act in TABLE.items():
        if not act.output_only and name != "identity":
            out[derive_activation(name).f.xreplace({z: _X})] = name
    return out


def _has_reciprocal(e) -> bool:
    return any(
        isinstance(x, ElementwiseApplyFunction) and x.function.expr.is_Pow
        for x in sp.preorder_traversal(e)
    )


RULES: tuple[Rule, ...] = (
    Rule("softmax", "exp(v) ⊙ 1/(exp(v)ᵀ1) -> softmax(v), defined once in the text", _softmax),
    Rule(
        "activation-name", "1/(1 + exp(-z)) -> σ(z): the activation by its name", _activation_name
    ),
    Rule("sign-out-of-sum", "Σ(-f) -> -Σ f, so the loss reads -Σ y log a", _sign_out_of_sum),
    Rule("no-double-negative", "-(-A + B) c -> (A - B) c", _no_double_negative),
    Rule(
        "no-nested-fraction", "a/(b + c/d) -> one fraction, when much shorter", _no_nested_fraction
    ),
)


# -- the stage -----------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def tidy(expr: sp.Basic) -> sp.Basic:
    """Every rule that fits, in turn; each application proven equal to its input."""
    if not isinstance(expr, sp.Basic):
        return expr
    out = expr
    for rule in RULES:
        new = rule.apply(out)
        if new is None or new == out:
            continue
        prove_equal(out, new, rule.name)
        out = new
    return out


def applied(expr: sp.Basic) -> list[str]:
    """The names of the rules `tidy` applies to expr (for tests and the closing note)."""
    names, out = [], expr
    for rule in RULES:
        new = rule.apply(out)
        if new is not None and new != out:
            names.append(rule.name)
            out = new
    return names


def shorter(expr: sp.Expr, *candidates: sp.Expr) -> sp.Expr:
    """The candidate with the fewest operations, if it is shorter and proven equal."""
    best = expr
    for c in candidates:
        if sp.count_ops(c) < sp.count_ops(best) and _scalars_agree(expr, c):
            best = c
    return best


def in_terms_of_f(act) -> sp.Expr | None:
    """f'(z) written with f itself, σ'(z) = σ(z)(1 - σ(z)), where that is shorter; proven.

    `act` is an ActivationDerivation; f is the undefined function named after it, which the
    printers show as σ, tanh, ReLU.
    """
    from ..engine.activations import a, z

    if act.fprime_of_a is None or not act.elementwise or act.fprime_of_a.has(sp.Piecewise):
        return None
    f = activation_function(act.name)
    form = act.fprime_of_a.subs(a, f(z))
    if sp.count_ops(form) >= sp.count_ops(act.fprime):
        return None
    definition = form.replace(f, sp.Lambda(z, act.f))
    prove_equal(act.fprime, definition, f"{act.name}' in terms of {act.name}")
    return form


def activation_function(name: str) -> sp.FunctionClass:
    """The undefined function standing for an activation by name (printed σ, tanh, …)."""
    return sp.Function(f"act_{name}")


# -- notation shared by the printers ------------------------------------------------------

BATCH = sp.Symbol("B", integer=True, positive=True)  # the mini-batch size; N is the data set's


def as_batch(expr: sp.Basic) -> sp.Basic:
    """A mini-batch form with B samples (derive.py counts them with N, the data set's size)."""
    return expr.xreplace({N: BATCH})


def split_penalty(matrix: sp.Basic) -> tuple[sp.Basic, sp.Basic | None]:
    """A gradient's matrix form as (data term, penalty term λ2 W + λ1 sign(W), or None)."""
    terms = sp.MatAdd.make_args(matrix) if isinstance(matrix, sp.MatAdd) else (matrix,)
    penalty = [t for t in terms if any(s.name.startswith("lambda") for s in _scalars(t))]
    data = [t for t in terms if t not in penalty]
    data_expr = data[0] if len(data) == 1 else sp.MatAdd(*data)
    if not penalty:
        return data_expr, None
    return data_expr, penalty[0] if len(penalty) == 1 else sp.MatAdd(*penalty)


def averaged(matrix: sp.Basic) -> sp.Basic:
    """∂R/∂W from a one-sample gradient δ aᵀ + λW: the sample mean of the data term,
    plus the penalty once (R = (1/N) Σ_n L(y^(n), a^(L,n)) + Ω)."""
    data, penalty = split_penalty(matrix)
    mean = SampleMean(data)
    return mean if penalty is None else sp.MatAdd(mean, penalty)


def _scalars(t) -> set:
    return {s for s in t.free_symbols if isinstance(s, sp.Symbol)}


def bn_error_forms(delta) -> tuple[tuple[str, sp.Basic], ...]:
    """The forms of batch norm's per-unit error term (`batchnorm.unit_steps().delta`) that the
    document and the terminal show, by name: ẑ written out in z, the statistics form (the
    sums named μ and σ²) and the compact result in ẑ. SymPy's other stages (the raw
    derivative, folded, in-zhat) are its way there, each hundreds of characters long."""
    return (
        ("written out", delta.differentiated),
        ("statistics", dict(delta.stages)["statistics"]),
        ("compact", delta.index),
    )


def factor_and_terms(expr: sp.Expr) -> tuple[sp.Expr, tuple[sp.Expr, ...]]:
    """c (t1 + t2 + …) as (c, (t1, t2, …)), for a sum too long for one line to be broken
    between its terms (the document two terms a line, the terminal as many as fit)."""
    factors = sp.Mul.make_args(expr)
    c = sp.Mul(*(f for f in factors if not f.is_Add))
    rest = sp.Mul(*(f for f in factors if f.is_Add))
    return c, sp.Add.make_args(rest)


# -- ordering, shared by the printers ------------------------------------------------------


def ordered_terms(expr: sp.Add) -> list[sp.Expr]:
    """Terms as a textbook orders them: numbers, then products and sums, then lone symbols;
    negative terms after positive ones (1 + e^{-z}, Σ w a + b, a − y, z − y)."""

    def rank(t):
        neg = t.could_extract_minus_sign()
        u = -t if neg else t
        kind = 0 if u.is_number else (2 if isinstance(u, (sp.Indexed, sp.Symbol)) else 1)
        return (neg, kind)

    return sorted(expr.as_ordered_terms(), key=rank)


def _coefficient(t: sp.Basic) -> sp.Expr:
    """The scalar factor of a matrix term, nested products' included: 1_B (−μ) has −1."""
    if not isinstance(t, sp.MatMul):
        return sp.S.One
    return sp.Mul(*(_coefficient(f) if f.is_Matrix else f for f in t.args))


def ordered_matrix_terms(expr: sp.MatAdd) -> list[sp.Basic]:
    """Data terms first, penalties (λW) next, broadcast biases (1 bᵀ) after them,
    subtracted terms last: A W^T + 1 b^T, δ a^T + λ W, W − α ∂R/∂W."""

    def key(t):
        negative = _coefficient(t).could_extract_minus_sign()
        scaled = isinstance(t, sp.MatMul) and any(
            s.name.startswith("lambda") for s in t.free_symbols if s.is_Symbol
        )
        broadcast = isinstance(t, sp.MatrixSymbol) or t.has(sp.OneMatrix)
        return (negative, scaled, broadcast)

    return sorted(expr.args, key=key)


def ordered_factors(factors) -> list[sp.Basic]:
    """Factors in textbook order; a sum that contains another factor follows it
    (σ(z)(1 - σ(z))), any other sum precedes the functions ((1 - y) log(1 - a))."""
    factors = list(factors)

    def rank(f):
        r = factor_rank(f)
        if f.is_Add and not any(g is not f and f.has(g) for g in factors):
            return (4.5,)
        return r

    return sorted(factors, key=rank)


def factor_rank(f: sp.Basic) -> tuple:
    """Factors of a product: numbers, scalar symbols (λ), brackets, weights, vector entries
    by index (δ_p a_q), powers, parenthesised sums, functions (y log a), sums last."""
    if f.is_number:
        return (0,)
    if isinstance(f, sp.Symbol):
        return (1,)
    if isinstance(f, (sp.KroneckerDelta, sp.Piecewise)):
        return (2,)
    if isinstance(f, sp.Indexed):
        return (3, -len(f.indices), tuple(str(i) for i in f.indices))
    if f.is_Pow and isinstance(f.base, (sp.Indexed, sp.Symbol)):
        return (4,)
    if f.is_Add:  # after functions: σ(z)(1 - σ(z)), y_i (log S - z_i)
        return (6,)
    if isinstance(f, sp.Sum):
        return (7,)
    return (5,)


# -- proofs --------------------------------------------------------------------------------


def prove_equal(before: sp.Basic, after: sp.Basic, what: str = "rewrite") -> None:
    """Raise DerivationError unless `after` equals `before` at random points."""
    ok = (
        _matrices_agree(before, after)
        if getattr(before, "is_Matrix", False)
        else _scalars_agree(before, after)
    )
    if not ok:
        raise DerivationError(f"tidying ({what}) changed {before} into {after}")


def _sizes(*exprs) -> dict:
    """Explicit sizes: every width m… is 3, the batch size 2."""
    out = {N: 2, BATCH: 2}
    for e in exprs:
        shapes = {d for ms in e.atoms(sp.MatrixSymbol) for d in ms.shape}
        for s in e.free_symbols | set().union(*(sp.sympify(d).free_symbols for d in shapes)):
            if isinstance(s, sp.Symbol) and s.name.startswith("m") and s.is_integer:
                out[s] = 3
    return out


def _random(rng: random.Random) -> sp.Float:
    """Values in (0.1, 0.9): logs of a and of 1 - a stay real."""
    return sp.Float(rng.uniform(0.1, 0.9), DIGITS)


def _scalars_agree(before, after, trials: int = 2) -> bool:
    from ..engine.symbols import i, j, k, p, q

    rng = random.Random(20240601)
    diff = sp.sympify(before) - sp.sympify(after)
    sizes = _sizes(before, after)
    free_idx = {p: 2, q: 1, i: 3, j: 2, k: 1}
    diff = _concrete(diff.xreplace(sizes))
    bound = set()
    for s in diff.atoms(sp.Sum):
        bound |= {lim[0] for lim in s.limits}
    diff = diff.xreplace({s: v for s, v in free_idx.items() if s not in bound})
    diff = diff.doit()
    for _ in range(trials):
        values = {x: _random(rng) for x in diff.atoms(sp.Indexed)}
        values |= {
            s: _random(rng)
            for s in diff.free_symbols
            if isinstance(s, sp.Symbol) and s not in values and not s.is_integer
        }
        v = sp.N(diff.xreplace(values).doit(), DIGITS)
        if not v.is_number or abs(v) > TOLERANCE:
            return False
    return True


def _concrete(e):
    """Each named activation by its definition; a smooth function for each other undefined
    one (f_l); derivatives worked out."""
    from ..engine.activations import derive_activation, z

    named = lambda x: isinstance(x, AppliedUndef) and x.func.__name__.startswith("act_")
    e = e.replace(
        named, lambda x: derive_activation(x.func.__name__[4:]).f.xreplace({z: x.args[0]})
    )
    e = e.replace(
        lambda x: isinstance(x, AppliedUndef) and len(x.args) == 1,
        lambda x: sp.sin(x.args[0]) + 2,
    )
    return e.replace(lambda x: isinstance(x, sp.Derivative), lambda x: x.doit())


def per_sample(printer, expr) -> str:
    """`expr` printed as one sample's term of a mean over the samples: the printer's
    `_sample` set while it prints (a^{(l,n)} in LaTeX, a1(n) in the terminal)."""
    outer, printer._sample = printer._sample, True
    try:
        return printer._print(expr)
    finally:
        printer._sample = outer


def _matrices_agree(before, after) -> bool:
    from ..engine import matrixform

    before, after = _concrete(before), _concrete(after)
    rng = random.Random(20240601)
    sizes = _sizes(before, after)
    values = {}
    for ms in before.atoms(sp.MatrixSymbol) | after.atoms(sp.MatrixSymbol):
        r, c = (int(sp.sympify(d).xreplace(sizes)) for d in ms.shape)
        values[ms] = sp.ImmutableMatrix(r, c, lambda *_: _random(rng))
    A = _evaluate(before, sizes, values, matrixform.evaluate)
    B = _evaluate(after, sizes, values, matrixform.evaluate)
    if A.shape != B.shape:
        return False
    return all(abs(sp.N(x - y, DIGITS)) < TOLERANCE for x, y in zip(A, B))


def _evaluate(e, sizes, values, evaluate) -> sp.Matrix:
    """matrixform.evaluate, extended by the tidy stage's own matrix functions."""
    ev = lambda t: _evaluate(t, sizes, values, evaluate)
    if not e.has(Softmax, Diag):
        return evaluate(e, sizes, values)
    if isinstance(e, Softmax):
        return e.explicit(ev(e.arg))
    if isinstance(e, Diag):
        return sp.diag(*ev(e.arg))
    if isinstance(e, sp.MatMul):
        c, mats = e.as_coeff_matrices()
        out = ev(mats[0])
        for m in mats[1:]:
            out = out * ev(m)
        return c.xreplace(sizes) * out
    if isinstance(e, sp.MatAdd):
        parts = [ev(t) for t in e.args]
        return sum(parts[1:], parts[0])
    if isinstance(e, sp.HadamardProduct):
        from ..engine.matrixform import hadamard

        return hadamard([ev(t) for t in e.args])
    raise DerivationError(f"cannot evaluate {e}")


class SampleMean(sp.MatrixExpr):
    """(1/N) Σ_n e^(n): the mean over N samples of a per-sample matrix expression e.

    The printers show the per-sample quantities inside with the sample's tag, a^(l,n).
    """

    def __new__(cls, arg, count=N):
        return super().__new__(cls, arg, sp.sympify(count))

    arg = property(lambda self: self.args[0])
    count = property(lambda self: self.args[1])
    index = sp.Symbol("n", integer=True)
    shape = property(lambda self: self.arg.shape)
