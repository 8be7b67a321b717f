"""The proof: a derivation's gradients against brute-force differentiation of the loss.

On a small instance of the same architecture (same activations, loss and regularisers;
widths shrunk to 2-3), the whole regularised risk is written as one scalar SymPy
expression in explicit weight symbols, straight from the definitions, and differentiated
by every weight and bias. That is independent of the recurrence. The derivation's
mini-batch forms (forward pass, δ^(L), the δ recurrence, the gradients) are evaluated on
the same numbers, and the two must agree to ~1e-50 at 60 digits. On the smallest instance
the difference is also shown to cancel to 0 symbolically, in the region of each
piecewise function (ReLU-like kinks, |w| of L1) that a random point lies in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import mpmath
import sympy as sp

from . import activations, losses, matrixform
from .derive import LAMBDA1, LAMBDA2, Derivation, derive
from .errors import CheckError
from .spec import NetworkSpec
from .symbols import N, layer_symbols

DIGITS = 60
TOLERANCE = sp.Float("1e-50")
KINK_MARGIN = 0.05  # points keep every z and (with L1) every w this far from 0


@dataclass
class Report:
    """What the proof checked, and how close the two sides came."""

    instance: NetworkSpec
    samples: int
    partials: int
    points: int
    worst: float
    symbolic: str  # 'cancelled to 0', 'skipped: …', or a failure
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.symbolic.startswith("FAILED")

    def lines(self) -> list[str]:
        return [
            f"instance:   {self.instance.describe()} ({self.instance.parameter_count} parameters)",
            (
                f"checked:    {self.partials} partial derivatives x {self.points} random points, "
                f"batch of {self.samples} samples, {DIGITS}-digit arithmetic"
            ),
            f"worst |difference|: {self.worst:.3g} (tolerance {float(TOLERANCE):.0e})",
            f"symbolic:   {self.symbolic}",
            *(f"MISMATCH:   {m}" for m in self.mismatches),
            f"verdict:    {'PROVEN' if self.ok else 'FAILED'}",
        ]


def small_instance(spec: NetworkSpec, width: int = 2) -> NetworkSpec:
    """The same layer types at width 2 (3 for a softmax output, 2 inputs)."""
    widths = (
        [width]
        + [width] * (spec.depth - 1)
        + [3 if spec.layers[-1].activation == "softmax" else width]
    )
    return spec.with_widths(tuple(widths))


@dataclass
class _Instance:
    spec: NetworkSpec
    X: sp.ImmutableMatrix  # N×m0
    Y: sp.ImmutableMatrix  # N×mL
    W: list[sp.ImmutableMatrix]
    b: list[sp.ImmutableMatrix]

    @property
    def parameters(self) -> list[sp.Symbol]:
        return [s for l in range(len(self.W)) for s in (*self.W[l], *self.b[l])]


def _instance(spec: NetworkSpec, samples: int) -> _Instance:
    sym = lambda name: sp.Symbol(name, real=True)
    w = spec.widths
    X = sp.ImmutableMatrix(samples, w[0], lambda n, j: sym(f"x{n + 1}_{j + 1}"))
    Y = sp.ImmutableMatrix(samples, w[-1], lambda n, j: sym(f"y{n + 1}_{j + 1}"))
    W = [
        sp.ImmutableMatrix(w[l], w[l - 1], lambda i, j, l=l: sym(f"w{l}_{i + 1}{j + 1}"))
        for l in range(1, len(w))
    ]
    b = [
        sp.ImmutableMatrix(w[l], 1, lambda i, _, l=l: sym(f"b{l}_{i + 1}"))
        for l in range(1, len(w))
    ]
    return _Instance(spec, X, Y, W, b)


def brute_force_risk(inst: _Instance, region: dict | None = None) -> sp.Expr:
    """R = (1/N) Σ_n L(y_n, a_n) + Σ_l Ω(W_l), from the definitions alone.

    With `region` (a point), each piecewise function (ReLU-like activations, |w|) is
    replaced by its piece that holds at that point, so the expression stays small and
    differentiable there; without it the whole Piecewise is kept.
    """
    spec = inst.spec
    total = sp.S.Zero
    for n in range(inst.X.rows):
        a = inst.X[n, :].T
        for l, layer in enumerate(spec.layers):
            z = inst.W[l] * a + inst.b[l]
            a = _activate(layer, z, region)
        ell = losses.LOSSES[spec.loss].ell
        total += sum(ell.subs({losses.a: a[i], losses.y: inst.Y[n, i]}) for i in range(a.rows))
    risk = total / inst.X.rows
    for W in inst.W:
        for on, name, value in ((spec.l2, "l2", spec.l2), (spec.l1, "l1", spec.l1)):
            if on:
                omega = losses.REGULARISERS[name].omega
                risk += sum(omega.subs({losses.W: w, losses.lam: sp.nsimplify(value)}) for w in W)
    return risk if region is None else _fix_region(risk, region)


def _activate(layer, z: sp.Matrix, region: dict | None) -> sp.Matrix:
    if layer.activation == "softmax":
        e = z.applyfunc(sp.exp)
        return e / sum(e)
    act = activations.TABLE[layer.activation]
    if region is None or len(act.pieces) == 1:
        f = act.definition(layer.param)
        return z.applyfunc(lambda v: f.subs(activations.z, v))

    def piece(v):
        at = float(v.xreplace(region))
        for expr, cond, _ in act.pieces:
            if cond == sp.true or bool(cond.subs(activations.z, at)):
                return act.bind(expr, layer.param).subs(activations.z, v)

    return z.applyfunc(piece)


def _pre_activations(inst: _Instance, point: dict) -> list[float]:
    """Every z of every piecewise layer, for every sample, at `point`."""
    out = []
    for n in range(inst.X.rows):
        a = inst.X[n, :].T.xreplace(point)
        for l, layer in enumerate(inst.spec.layers):
            z = (inst.W[l].xreplace(point) * a + inst.b[l].xreplace(point)).evalf(30)
            if len(activations.TABLE[layer.activation].pieces) > 1:
                out += [float(v) for v in z]
            a = _activate(layer, z, point).evalf(30)
    return out


def recurrence_gradients(
    d: Derivation, inst: _Instance, values: dict, region: dict | None = None
) -> list[sp.Expr]:
    """The derivation's mini-batch forms evaluated on explicit matrices, in parameter order.

    `values` are put in for the instance's symbols (all of them: a numeric check; the data
    only: a symbolic one, whose piecewise branches are then chosen at `region`).
    """
    spec = d.spec
    sub = lambda M: M.xreplace(values) if values else M
    n = inst.X.rows
    env: dict = {LAMBDA1: sp.nsimplify(spec.l1), LAMBDA2: sp.nsimplify(spec.l2)}
    sizes = {N: n} | {layer_symbols(l).m: w for l, w in enumerate(spec.widths)}
    mats: dict = {}

    def ev(expr):
        return matrixform.evaluate(expr.xreplace(env), sizes, mats, region)

    mats[_batch("A", 0, d)] = sub(inst.X)
    mats[sp.MatrixSymbol("Y", N, layer_symbols(spec.depth).m)] = sub(inst.Y)
    for layer in d.layers:
        l = layer.l
        mats[_w(l)] = sub(inst.W[l - 1])
        mats[_b(l)] = sub(inst.b[l - 1])
        mats[layer.forward_z.batch_lhs] = ev(layer.forward_z.batch)
        mats[layer.forward_a.batch_lhs] = ev(layer.forward_a.batch)
    grads: list[sp.Expr] = []
    for layer in reversed(d.layers):
        mats[layer.delta.batch_lhs] = ev(layer.delta.batch)
    for layer in d.layers:
        gW, gb = ev(layer.grad_W.batch), ev(layer.grad_b.batch)
        grads += [*gW, *gb]
    return grads


def _batch(stem: str, l: int, d: Derivation) -> sp.MatrixSymbol:
    return sp.MatrixSymbol(f"{stem}{l}", N, layer_symbols(l).m)


def _w(l: int) -> sp.MatrixSymbol:
    return sp.MatrixSymbol(f"W{l}", layer_symbols(l).m, layer_symbols(l - 1).m)


def _b(l: int) -> sp.MatrixSymbol:
    return sp.MatrixSymbol(f"b{l}", layer_symbols(l).m, 1)


def _random_point(inst: _Instance, rng: random.Random) -> dict:
    """Random inputs, weights, biases and targets (one-hot where the loss needs it)."""
    spec = inst.spec
    loss = losses.LOSSES[spec.loss]
    point = {}
    draw = lambda: sp.Float(rng.uniform(-1.5, 1.5), DIGITS)
    for s in (*inst.X, *inst.parameters):
        point[s] = draw()
    for n in range(inst.Y.rows):
        hot = rng.randrange(inst.Y.cols)
        for c in range(inst.Y.cols):
            if loss.one_hot:
                point[inst.Y[n, c]] = sp.Integer(int(c == hot))
            elif loss.name == "binary_cross_entropy":
                point[inst.Y[n, c]] = sp.Integer(rng.randrange(2))
            else:
                point[inst.Y[n, c]] = draw()
    return point


def _near_kink(inst: _Instance, point: dict) -> bool:
    """True if some pre-activation of a piecewise layer, or (with L1) some weight, is near 0."""
    if inst.spec.l1 and any(abs(point[w]) < KINK_MARGIN for W in inst.W for w in W):
        return True
    return any(abs(v) < KINK_MARGIN for v in _pre_activations(inst, point))


def _fix_region(expr: sp.Expr, point: dict) -> sp.Expr:
    """Each Piecewise -> the branch that holds at `point`; |w| -> ±w; sign(w) -> ±1."""

    def branch(pw):
        for e, c in pw.args:
            if c == sp.true or bool(c.xreplace(point)):
                return e
        raise CheckError(f"no branch of {pw} holds")

    expr = expr.replace(lambda e: isinstance(e, sp.Piecewise), branch)
    expr = expr.replace(
        lambda e: isinstance(e, sp.Abs), lambda e: sp.sign(e.args[0].xreplace(point)) * e.args[0]
    )
    return expr.replace(
        lambda e: isinstance(e, sp.sign), lambda e: sp.sign(e.args[0].xreplace(point))
    )


def verify(
    d: Derivation, *, points: int = 3, samples: int = 2, seed: int = 0, symbolic: bool = True
) -> Report:
    """Prove `d` on a small instance of its architecture; see the module docstring."""
    if d.spec.normalised:  # batch norm / dropout (issue 11): samples couple, see verify_bn
        from .verify_bn import verify as verify_normalised

        return verify_normalised(d, points=points, samples=samples, seed=seed, symbolic=symbolic)
    small = small_instance(d.spec)
    d_small = derive(small) if small != d.spec else d
    d_small = _transplant(d, d_small)
    inst = _instance(small, samples)
    params = inst.parameters
    rng = random.Random(seed)
    worst, mismatches, used = 0.0, [], []
    smooth = not small.l1 and all(
        len(activations.TABLE[x.activation].pieces) == 1 for x in small.layers
    )
    brute = None
    with mpmath.workdps(DIGITS):
        for _ in range(points):
            for _try in range(200):
                point = _random_point(inst, rng)
                if not _near_kink(inst, point):
                    break
            else:
                raise CheckError("could not find a point away from the kinks")
            used.append(point)
            if brute is None or not smooth:  # a smooth risk is the same in every region
                risk = brute_force_risk(inst, region=point)
                # small smooth risks: differentiate once for all points; else one at a time
                reuse = smooth and sp.count_ops(risk) < 3000
                brute = [sp.diff(risk, w) for w in params] if reuse else risk
            if reuse:
                expected = [_mpf(e.xreplace(point)) for e in brute]
            else:
                expected = [_partial(brute, w, point) for w in params]
            got = [_mpf(g) for g in recurrence_gradients(d_small, inst, point)]
            for w, e, g in zip(params, expected, got):
                diff = abs(g - e)
                worst = max(worst, float(diff))
                if diff > mpmath.mpf("1e-50") * max(1, abs(e)):
                    mismatches.append(
                        f"d R / d {w}: brute force {mpmath.nstr(e, 12)}, derivation {mpmath.nstr(g, 12)}"
                    )
    status = _symbolic(d, used[0]) if symbolic else "skipped"
    return Report(small, samples, len(params), points, worst, status, mismatches[:10])


def _transplant(original: Derivation, small: Derivation) -> Derivation:
    """Carry the original's steps onto the small instance (only the widths differ).

    The steps are at generic size, so they are the same objects; copying them makes the
    proof check exactly what the original derivation says (a corrupted one fails).
    """
    from dataclasses import replace

    layers = tuple(
        replace(
            s,
            delta=o.delta,
            grad_W=o.grad_W,
            grad_b=o.grad_b,
            forward_z=o.forward_z,
            forward_a=o.forward_a,
        )
        for s, o in zip(small.layers, original.layers)
    )
    return replace(small, layers=layers)


def smallest_instance(spec: NetworkSpec) -> NetworkSpec:
    """Every width 1 (2 for a softmax output): the instance of the symbolic proof."""
    return spec.with_widths(
        (1,) * spec.depth + (2 if spec.layers[-1].activation == "softmax" else 1,)
    )


def _symbolic(d: Derivation, point: dict, seconds: int = 90) -> str:
    """cancel(recurrence - brute force) == 0 with the weights as symbols.

    One sample whose inputs and targets are exact rationals near the point's (a one-hot
    target makes Σy = 1 hold, as the derivation assumes), on the smallest instance, in
    the region of each piecewise function that the point lies in.
    """
    small = smallest_instance(d.spec)
    d_small = _transplant(d, derive(small))
    inst = _instance(small, 1)
    rng = random.Random(1)
    # exact data of the same kind as the point's (a one-hot target stays one-hot)
    data = {
        s: _as_rational(v)
        for s, v in _random_point(inst, rng).items()
        if s in set(inst.X) | set(inst.Y)
    }
    region = {s: point.get(s, sp.Float(0.5)) for s in inst.parameters} | data
    if _near_kink(inst, region):
        region = {s: sp.Float(rng.choice((-1, 1)) * 0.7) for s in inst.parameters} | data
    risk = brute_force_risk(inst, region).xreplace(data)
    got = recurrence_gradients(d_small, inst, data, region)
    try:
        with _time_limit(seconds):
            for w, g in zip(inst.parameters, got):
                expected = sp.diff(risk, w)
                if sp.cancel(_fix_region(g, region) - expected) != 0:
                    return f"FAILED: d R / d {w} does not cancel to 0"
    except TimeoutError:
        return f"skipped: cancel took over {seconds} s"
    return f"cancel(difference) = 0 for all {len(inst.parameters)} partials of {small.compact}"


def _partial(risk: sp.Expr, w: sp.Symbol, point: dict) -> mpmath.mpf:
    """∂R/∂w at `point`: every other symbol is put in first, so `diff` sees one variable.

    (Differentiating the whole multivariate risk and then evaluating costs far more: the
    chain rule copies every nested sub-expression.) 60-digit Floats evaluate as the tree
    is rebuilt; lambdify's printing of such nested expressions is slower still.
    """
    one_variable = risk.xreplace({s: v for s, v in point.items() if s != w})
    return _mpf(sp.diff(one_variable, w).xreplace({w: point[w]}))


def _mpf(value: sp.Expr) -> mpmath.mpf:
    return mpmath.mpf(sp.Float(sp.N(value, DIGITS), DIGITS)._mpf_)


def _as_rational(v) -> sp.Rational:
    return sp.Rational(round(float(v) * 8), 8)


class _time_limit:
    """SIGALRM-based limit for SymPy calls that may not finish (main thread only)."""

    def __init__(self, seconds: int):
        self.seconds = seconds

    def __enter__(self):
        import signal
        import threading

        self.active = threading.current_thread() is threading.main_thread()
        if self.active:

            def fire(*_):
                raise TimeoutError

            self.old = signal.signal(signal.SIGALRM, fire)
            signal.alarm(self.seconds)
        return self

    def __exit__(self, *exc):
        import signal

        if self.active:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, self.old)
        return False
