"""The explicit instance: a network's whole risk as one SymPy expression, from definitions.

Every input, target, weight and bias is its own real symbol (`x1_2`, `y1_1`, `w2_13`,
`b1_2`), and the regularised risk R = (1/N) Σ_n L(y_n, a_n) + Σ_l Ω(W_l) is built from the
rule tables' definitions alone (the activation's f, the loss's ℓ, the regulariser's Ω),
knowing nothing of the recurrence. The proof (`verify.py`) differentiates it and compares
with the derivation; `reference_gradients` differentiates it to test printed code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

import mpmath
import numpy as np
import sympy as sp

from ..errors import CheckError
from . import activations, losses
from .spec import NetworkSpec

KINK_MARGIN = 0.05  # points keep every z and (with L1) every w this far from 0


@dataclass
class Instance:
    """A spec at explicit widths with explicit symbols (samples as rows, as in code)."""

    spec: NetworkSpec
    X: sp.ImmutableMatrix  # N×m0
    Y: sp.ImmutableMatrix  # N×mL
    W: list[sp.ImmutableMatrix]
    b: list[sp.ImmutableMatrix]

    @property
    def parameters(self) -> list[sp.Symbol]:
        """W1 row by row, b1, W2, b2, …: the order in which gradients are compared."""
        return [s for l in range(len(self.W)) for s in (*self.W[l], *self.b[l])]


def instance(spec: NetworkSpec, samples: int) -> Instance:
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
    return Instance(spec, X, Y, W, b)


def brute_force_risk(inst: Instance, region: dict | None = None) -> sp.Expr:
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
            a = activate(layer, z, region)
        ell = losses.LOSSES[spec.loss].ell
        total += sum(ell.xreplace({losses.a: a[i], losses.y: inst.Y[n, i]}) for i in range(a.rows))
    risk = total / inst.X.rows
    for W in inst.W:
        for name, value in (("l2", spec.l2), ("l1", spec.l1)):
            if value:
                omega = losses.REGULARISERS[name].omega
                risk += sum(
                    omega.xreplace({losses.W: w, losses.lam: sp.nsimplify(value)}) for w in W
                )
    return risk if region is None else fix_region(risk, region)


def activate(layer, z: sp.Matrix, region: dict | None) -> sp.Matrix:
    """f applied to the column z, from the table's definition (softmax: over the column)."""
    if layer.activation == "softmax":
        e = z.applyfunc(sp.exp)
        return e / sum(e)
    act = activations.TABLE[layer.activation]
    if region is None or len(act.pieces) == 1:
        f = act.definition(layer.param)
        return z.applyfunc(lambda v: f.xreplace({activations.z: v}))

    def piece(v):
        at = float(v.xreplace(region))
        for expr, cond, _ in act.pieces:
            if cond == sp.true or bool(cond.subs(activations.z, at)):
                return act.bind(expr, layer.param).xreplace({activations.z: v})

    return z.applyfunc(piece)


def fix_region(expr: sp.Expr, point: dict) -> sp.Expr:
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


def random_point(inst: Instance, rng: random.Random, digits: int) -> dict:
    """Random inputs, weights, biases and targets (one-hot where the loss needs it)."""
    loss = losses.LOSSES[inst.spec.loss]
    point = {}
    draw = lambda: sp.Float(rng.uniform(-1.5, 1.5), digits)
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


def pre_activations(inst: Instance, point: dict) -> list[float]:
    """Every z of every piecewise layer, for every sample, at `point`."""
    out = []
    for n in range(inst.X.rows):
        a = inst.X[n, :].T.xreplace(point)
        for l, layer in enumerate(inst.spec.layers):
            z = (inst.W[l].xreplace(point) * a + inst.b[l].xreplace(point)).evalf(30)
            if len(activations.TABLE[layer.activation].pieces) > 1:
                out += [float(v) for v in z]
            a = activate(layer, z, point).evalf(30)
    return out


def near_kink(inst: Instance, point: dict) -> bool:
    """True if some pre-activation of a piecewise layer, or (with L1) some weight, is near 0."""
    if inst.spec.l1 and any(abs(point[w]) < KINK_MARGIN for W in inst.W for w in W):
        return True
    return any(abs(v) < KINK_MARGIN for v in pre_activations(inst, point))


# -- a numeric reference for printed code ---------------------------------------------------


