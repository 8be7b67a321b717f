"""NetworkSpec -> Derivation: SymPy derives backpropagation, layer by layer.

Each kind of step is derived once at generic size, for a generic layer `l` (tags `l-1`,
`l`, `l+1`), and cached per layer type (activation, its parameter; the output layer also
by loss); a concrete layer is an instance with its own names. So the cost grows linearly
with depth. Every index-level result is converted to matrix form and then to the
mini-batch form the code uses, and each conversion is checked on explicit small matrices.

    spec ─▶ general steps (generic f_l) ─▶ per layer type (actual f_l) ─▶ per layer (names)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache

import sympy as sp

from ..errors import DerivationError
from . import activations, losses, matrixform
from .activations import ActivationDerivation, derive_activation
from .indexcalc import fold
from .spec import NetworkSpec
from .symbols import N, i, j, k, layer_symbols, p, q, tag, target

Term = tuple[str, sp.Basic]


@dataclass(frozen=True)
class Step:
    """One derived equation, at every stage a reader may want to show or print.

    `lhs` is what was derived, `differentiated` the expression SymPy's `diff` was given,
    `raw` its result as returned, `index` the cleaned index-level result (entry `p` or
    `p, q`); `stages` names the intermediate results in between. `matrix` is the per-sample
    matrix form (column vectors), `batch` the mini-batch form (samples as rows).
    """

    label: str
    lhs: sp.Basic
    index: sp.Basic
    differentiated: sp.Basic | None = None
    raw: sp.Basic | None = None
    stages: tuple[Term, ...] = ()
    matrix_lhs: sp.Basic | None = None
    matrix: sp.Basic | None = None
    batch_lhs: sp.Basic | None = None
    batch: sp.Basic | None = None
    checked: bool = False  # matrix (and batch) form proven on explicit matrices

    def rename(self, mapping: dict, label: str) -> Step:
        """The same step for another layer: every symbol renamed through `mapping`."""
        swap = lambda e: None if e is None else e.xreplace(mapping)
        return replace(
            self,
            label=label,
            lhs=swap(self.lhs),
            index=swap(self.index),
            differentiated=swap(self.differentiated),
            raw=swap(self.raw),
            stages=tuple((name, swap(e)) for name, e in self.stages),
            matrix_lhs=swap(self.matrix_lhs),
            matrix=swap(self.matrix),
            batch_lhs=swap(self.batch_lhs),
            batch=swap(self.batch),
        )


@dataclass(frozen=True)
class LayerDerivation:
    """Layer l instantiated: its forward pass, error term and gradients."""

    l: int
    width: int
    fan_in: int
    activation: ActivationDerivation
    forward_z: Step
    forward_a: Step
    delta: Step
    grad_W: Step
    grad_b: Step
    norm: object = None  # batchnorm.NormLayer: a layer with bn/dropout (grad_b is then ∂R/∂β)

    @property
    def is_output(self) -> bool:
        return self.delta.label.startswith("delta-out")


@dataclass(frozen=True)
class LossDerivation:
    """The output loss: its summand, its per-sample definition and the output error."""

    name: str
    title: str
    ell: sp.Expr  # per output unit, in losses.a and losses.y: L = sum_i ell(a_i, y_i)
    per_sample: sp.Expr  # L(y, a^(L)) written out at generic class count
    one_hot: bool
    output_error: Step  # δ^(L), at generic layer L (the instance is on the last layer)


@dataclass(frozen=True)
class Derivation:
    """Everything symfnn derives for one spec; the document, the code and the checks read it.

    `general` holds the layer-agnostic steps with a generic f_l (the article's section 4),
    `activations` each activation the spec uses, `layers` every layer 1..L instantiated,
    `regulariser` the penalty's gradient, `risk` the structural risk and `update` the
    gradient-descent rule. `coefficients` maps the symbols λ1, λ2 to the spec's values.
    """

    spec: NetworkSpec
    general: dict[str, Step]
    activations: dict[str, ActivationDerivation]
    loss: LossDerivation
    layers: tuple[LayerDerivation, ...]
    regulariser: Step | None
    risk: sp.Expr
    update: dict[str, Step]
    coefficients: dict[sp.Symbol, float] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        """Every equation label, in document order."""
        out = [s.label for s in self.general.values()]
        for layer in self.layers:
            out += [
                s.label
                for s in (layer.forward_z, layer.forward_a, layer.delta, layer.grad_W, layer.grad_b)
            ]
        return out

    def _repr_latex_(self) -> str:  # Jupyter
        from ..documents.latexprint import derivation_summary_latex

        return derivation_summary_latex(self)


# -- symbols -------------------------------------------------------------------------------

LAMBDA1 = sp.Symbol("lambda_1", positive=True)
LAMBDA2 = sp.Symbol("lambda_2", positive=True)
ALPHA = sp.Symbol("alpha", positive=True)  # the learning rate
LOSS = sp.Symbol("L")  # the per-sample loss, as a name for lhs
RISK = sp.Symbol("R")


def _mats(*layers_: int | str) -> dict:
    """IndexedBase -> MatrixSymbol for the given layer tags, in the article's shapes."""
    out = {}
    for t in layers_:
        s = layer_symbols(t)
        prev = _prev(t)
        m_prev = layer_symbols(prev).m if prev is not None else sp.Integer(1)
        for stem, ms in s.matrices(m_prev).items():
            out[getattr(s, stem)] = ms
    return out


def _prev(t: int | str) -> int | str | None:
    if isinstance(t, int):
        return t - 1
    return {"l": "l-1", "l+1": "l", "L": "L-1"}.get(t)


def _batch_map(*layers_: int | str) -> dict:
    """Per-sample column vectors -> stacked mini-batch matrices (samples as rows)."""
    out = {}
    for t in layers_:
        s = layer_symbols(t)
        for stem, big in (("a", "A"), ("z", "Z"), ("delta", "Delta")):
            out[sp.MatrixSymbol(f"{stem}{tag(t)}", s.m, 1)] = sp.MatrixSymbol(
                f"{big}{tag(t)}", N, s.m
            )
    return out


def _y_mats(t: int | str) -> tuple[dict, dict]:
    m = layer_symbols(t).m
    y = sp.MatrixSymbol("y", m, 1)
    return {target(): y}, {y: sp.MatrixSymbol("Y", N, m)}


# layer-tag sizes used to prove conversions on explicit matrices
_EXPLICIT = {"l-1": 2, "l": 3, "l+1": 2, "L": 3, "L-1": 2}


def _sizes() -> dict:
    return {layer_symbols(t).m: n for t, n in _EXPLICIT.items()} | {N: 2}


def vector_step(label, lhs, index, mats, bmap, of, batch_lhs=None, **derived) -> Step:
    """The step `lhs = index` at unit p with its per-sample matrix form (lhs the entry p of
    the vector `of`) and its mini-batch rows (batch_lhs: bmap[of] by default), checked on
    explicit matrices (_check); `derived`: differentiated, raw, stages."""
    matrix = matrixform.to_matrix(index, (p,), mats)
    step = Step(
        label,
        lhs,
        index,
        **derived,
        matrix_lhs=of,
        matrix=matrix,
        batch_lhs=bmap[of] if batch_lhs is None else batch_lhs,
        batch=matrixform.rows(matrix, bmap, N),
    )
    return _check(step, (p,), mats, bmap)


def _check(step: Step, free, mats: dict, batch_map: dict | None, mode: str = "rows") -> Step:
    """Prove index -> matrix -> batch on explicit matrices, or raise DerivationError."""
    sizes = _sizes()
    matrixform.check(step.index, step.matrix, free, mats, sizes)
    if step.batch is not None and batch_map is not None:
        _check_batch(step.matrix, step.batch, batch_map, sizes, mode)
    return replace(step, checked=True)


def _check_batch(matrix, batch, batch_map, sizes, mode):
    """Row n of the batch form (or its mean, for gradients) equals sample n's matrix form."""
    n = sizes[N]
    values = {big: matrixform.explicit(big, sizes) for big in batch_map.values()}
    others = {
        ms: matrixform.explicit(ms, sizes)
        for ms in (matrix.atoms(sp.MatrixSymbol) | batch.atoms(sp.MatrixSymbol))
        if ms not in batch_map and ms not in values
    }
    B = matrixform.evaluate(batch, sizes, values | others)
    per_sample = []
    for r in range(n):
        sample = {small: values[big][r, :].T for small, big in batch_map.items()}
        per_sample.append(matrixform.evaluate(matrix, sizes, sample | others))
    expected = (
        sp.Matrix.vstack(*(v.T for v in per_sample))
        if mode == "rows"
        else sum(per_sample, sp.zeros(*per_sample[0].shape)) / n
    )
    diff = (B - expected).applyfunc(sp.simplify)
    if diff != sp.zeros(*diff.shape):
        raise DerivationError(f"mini-batch form {batch} disagrees with {matrix}")


# -- the general derivation (generic f_l) ---------------------------------------------------


@cache
def general_steps() -> dict[str, Step]:
    """The article's section 4 for a generic layer l with an unspecified f_l."""
    prev, cur, _nxt = (layer_symbols(t) for t in ("l-1", "l", "l+1"))
    mats = _mats("l-1", "l", "l+1")
    bmap = _batch_map("l-1", "l", "l+1")
    f = sp.Function("f_l")
    out: dict[str, Step] = {}

    z_i = sp.Sum(cur.W[i, j] * prev.a[j], (j, 1, prev.m)) + cur.b[i]
    out["forward_z"] = _forward_z("l", "forward-z")
    out["forward_a"] = Step(
        "forward-a", cur.a[i], f(cur.z[i]), matrix_lhs=mats[cur.a], batch_lhs=bmap[mats[cur.a]]
    )

    raw = sp.diff(z_i, cur.W[p, q])
    out["dz_dW"] = Step(
        "dz-dW", sp.Derivative(cur.z[i], cur.W[p, q]), fold(raw), differentiated=z_i, raw=raw
    )
    raw = sp.diff(z_i, cur.b[p])
    out["dz_db"] = Step(
        "dz-db",
        sp.Derivative(cur.z[i], cur.b[p]),
        fold(raw),
        differentiated=z_i,
        raw=raw,
        matrix_lhs=sp.Derivative(mats[cur.z], mats[cur.b]),
        matrix=sp.Identity(cur.m),
    )
    out["delta"] = _recurrence(f, "l", "delta")
    out["grad_W"], out["grad_b"] = _gradients("l", "grad-W", "grad-b")
    return out


def _forward_z(t, label: str) -> Step:
    prev, cur = layer_symbols(_prev(t)), layer_symbols(t)
    mats = _mats(_prev(t), t)
    bmap = _batch_map(_prev(t), t)
    z_p = sp.Sum(cur.W[p, j] * prev.a[j], (j, 1, prev.m)) + cur.b[p]
    return vector_step(label, cur.z[p], z_p, mats, bmap, mats[cur.z])


def _forward_a(act: ActivationDerivation, t, label: str) -> Step:
    cur = layer_symbols(t)
    mats = _mats(t)
    bmap = _batch_map(t)
    if act.elementwise:
        a_p = act.f.subs(activations.z, cur.z[p])
    else:  # softmax: the one activation that reads the whole layer
        a_p = sp.exp(cur.z[p]) / sp.Sum(sp.exp(cur.z[k]), (k, 1, cur.m))
    return vector_step(label, cur.a[p], a_p, mats, bmap, mats[cur.a])


def _recurrence(f, t, label: str, act: ActivationDerivation | None = None) -> Step:
    """δ^(l) = ∂L/∂z^(l) through z^(l+1) = W^(l+1) f(z^(l)) + b^(l+1), by the chain rule."""
    nt = {"l": "l+1"}.get(t, t)
    cur, nxt = layer_symbols(t), layer_symbols(nt)
    fz = (lambda e: f(e)) if act is None else (lambda e: act.f.subs(activations.z, e))
    z_next = sp.Sum(nxt.W[k, j] * fz(cur.z[j]), (j, 1, cur.m)) + nxt.b[k]
    raw_dz = sp.diff(z_next, cur.z[p])
    dz = fold(raw_dz)  # ∂z_k^(l+1)/∂z_p^(l)
    chain = sp.Sum(nxt.delta[k] * dz, (k, 1, nxt.m))
    index = fold(chain)
    stages: list[Term] = [("dz-next", dz), ("chain", chain), ("folded", index)]
    if act is not None and act.fprime_of_a is not None:
        index = _in_terms_of_a(index, act, cur)
        stages.append(("output-form", index))
    mats = _mats(t, nt)
    bmap = _batch_map(t, nt)
    lhs = sp.Derivative(LOSS, cur.z[p])
    derived = {"differentiated": z_next, "raw": raw_dz, "stages": tuple(stages)}
    return vector_step(label, lhs, index, mats, bmap, mats[cur.delta], **derived)


def _in_terms_of_a(index: sp.Expr, act: ActivationDerivation, cur) -> sp.Expr:
    """Replace the factor f'(z_p) of `index` by its proven form in a_p."""
    factors = sp.Mul.make_args(index)
    g = sp.Mul(*(f for f in factors if f.has(cur.z[p])))
    rest = sp.Mul(*(f for f in factors if not f.has(cur.z[p])))
    fprime_z = act.fprime.subs(activations.z, cur.z[p])
    if g != fprime_z and sp.simplify(g - fprime_z) != 0:
        raise DerivationError(f"f'(z) is not a factor of {index}")
    return act.fprime_of_a.subs(activations.a, cur.a[p]) * rest


def _gradients(t, label_W: str, label_b: str, flags=(False, False)) -> tuple[Step, Step]:
    """∂L/∂W_pq = Σ_i δ_i ∂z_i/∂W_pq and ∂L/∂b_p = Σ_i δ_i ∂z_i/∂b_p, folded."""
    prev, cur = layer_symbols(_prev(t)), layer_symbols(t)
    mats = _mats(_prev(t), t)
    bmap = _batch_map(_prev(t), t)
    z_i = sp.Sum(cur.W[i, j] * prev.a[j], (j, 1, prev.m)) + cur.b[i]
    regularised = any(flags)
    steps = []
    for label, entry, free in ((label_W, cur.W[p, q], (p, q)), (label_b, cur.b[p], (p,))):
        chain = sp.Sum(cur.delta[i] * sp.diff(z_i, entry), (i, 1, cur.m))
        index = fold(chain)
        stages: list[Term] = [("chain", chain), ("data", index)]
        reg = sp.S.Zero
        if regularised and len(free) == 2:
            reg = _regulariser_terms(*flags)[1]
            index = index + reg
            stages.append(("regularised", index))
        matrix = matrixform.to_matrix(index, free, mats)
        data_matrix = matrixform.to_matrix(index - reg, free, mats)
        batch = _batch_mean(data_matrix, bmap)
        if reg != 0:
            batch = sp.MatAdd(batch, matrixform.to_matrix(reg, free, mats))
        big = sp.MatrixSymbol(f"d{'W' if len(free) == 2 else 'b'}{tag(t)}", *mats[entry.base].shape)
        step = Step(
            label,
            sp.Derivative(RISK if regularised else LOSS, entry),
            index,
            differentiated=z_i,
            stages=tuple(stages),
            matrix_lhs=sp.Derivative(RISK if regularised else LOSS, mats[entry.base]),
            matrix=matrix,
            batch_lhs=big,
            batch=batch,
        )
        checked = _check(replace(step, batch=None), free, mats, None)
        _check_batch(data_matrix, _batch_mean(data_matrix, bmap), bmap, _sizes(), "mean")
        steps.append(replace(step, checked=checked.checked))
    return steps[0], steps[1]


def _batch_mean(data_matrix, bmap) -> sp.Basic:
    """(1/N) Σ_n of a per-sample gradient: δ aᵀ -> (1/N) Δᵀ A, δ -> (1/N) Δᵀ 1."""
    if isinstance(data_matrix, sp.MatMul):
        u, v = data_matrix.args
        return matrixform.batch_mean_outer(bmap[u], bmap[v.T], N)
    return matrixform.batch_mean(bmap[data_matrix], N)


@cache
def _regulariser_terms(l1: bool, l2: bool) -> tuple[sp.Expr, sp.Expr]:
    """Ω for one layer at generic size, and its derivative by W_pq (folded)."""
    cur = layer_symbols("l")
    m_prev = layer_symbols("l-1").m
    omega = sp.S.Zero
    for on, name, lam in ((l2, "l2", LAMBDA2), (l1, "l1", LAMBDA1)):
        if on:
            r = losses.REGULARISERS[name]
            omega += r.omega.subs({losses.W: cur.W[i, j], losses.lam: lam})
    omega = sp.Sum(omega, (i, 1, cur.m), (j, 1, m_prev))
    return omega, fold(sp.diff(omega, cur.W[p, q]))


# -- the output layer -----------------------------------------------------------------------


@cache
def output_error(activation: str, param: float | None, loss_name: str) -> LossDerivation:
    """δ^(L) = ∂L/∂z^(L) for this output activation and loss, at generic class count."""
    act = derive_activation(activation, param)
    loss = losses.lookup(loss_name)
    out, y = layer_symbols("L"), target()
    C = out.m
    S = sp.Sum(sp.exp(out.z[k]), (k, 1, C))
    if act.elementwise:
        a_of = lambda idx: act.f.subs(activations.z, out.z[idx])
    else:
        a_of = lambda idx: sp.exp(out.z[idx]) / S
    per_sample = sp.Sum(loss.ell.subs({losses.a: out.a[i], losses.y: y[i]}), (i, 1, C))
    L = sp.Sum(loss.ell.subs({losses.a: a_of(i), losses.y: y[i]}), (i, 1, C))
    if not act.elementwise:
        L = sp.expand_log(L, force=True)  # log(exp(z_i)/S) = z_i - log S
    raw = sp.diff(L, out.z[p])
    folded = fold(raw)
    stages: list[Term] = [("folded", folded)]
    if loss.one_hot:
        folded = folded.subs(sp.Sum(y[i], (i, 1, C)), 1)
        stages.append(("one-hot", folded))
    result = _factor_residual(_output_in_terms_of_a(folded, act, out, S), act, out, y)
    _prove_output_form(result, folded, a_of, out, C)
    stages.append(("output-form", result))
    mats = _mats("L") | _y_mats("L")[0]
    bmap = _batch_map("L") | _y_mats("L")[1]
    lhs = sp.Derivative(LOSS, out.z[p])
    derived = {"differentiated": L, "raw": raw, "stages": tuple(stages)}
    step = vector_step("delta-out", lhs, result, mats, bmap, mats[out.delta], **derived)
    return LossDerivation(loss.name, loss.title, loss.ell, per_sample, loss.one_hot, step)


def _output_in_terms_of_a(e: sp.Expr, act: ActivationDerivation, out, S) -> sp.Expr:
    if not act.elementwise:
        s = sp.Dummy("S", positive=True)

        def to_a(ex):  # exp(c z_i) = (a_i S)^c
            arg = ex.args[0]
            coeff, zi = arg.as_coeff_Mul()
            return (out.a[zi.indices[0]] * s) ** coeff

        is_exp_z = lambda ex: (
            isinstance(ex, sp.exp)
            and isinstance(ex.args[0].as_coeff_Mul()[1], sp.Indexed)
            and ex.args[0].as_coeff_Mul()[1].base == out.z
        )
        e = e.xreplace({S: s}).replace(is_exp_z, to_a)
        return sp.factor_terms(sp.expand(sp.simplify(e)))
    table = activations.lookup(act.name)
    if len(table.pieces) > 1:
        return _piecewise_in_terms_of_a(e, act, table, out)
    f_p = act.f.subs(activations.z, out.z[p])
    fprime_p = act.fprime.subs(activations.z, out.z[p])
    e = e.xreplace({f_p: out.a[p], fprime_p: act.fprime_of_a.subs(activations.a, out.a[p])})
    if e.has(out.z[p]):
        inverse = table.bind(table.pieces[0][2], act.param)
        e = e.subs(out.z[p], inverse.subs(activations.a, out.a[p]))
    return sp.factor_terms(sp.simplify(e))


def _piecewise_in_terms_of_a(e: sp.Expr, act, table, out) -> sp.Expr:
    """Branch by branch: z_p -> the branch's inverse of a_p, and z_p > 0 -> a_p > 0."""
    e = sp.piecewise_fold(e)
    if not isinstance(e, sp.Piecewise):
        raise DerivationError(f"expected a piecewise output error, got {e}")
    conds = [c.subs(activations.z, out.z[p]) for _, c, _ in table.pieces]
    branches = []
    for expr, cond in e.args:
        if cond not in conds:
            raise DerivationError(f"unexpected branch {cond} in {e}")
        inverse = table.pieces[conds.index(cond)][2]
        if expr.has(out.z[p]):
            z_of_a = table.bind(inverse, act.param).subs(activations.a, out.a[p])
            expr = sp.simplify(expr.subs(out.z[p], z_of_a))
        branches.append((expr, cond.subs(out.z[p], out.a[p])))
    return sp.Piecewise(*branches)


def _factor_residual(e: sp.Expr, act: ActivationDerivation, out, y) -> sp.Expr:
    """Show the residual a - y as a factor where it is one: (a - y)·a(1 - a), not -(a-1)(a-y)a."""
    residual = out.a[p] - y[p]
    branches = e.args if isinstance(e, sp.Piecewise) else ((e, sp.true),)
    rests = [(sp.cancel(b / residual), c) for b, c in branches]
    if any(r.has(y[p]) or r.has(sp.Sum) for r, _ in rests):
        return e
    rest = rests[0][0] if len(rests) == 1 else sp.Piecewise(*rests)
    if rest == 1:
        return residual
    if act.fprime_of_a is not None:
        fprime_a = act.fprime_of_a.subs(activations.a, out.a[p])
        if rest == fprime_a or sp.simplify(rest - fprime_a) == 0:
            rest = fprime_a
    return residual * rest


def _prove_output_form(result, folded, a_of, out, C) -> None:
    """Put a_i = f(z)_i back into the result; it must equal the folded derivative."""
    back = result.replace(
        lambda e: isinstance(e, sp.Indexed) and e.base == out.a, lambda e: a_of(e.indices[0])
    )
    diff = sp.simplify(sp.expand(back - folded))
    if diff != 0:
        # a numeric spot check settles forms simplify cannot (softmax sums): C = 3
        rng = [sp.Rational(n, 7) for n in (3, -5, 2, 9, -1, 4)]
        vals = {out.z[n + 1]: rng[n] for n in range(3)} | {
            target()[n + 1]: rng[n + 3] for n in range(3)
        }
        for pos in (1, 2, 3):
            d = (back - folded).xreplace({C: 3, p: pos}).doit().xreplace(vals)
            d = d.replace(lambda e: isinstance(e, sp.Indexed), lambda e: vals.get(e, e))
            if abs(sp.N(d, 50)) > 1e-40:
                raise DerivationError(f"output error {result} does not match the derivative")


# -- instantiation ----------------------------------------------------------------------------


def _rename_map(generic: str, l: int) -> dict:
    """Generic tags (l-1, l, l+1 or L-1, L) -> layer numbers, for IndexedBase/MatrixSymbol/m."""
    pairs = {"l": [("l-1", l - 1), ("l", l), ("l+1", l + 1)], "L": [("L-1", l - 1), ("L", l)]}[
        generic
    ]
    out: dict = {}
    for g, n in pairs:
        gs, ns = layer_symbols(g), layer_symbols(n)
        for stem in ("W", "b", "z", "a", "delta"):
            out[getattr(gs, stem)] = getattr(ns, stem)
        out[gs.m] = ns.m
    for g, n in pairs:
        for gm, nm in zip(_all_matrices(g), _all_matrices(n)):
            out[gm] = nm.xreplace(out)
    return out


def _all_matrices(t) -> list[sp.MatrixSymbol]:
    prev = _prev(t)
    s = layer_symbols(t)
    m_prev = layer_symbols(prev).m if prev is not None else sp.Integer(1)
    mats = list(s.matrices(m_prev).values())
    mats += list(_batch_map(t).values())
    mats += [sp.MatrixSymbol(f"dW{tag(t)}", s.m, m_prev), sp.MatrixSymbol(f"db{tag(t)}", s.m, 1)]
    return mats


@cache
def _layer_templates(activation: str, param: float | None, flags: tuple[bool, bool]):
    """The steps of a hidden layer of this type, at generic layer l (derived once)."""
    act = derive_activation(activation, param)
    return (
        _forward_z("l", "forward-z"),
        _forward_a(act, "l", "forward-a"),
        _recurrence(None, "l", "delta", act),
        *_gradients("l", "grad-W", "grad-b", flags),
    )


@cache
def _output_templates(activation: str, param: float | None, flags: tuple[bool, bool]):
    act = derive_activation(activation, param)
    mapping = _generic_to_output()
    return (
        _forward_z("l", "forward-z"),
        _forward_a(act, "L", "forward-a"),
        *(s.rename(mapping, s.label) for s in _gradients("l", "grad-W", "grad-b", flags)),
    )


def _generic_to_output() -> dict:
    out = {}
    for g, n in (("l-1", "L-1"), ("l", "L")):
        gs, ns = layer_symbols(g), layer_symbols(n)
        for stem in ("W", "b", "z", "a", "delta"):
            out[getattr(gs, stem)] = getattr(ns, stem)
        out[gs.m] = ns.m
    for g, n in (("l-1", "L-1"), ("l", "L")):
        for gm, nm in zip(_all_matrices(g), _all_matrices(n)):
            out[gm] = nm.xreplace(out)
    return out


def derive(spec: NetworkSpec) -> Derivation:
    """Derive every equation of backpropagation for `spec` (linear in depth)."""
    flags = (spec.l1 > 0, spec.l2 > 0)
    L = spec.depth
    out_layer = spec.layers[-1]
    loss = output_error(out_layer.activation, out_layer.param, spec.loss)
    layers = []
    for l, layer in enumerate(spec.layers, start=1):
        act = derive_activation(layer.activation, layer.param)
        if l < L:
            fz, fa, delta, gW, gb = _layer_templates(layer.activation, layer.param, flags)
            mapping = _rename_map("l", l)
        else:
            fz, fa, gW, gb = _output_templates(layer.activation, layer.param, flags)
            fz = fz.rename(_generic_to_output(), fz.label)
            delta = loss.output_error
            mapping = _rename_map("L", l)
        layers.append(
            LayerDerivation(
                l,
                layer.width,
                spec.widths[l - 1],
                act,
                fz.rename(mapping, f"forward-z-{l}"),
                fa.rename(mapping, f"forward-a-{l}"),
                delta.rename(mapping, f"delta-out-{l}" if l == L else f"delta-{l}"),
                gW.rename(mapping, f"grad-W-{l}"),
                gb.rename(mapping, f"grad-b-{l}"),
            )
        )
        if layer.batchnorm or layer.dropout:  # issue 11: derived in symfnn/engine/batchnorm.py
            from . import batchnorm

            norm, steps = batchnorm.layer(layer, l, flags)
            layers[-1] = replace(layers[-1], norm=norm, **steps)
    reg = None
    if any(flags):
        omega, grad = _regulariser_terms(*flags)
        reg = Step(
            "grad-reg",
            sp.Derivative(sp.Symbol("Omega"), layer_symbols("l").W[p, q]),
            grad,
            differentiated=omega,
            raw=sp.diff(omega, layer_symbols("l").W[p, q]),
        )
    coefficients = {
        sym: v for sym, v, on in ((LAMBDA1, spec.l1, flags[0]), (LAMBDA2, spec.l2, flags[1])) if on
    }
    if any(layer.batchnorm for layer in spec.layers):
        from .batchnorm import EPSILON, EPSILON_VALUE

        coefficients[EPSILON] = float(EPSILON_VALUE)
    return Derivation(
        spec,
        general_steps(),
        {layer.activation.name: layer.activation for layer in layers},
        loss,
        tuple(layers),
        reg,
        _risk(spec, flags),
        _update(),
        coefficients,
    )


def _risk(spec: NetworkSpec, flags) -> sp.Expr:
    """R = (1/N) Σ_n L(y^(n), a^(L,n)) + Σ_l Ω(W^(l))."""
    n = sp.Symbol("n", integer=True)
    Ln = sp.Function("L")(
        sp.Indexed(sp.IndexedBase("y"), n), sp.Indexed(sp.IndexedBase(f"a{spec.depth}"), n)
    )
    risk = sp.Sum(Ln, (n, 1, N)) / N
    if any(flags):
        omega, _ = _regulariser_terms(*flags)
        l = sp.Symbol("l", integer=True)
        risk += sp.Sum(omega, (l, 1, spec.depth))
    return risk


def _update() -> dict[str, Step]:
    """The gradient-descent step W <- W - α ∂R/∂W, b <- b - α ∂R/∂b, in matrix form."""
    mats = _mats("l-1", "l")
    s = layer_symbols("l")
    W, b = mats[s.W], mats[s.b]
    dW = sp.MatrixSymbol("dW_l", *W.shape)
    db = sp.MatrixSymbol("db_l", *b.shape)
    return {
        "W": Step("update-W", W, W, matrix_lhs=W, matrix=sp.MatAdd(W, -ALPHA * dW, evaluate=False)),
        "b": Step("update-b", b, b, matrix_lhs=b, matrix=sp.MatAdd(b, -ALPHA * db, evaluate=False)),
    }
