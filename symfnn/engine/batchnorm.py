"""Batch normalisation and inverted dropout, derived by SymPy at mini-batch level.

A normalised layer l, per unit, over the N samples of a mini-batch (samples as an index):

    z = W a^(l-1)  (no bias: β takes its place)       μ = (1/N) Σ_n z_n
    σ² = (1/N) Σ_n (z_n − μ)²  (biased)               ẑ_n = (z_n − μ) / √(σ² + ε)
    y_n = γ ẑ_n + β                                   a_n = f(y_n) ⊙ m_n / (1 − q)

Only these definitions are written here; every derivative is SymPy's `diff` with fresh
indices, folded like the rest of symfnn (`indexcalc.fold`). The samples couple through μ
and σ²: ∂ẑ_n/∂z_r has a term for every n, which SymPy folds and simplifies itself into the
compact form N δ_r = (σ² + ε)^(−1/2) (N g_r − Σ_n g_n − ẑ_r Σ_n g_n ẑ_n). Dropout's mask
m (0 or 1 per unit and sample) enters as data, so its derivative is the mask itself.

Each per-unit result is lifted to the mini-batch (samples as rows, one column per unit) by
`lift` — Σ_n over the batch -> 1ᵀ X, a per-unit scalar -> a row broadcast over the rows —
and every lifted form is proven equal to its index form on explicit matrices (N = 3).

Scale: as for the plain layers, errors carry N ∂R/∂(·) (the per-sample δ when R is a mean),
so gradients are (1/N) sums over the batch.

Prediction reads running estimates of μ and σ² instead, a rule table (`RUNNING`, PyTorch's
convention, not derived): each training step moves them towards the batch's statistics by the
momentum ρ, the variance unbiased. The script's update and the document's algorithm box are
printed from it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from functools import cache

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..errors import DerivationError
from . import activations, derive, matrixform
from .activations import derive_activation
from .derive import Step
from .indexcalc import fold
from .spec import LayerSpec
from .symbols import N, k, layer_symbols, p, tag, width

EPSILON = sp.Symbol("epsilon", positive=True)  # ε, added to the batch variance
EPSILON_VALUE = sp.Rational(1, 10**5)  # PyTorch's default, 1e-5
Q = sp.Symbol("q", nonnegative=True)  # a layer's dropout probability (generic)
MOMENTUM = sp.Symbol("rho", positive=True)  # ρ, of the running estimates
MOMENTUM_VALUE = sp.Rational(1, 10)  # PyTorch's default, 0.1

# -- one unit over the batch (layer-agnostic) ------------------------------------------------

n, r, s, u = sp.symbols("n r s u", integer=True)  # r: the fresh index we differentiate by
z = sp.IndexedBase("z", real=True)  # one unit's net input, sample by sample
zhat = sp.IndexedBase("zhat", real=True)
y = sp.IndexedBase("y", real=True)
dzhat = sp.IndexedBase("dzhat", real=True)  # g_n = N ∂R/∂ẑ_n
delta_y = sp.IndexedBase("delta_y", real=True)  # N ∂R/∂y_n
mu, var = sp.Symbol("mu", real=True), sp.Symbol("sigma2", nonnegative=True)
gamma, beta = sp.Symbol("gamma", real=True), sp.Symbol("beta", real=True)
# the running estimates prediction reads in place of μ and σ²
mean_run, var_run = sp.Symbol("mubar", real=True), sp.Symbol("sigma2bar", nonnegative=True)

# One training step's update of the running estimates, `target ← value` in order (PyTorch's
# torch.nn.BatchNorm1d: momentum 0.1, the variance unbiased by N/(N - 1)).
RUNNING = (
    (mean_run, (1 - MOMENTUM) * mean_run + MOMENTUM * mu),
    (var_run, (1 - MOMENTUM) * var_run + MOMENTUM * N / (N - 1) * var),
)


def _mean_of_z() -> sp.Expr:
    return sp.Sum(z[u], (u, 1, N)) / N


def _variance_of_z(mean: sp.Expr) -> sp.Expr:
    return sp.Sum((z[s] - mean) ** 2, (s, 1, N)) / N


def _zhat_of_z(idx: sp.Symbol) -> sp.Expr:
    """ẑ_idx written out in z alone: μ and σ² are sums over the batch."""
    mean = _mean_of_z()
    return (z[idx] - mean) / sp.sqrt(_variance_of_z(mean) + EPSILON)


@dataclass(frozen=True)
class UnitSteps:
    """The index-level steps of one unit (generic N): definitions, then derivatives."""

    mean: Step
    variance: Step
    normalised: Step
    affine: Step
    grad_gamma: Step
    grad_beta: Step
    dzhat: Step
    delta: Step  # N ∂R/∂z_r through μ and σ², in the compact form


def _statistics(e: sp.Expr) -> sp.Expr:
    """Σ_s z_s -> N μ and Σ_s (z_s − μ)² -> N σ² (whatever the dummy index)."""

    def name(S: sp.Sum) -> sp.Expr:
        ((x, _, _),) = S.limits
        if S.function == z[x]:
            return N * mu
        if sp.expand(S.function - (z[x] - mu) ** 2) == 0:
            return N * var
        return S

    return e.replace(lambda x: isinstance(x, sp.Sum), name)


@cache
def unit_steps() -> UnitSteps:
    """Differentiate the normalisation of one unit through the batch mean and variance."""
    mean = Step("bn-mean", mu, _mean_of_z())
    variance = Step("bn-variance", var, _variance_of_z(mu))
    normalised = Step("bn-normalise", zhat[r], (z[r] - mu) / sp.sqrt(var + EPSILON))
    y_of = lambda idx: gamma * zhat[idx] + beta
    affine = Step("bn-affine", y[r], y_of(r))

    grads = []
    for label, wrt in (("grad-gamma", gamma), ("grad-beta", beta)):
        # ∂R/∂γ = Σ_n ∂R/∂y_n ∂y_n/∂γ, with N ∂R/∂y_n = δ^y_n
        chain = sp.Sum(delta_y[n] / N * sp.diff(y_of(n), wrt), (n, 1, N))
        grads.append(Step(label, sp.Derivative(derive.RISK, wrt), fold(chain), raw=chain))
    chain = sp.Sum(delta_y[n] * sp.diff(y_of(n), zhat[r]), (n, 1, N))
    g_step = Step("bn-dzhat", dzhat[r], fold(chain), raw=chain)

    # N ∂R/∂z_r = Σ_n g_n ∂ẑ_n/∂z_r, with ẑ_n written out in z (μ and σ² as sums)
    raw = sp.diff(_zhat_of_z(n), z[r])
    folded = fold(sp.Sum(dzhat[n] * raw, (n, 1, N)))
    named = _statistics(folded)  # the sums that are μ and σ², by name
    sigma = sp.sqrt(var + EPSILON)
    in_zhat = fold(named.replace(_is_z, lambda e: mu + sigma * zhat[e.indices[0]]))
    compact = sp.factor_terms(sp.simplify(in_zhat))
    if compact.has(z) or sp.simplify(compact - in_zhat) != 0:
        raise DerivationError(f"batch norm: could not reach a form in ẑ, got {compact}")
    delta = Step(
        "bn-delta",
        sp.Derivative(derive.RISK, z[r]) * N,
        compact,
        differentiated=_zhat_of_z(n),
        raw=raw,
        stages=(("folded", folded), ("statistics", named), ("in-zhat", in_zhat)),
    )
    return UnitSteps(mean, variance, normalised, affine, *grads, g_step, delta)


def _is_z(e: sp.Basic) -> bool:
    return isinstance(e, sp.Indexed) and e.base == z


# -- per layer: names and the lift to the mini-batch ------------------------------------------


@dataclass(frozen=True)
class Names:
    """The batch matrices of one normalised layer (samples as rows, units as columns)."""

    Z: sp.MatrixSymbol
    Zhat: sp.MatrixSymbol
    Y: sp.MatrixSymbol
    dZhat: sp.MatrixSymbol
    DeltaY: sp.MatrixSymbol
    Mask: sp.MatrixSymbol
    mu: sp.MatrixSymbol  # 1×m
    var: sp.MatrixSymbol  # 1×m
    gamma: sp.MatrixSymbol  # m×1, a parameter like b
    beta: sp.MatrixSymbol
    dgamma: sp.MatrixSymbol
    dbeta: sp.MatrixSymbol
    running_mean: sp.MatrixSymbol  # 1×m, kept in the script's params as mean{l}
    running_var: sp.MatrixSymbol  # 1×m, as var{l}


def names(t: int | str) -> Names:
    T, m = tag(t), width(t)
    batch = lambda stem: sp.MatrixSymbol(f"{stem}{T}", N, m)
    col = lambda stem: sp.MatrixSymbol(f"{stem}{T}", m, 1)
    row = lambda stem: sp.MatrixSymbol(f"{stem}{T}", 1, m)
    return Names(
        batch("Z"),
        batch("Zhat"),
        batch("Y"),
        batch("dZhat"),
        batch("DeltaY"),
        batch("Mask"),
        row("mu"),
        row("sigma2_"),
        col("gamma"),
        col("beta"),
        col("dgamma"),
        col("dbeta"),
        row("mean"),
        row("var"),
    )


def _unit_map(t) -> tuple[dict, dict]:
    """Per-sample IndexedBase -> batch matrix; per-unit scalar -> its 1×m row."""
    x = names(t)
    samples = {z: x.Z, zhat: x.Zhat, y: x.Y, dzhat: x.dZhat, delta_y: x.DeltaY}
    units = {mu: x.mu, var: x.var, gamma: x.gamma.T, beta: x.beta.T}
    units |= {mean_run: x.running_mean, var_run: x.running_var}
    return samples, units


def lift(e: sp.Expr, t) -> sp.Basic:
    """A per-unit index expression -> the N×m (or 1×m) matrix of it for every unit.

    Rules: x_r -> X (N×m); a per-unit scalar -> its 1×m row; Σ_n over the batch -> 1ᵀ(·);
    a product or sum of rows and batch matrices -> ⊙ or +, a row broadcast to every sample
    as 1_N row, a number as c 1; a non-integer power -> applied element-wise.
    """
    samples, units = _unit_map(t)
    m = width(t)
    _kind, out = _lift(sp.sympify(e), samples, units, m)
    return out


def _broadcast(kind: str, x, to: str, m) -> sp.Basic:
    if kind == to:
        return x
    if kind == "scalar":
        shape = (1, m) if to == "row" else (N, m)
        return sp.MatMul(x, sp.OneMatrix(*shape))
    return sp.MatMul(sp.OneMatrix(N, 1), x)  # a row repeated for every sample


_RANK = {"scalar": 0, "row": 1, "batch": 2}


def _lift(e, samples, units, m) -> tuple[str, sp.Basic]:
    if isinstance(e, sp.Indexed) and e.base in samples:
        return "batch", samples[e.base]
    if e in units:
        return "row", units[e]
    if not (e.free_symbols & set(units)) and not any(
        x.base in samples for x in e.atoms(sp.Indexed)
    ):
        return "scalar", e
    if isinstance(e, sp.Sum):
        ((_, lo, hi),) = e.limits
        kind, body = _lift(e.function, samples, units, m)
        if kind != "batch" or (lo, hi) != (1, N):
            raise DerivationError(f"batch norm: no lift rule for {e}")
        return "row", sp.MatMul(sp.OneMatrix(1, N), body)
    if isinstance(e, (sp.Add, sp.Mul)):
        parts = [_lift(a, samples, units, m) for a in e.args]
        top = max((kind for kind, _ in parts), key=_RANK.get)
        if isinstance(e, sp.Add):
            return top, sp.MatAdd(*(_broadcast(kd, x, top, m) for kd, x in parts))
        c = sp.Mul(*(x for kd, x in parts if kd == "scalar"))
        mats = [_broadcast(kd, x, top, m) for kd, x in parts if kd != "scalar"]
        out = mats[0] if len(mats) == 1 else sp.HadamardProduct(*mats)
        return top, out if c == 1 else sp.MatMul(c, out)
    if isinstance(e, sp.Pow):
        kind, base = _lift(e.base, samples, units, m)
        if e.exp.is_Integer and e.exp > 0:
            return kind, sp.HadamardPower(base, e.exp)
        return kind, ElementwiseApplyFunction(sp.Lambda(matrixform.x, matrixform.x**e.exp), base)
    raise DerivationError(f"batch norm: no lift rule for {e}")


def check_lift(index: sp.Expr, batch: sp.Basic, t, column: bool = False) -> None:
    """Prove `batch` equals `index` for every unit and sample on explicit matrices (N = 3).

    `index` has the free sample index r (a batch matrix) or none (a 1×m row; with
    `column`, the m×1 transpose, as a parameter's gradient is stored).
    """
    sizes = {N: 3, width(t): 2}
    samples, units = _unit_map(t)
    values = {ms: matrixform.explicit(ms, sizes) for ms in batch.atoms(sp.MatrixSymbol)}
    for ms in [*samples.values(), *(v.atoms(sp.MatrixSymbol).pop() for v in units.values())]:
        values.setdefault(ms, matrixform.explicit(ms, sizes))
    rows_of = {sym: matrixform.evaluate(v, sizes, values) for sym, v in units.items()}
    B = matrixform.evaluate(batch, sizes, values)
    if column:
        B = B.T
    for row, unit in itertools.product(range(B.rows), range(B.cols)):
        entry = {base[i + 1]: values[ms][i, unit] for base, ms in samples.items() for i in range(3)}
        entry |= {sym: v[0, unit] for sym, v in rows_of.items()}
        at = {r: row + 1} if index.has(r) else {}
        e = index.xreplace({N: 3} | at).doit().xreplace(entry)
        if sp.simplify(e - B[row, unit]) != 0:
            raise DerivationError(f"batch form {batch} disagrees with {index}")


def running_update(t) -> tuple[tuple[sp.MatrixSymbol, sp.Basic], ...]:
    """RUNNING at layer t: (1×m row, its new value) in order, each value lifted from the
    table's entry term by term (the term of the target first, as the entry reads) and proven
    equal to it on explicit matrices. For the printers (the document, the terminal), a sum as
    coefficient is left as written, 1 − ρ (evaluated, it would print subtracted: −(ρ − 1))."""
    out = []
    for target, value in RUNNING:
        terms = sorted(sp.Add.make_args(value), key=lambda e: not e.has(target))
        batch = sp.MatAdd(*(lift(e, t) for e in terms), evaluate=False)
        check_lift(value, batch, t)
        batch = batch.replace(
            lambda e: isinstance(e, sp.MatMul) and e.args[0].is_Add,
            lambda e: sp.MatMul(sp.UnevaluatedExpr(e.args[0]), *e.args[1:], evaluate=False),
        )
        out.append((lift(target, t), batch))
    return tuple(out)


# -- the masked δ recurrence and the masked activation (generic layer l) ----------------------


def _mask_names(t) -> tuple[sp.IndexedBase, sp.IndexedBase, dict, dict]:
    """u (the activation's input: y for bn, else z) and the mask, per sample and batched."""
    T, m = tag(t), width(t)
    yb, mb = sp.IndexedBase(f"y{T}", real=True), sp.IndexedBase(f"mask{T}", real=True)
    x = names(t)
    mats = {yb: sp.MatrixSymbol(f"y{T}", m, 1), mb: sp.MatrixSymbol(f"mask{T}", m, 1)}
    batch = {mats[yb]: x.Y, mats[mb]: x.Mask}
    return yb, mb, mats, batch


def keep_scale(q: sp.Expr) -> sp.Expr:
    """Inverted dropout: the kept units are scaled by 1/(1 − q) while training."""
    return 1 / (1 - q)


@cache
def masked_steps(activation: str, param: float | None, bn: bool, dropout: bool):
    """a = f(u) [⊙ m/(1−q)] and δ^u = N ∂R/∂u by the chain rule through layer l+1.

    u is y for a normalised layer, z otherwise; the mask is data (0 or 1), so differentiating
    through it leaves it as a factor.
    """
    act = derive_activation(activation, param)
    cur, nxt = layer_symbols("l"), layer_symbols("l+1")
    yb, mb, ymats, ybatch = _mask_names("l")
    ub = yb if bn else cur.z
    scale = (lambda j: mb[j] * keep_scale(Q)) if dropout else (lambda j: 1)
    f_of = lambda j: act.f.subs(activations.z, ub[j])
    mats = derive._mats("l", "l+1") | ymats
    bmap = derive._batch_map("l", "l+1") | ybatch

    a_p = f_of(p) * scale(p)
    forward = derive.vector_step("forward-a", cur.a[p], a_p, mats, bmap, mats[cur.a])

    z_next = sp.Sum(nxt.W[k, s] * f_of(s) * scale(s), (s, 1, cur.m)) + nxt.b[k]
    raw = sp.diff(z_next, ub[p])
    dz = fold(raw)
    chain = sp.Sum(nxt.delta[k] * dz, (k, 1, nxt.m))
    index = fold(chain)
    of = ymats[yb] if bn else mats[cur.delta]
    batch_lhs = names("l").DeltaY if bn else None
    stages = (("dz-next", dz), ("chain", chain), ("folded", index))
    derived = {"differentiated": z_next, "raw": raw, "stages": stages}
    label, lhs = "delta-y" if bn else "delta", sp.Derivative(derive.LOSS, ub[p])
    backward = derive.vector_step(label, lhs, index, mats, bmap, of, batch_lhs, **derived)
    return forward, backward


@cache
def _unbiased_z() -> Step:
    """z_p = Σ_j W_pj a_j: a normalised layer's net input has no bias."""
    prev, cur = layer_symbols("l-1"), layer_symbols("l")
    mats = derive._mats("l-1", "l")
    bmap = derive._batch_map("l-1", "l")
    j = sp.Symbol("j", integer=True)
    z_p = sp.Sum(cur.W[p, j] * prev.a[j], (j, 1, prev.m))
    return derive.vector_step("forward-z", cur.z[p], z_p, mats, bmap, mats[cur.z])


@cache
def _lifted_unit_steps() -> tuple[Step, ...]:
    """The unit steps lifted to the batch at generic layer l, each proven on matrices."""
    us, x = unit_steps(), names("l")
    out = []
    for step, lhs, column in (
        (us.mean, x.mu, False),
        (us.variance, x.var, False),
        (us.normalised, x.Zhat, False),
        (us.affine, x.Y, False),
        (us.grad_gamma, x.dgamma, True),
        (us.grad_beta, x.dbeta, True),
        (us.dzhat, x.dZhat, False),
        (us.delta, derive._batch_map("l")[_delta_vec()], False),
    ):
        batch = lift(step.index, "l")
        if column:
            batch = sp.Transpose(batch)
        check_lift(step.index, batch, "l", column)
        out.append(replace(step, batch_lhs=lhs, batch=batch, checked=True))
    return tuple(out)


# -- a layer's steps ------------------------------------------------------------------------


@dataclass(frozen=True)
class NormLayer:
    """The extra steps of a layer with batch normalisation and/or dropout (samples as rows).

    `forward` in evaluation order (z, μ, σ², ẑ, y, a — or just a for dropout alone);
    `backward` in order (δ^y, g = N ∂R/∂ẑ, δ — or just δ), each with `batch_lhs` naming what
    it defines; `grad_gamma`, `grad_beta` for bn. `dropout` is q (0: none).
    """

    l: int
    batchnorm: bool
    dropout: float
    forward: tuple[Step, ...]
    backward: tuple[Step, ...]
    grad_gamma: Step | None
    grad_beta: Step | None

    @property
    def steps(self) -> tuple[Step, ...]:
        extra = (self.grad_gamma, self.grad_beta) if self.batchnorm else ()
        return (*self.forward, *self.backward, *extra)


def _rename_map(l: int, q: float) -> dict:
    """Generic layer l (and l-1, l+1) -> layer numbers, for our names and derive's."""
    out = derive._rename_map("l", l)
    for g_t, n_t in (("l", l), ("l+1", l + 1), ("l-1", l - 1)):
        for gm, nm in zip(vars(names(g_t)).values(), vars(names(n_t)).values()):
            out[gm] = nm.xreplace(out)
        gy, gm_, gmats, _ = _mask_names(g_t)
        ny, nm_, nmats, _ = _mask_names(n_t)
        out[gy], out[gm_] = ny, nm_
        for a, b in zip(gmats.values(), nmats.values()):
            out[a] = b.xreplace(out)
    out[Q] = sp.nsimplify(q)
    return out


def layer(spec_layer: LayerSpec, l: int, flags: tuple[bool, bool]) -> tuple[NormLayer, dict]:
    """The NormLayer of layer l and the LayerDerivation fields it replaces.

    Returns (norm, fields): fields for forward_z, forward_a, delta, grad_W, grad_b (for
    bn, grad_b is ∂R/∂β: β takes b's place).
    """
    bn, q = spec_layer.batchnorm, spec_layer.dropout
    fa, delta_u = masked_steps(spec_layer.activation, spec_layer.param, bn, q > 0)
    fz, _, _, gW, gb = derive._layer_templates(spec_layer.activation, spec_layer.param, flags)
    mapping = _rename_map(l, q)
    rn = lambda st, label: st.rename(mapping, f"{label}-{l}")
    if not bn:
        norm = NormLayer(l, False, q, (rn(fa, "forward-a"),), (rn(delta_u, "delta"),), None, None)
        return norm, {
            "forward_z": rn(fz, "forward-z"),
            "forward_a": norm.forward[0],
            "delta": norm.backward[0],
            "grad_W": rn(gW, "grad-W"),
            "grad_b": rn(gb, "grad-b"),
        }
    mean, variance, normalised, affine, g_gamma, g_beta, g_zhat, delta = _lifted_unit_steps()
    forward = tuple(
        rn(st, label)
        for st, label in (
            (_unbiased_z(), "forward-z"),
            (mean, "bn-mean"),
            (variance, "bn-variance"),
            (normalised, "bn-normalise"),
            (affine, "bn-affine"),
            (fa, "forward-a"),
        )
    )
    delta_l = rn(delta, "delta")
    backward = (rn(delta_u, "delta-y"), rn(g_zhat, "bn-dzhat"), delta_l)
    norm = NormLayer(
        l, True, q, forward, backward, rn(g_gamma, "grad-gamma"), rn(g_beta, "grad-beta")
    )
    return norm, {
        "forward_z": forward[0],
        "forward_a": forward[-1],
        "delta": delta_l,
        "grad_W": rn(gW, "grad-W"),
        "grad_b": norm.grad_beta,
    }


def _delta_vec() -> sp.MatrixSymbol:
    cur = layer_symbols("l")
    return derive._mats("l")[cur.delta]


# -- the order the mini-batch forms run in (the proof and the printers read it) ---------------


def batch_forward(layer) -> tuple[Step, ...]:
    """A LayerDerivation's forward steps in order: z [, μ, σ², ẑ, y], a."""
    norm = layer.norm
    if norm is None:
        return (layer.forward_z, layer.forward_a)
    return norm.forward if norm.batchnorm else (layer.forward_z, *norm.forward)


def batch_backward(layer) -> tuple[Step, ...]:
    """A LayerDerivation's backward steps in order: δ [via δ^y and N ∂R/∂ẑ], then gradients."""
    norm = layer.norm
    if norm is None:
        return (layer.delta, layer.grad_W, layer.grad_b)
    params = (norm.grad_gamma, norm.grad_beta) if norm.batchnorm else (layer.grad_b,)
    return (*norm.backward, layer.grad_W, *params)