def reference_gradients(
    spec: NetworkSpec, X: np.ndarray, Y: np.ndarray, params: dict[str, np.ndarray]
) -> tuple[float, dict[str, np.ndarray]]:
    """R and ∂R/∂θ at numbers, from the brute-force risk of one sample at 40 digits.

    The risk of a batch is the mean of the one-sample risks, each with the whole penalty
    Ω (R = (1/N) Σ_n L_n + Ω = (1/N) Σ_n (L_n + Ω)), so one compiled risk serves every
    batch size. Each partial is a central difference at 40 digits with step 1e-15
    (truncation ~h² ≈ 1e-30, rounding ~1e-40/h = 1e-25: exact far below float64).
    SymPy's own `diff` of a softmax network's risk takes seconds per network, so the test
    suite could not run it for every layer type. `params` holds W1 (m1×m0), b1 (m1,), …
    as in a generated script.
    """
    risk_of, layers = _one_sample(spec)
    theta = [
        float(v)
        for l in range(1, spec.depth + 1)
        for v in (*np.ravel(params[f"W{l}"]), *np.ravel(params[f"b{l}"]))
    ]
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    with mpmath.workdps(40):
        h = mpmath.mpf("1e-15")
        at = [mpmath.mpf(v) for v in theta]
        risk, grad = mpmath.mpf(0), [mpmath.mpf(0)] * len(theta)
        for n in range(X.shape[0]):
            data = [mpmath.mpf(v) for v in (*X[n], *Y[n])]
            switches = _branches(layers, data[: X.shape[1]], at)
            risk += risk_of(*data, *at, *switches)
            for i in range(len(at)):
                up, down = list(at), list(at)
                up[i] += h
                down[i] -= h
                grad[i] += (risk_of(*data, *up, *switches) - risk_of(*data, *down, *switches)) / (
                    2 * h
                )
        risk, flat = float(risk / X.shape[0]), iter(float(g / X.shape[0]) for g in grad)
    grads = {}
    for l in range(1, spec.depth + 1):
        for stem in ("W", "b"):
            shape = np.shape(params[f"{stem}{l}"])
            grads[f"{stem}{l}"] = np.array([next(flat) for _ in range(int(np.prod(shape)))])
            grads[f"{stem}{l}"] = grads[f"{stem}{l}"].reshape(shape)
    return risk, grads


@cache
def _one_sample(spec: NetworkSpec):
    """The one-sample risk as an mpmath function of (x, y, θ, s), and per piecewise layer
    (its z as a function of (x, θ, s), its pieces, its switch symbols s).

    Each unit of a piecewise activation is Σ_k s_k piece_k(z) with 0/1 switches s_k set
    per sample from its z: a Piecewise of nested Piecewise would make SymPy's expression
    building explode, and the switches are constant in a neighbourhood of the point.
    """
    inst = instance(spec, 1)
    a, switches, layers = inst.X[0, :].T, [], []
    for l, layer in enumerate(spec.layers):
        z = inst.W[l] * a + inst.b[l]
        act = activations.TABLE[layer.activation]
        if len(act.pieces) == 1:
            a = activate(layer, z, None)
            continue
        s = [
            [sp.Symbol(f"s{l + 1}_{i + 1}_{k}") for k in range(len(act.pieces))]
            for i in range(z.rows)
        ]
        pieces = [act.bind(e, layer.param) for e, _, _ in act.pieces]
        a = sp.Matrix(
            [
                sum(s[i][k] * e.xreplace({activations.z: z[i]}) for k, e in enumerate(pieces))
                for i in range(z.rows)
            ]
        )
        args = [*inst.X, *inst.parameters, *switches]
        layers.append((sp.lambdify(args, list(z), modules="mpmath"), act.pieces))
        switches += [v for row in s for v in row]
    loss = losses.LOSSES[spec.loss].ell
    # unevaluated: SymPy's automatic simplification of (tanh(…) - y)**2 over these sums
    # can run for minutes (a polynomial gcd inside Mod), and lambdify needs none of it
    with sp.core.parameters.evaluate(False):
        risk = sum(loss.xreplace({losses.a: a[i], losses.y: inst.Y[0, i]}) for i in range(a.rows))
        for W in inst.W:
            for name, value in (("l2", spec.l2), ("l1", spec.l1)):
                if value:
                    omega = losses.REGULARISERS[name].omega
                    lam = sp.nsimplify(value)
                    risk += sum(omega.xreplace({losses.W: w, losses.lam: lam}) for w in W)
    args = [*inst.X, *inst.Y, *inst.parameters, *switches]
    return sp.lambdify(args, risk, modules="mpmath"), layers


def _branches(layers, x: list, theta: list) -> list[int]:
    """The 0/1 switches of every piecewise unit at this sample: the piece whose condition holds."""
    switches: list[int] = []
    for z_of, pieces in layers:
        for value in z_of(*x, *theta, *switches):
            hold = [
                cond == sp.true or bool(cond.subs(activations.z, float(value)))
                for _, cond, _ in pieces
            ]
            first = hold.index(True)
            switches += [int(k == first) for k in range(len(pieces))]
    return switches
