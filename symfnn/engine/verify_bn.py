"""The proof for networks with batch normalisation or dropout (issue 11).

As in `verify`: on a small instance of the same layer types, the whole regularised risk of
one mini-batch is written from the definitions alone — μ, σ² (biased), ẑ, γ ẑ + β, f, the
dropout mask as fixed data scaled by 1/(1 − q) — and differentiated by every weight, γ, β
and bias. The batch has at least 3 samples: with 2, ẑ = ±1 and the variance's path is
nearly invisible. The derivation's mini-batch forms (every forward and backward step,
including the compact δ of a normalised layer) are evaluated on the same numbers; the two
sides must agree to ~1e-50 at 60 digits. A symbolic cancellation is tried on the smallest
instance; where it does not finish in time the report says "numeric only" and why.
"""

from __future__ import annotations

import copy
import random

import mpmath
import sympy as sp

from ..errors import CheckError
from . import activations, losses, matrixform
from .batchnorm import EPSILON, EPSILON_VALUE, batch_backward, batch_forward, keep_scale, names
from .bruteforce import random_point
from .derive import LAMBDA1, LAMBDA2, Derivation
from .spec import NetworkSpec
from .symbols import N, layer_symbols
from .verify import (
    DIGITS,
    KINK_MARGIN,
    Report,
    _activate,
    _b,
    _batch,
    _fix_region,
    _mpf,
    _time_limit,
    _w,
    small_instance,
    smallest_instance,
)

MIN_SAMPLES = 3


class Instance:
    """Explicit symbols for one mini-batch: data, parameters (W, b or γ, β) and masks."""

    def __init__(self, spec: NetworkSpec, samples: int, rng: random.Random):
        sym = lambda name: sp.Symbol(name, real=True)
        w = spec.widths
        self.spec = spec
        self.X = sp.ImmutableMatrix(samples, w[0], lambda n, j: sym(f"x{n + 1}_{j + 1}"))
        self.Y = sp.ImmutableMatrix(samples, w[-1], lambda n, j: sym(f"y{n + 1}_{j + 1}"))
        self.params: list[dict[str, sp.ImmutableMatrix]] = []
        self.masks: list[sp.ImmutableMatrix | None] = []
        for l, layer in enumerate(spec.layers, start=1):
            vec = lambda stem, l=l: sp.ImmutableMatrix(
                w[l], 1, lambda i, _: sym(f"{stem}{l}_{i + 1}")
            )
            entry = {
                "W": sp.ImmutableMatrix(
                    w[l], w[l - 1], lambda i, j, l=l: sym(f"w{l}_{i + 1}{j + 1}")
                )
            }
            if layer.batchnorm:
                entry |= {"gamma": vec("gamma"), "beta": vec("beta")}
            else:
                entry |= {"b": vec("b")}
            self.params.append(entry)
            self.masks.append(_mask(samples, w[l], rng) if layer.dropout else None)

    @property
    def parameters(self) -> list[sp.Symbol]:
        return [s for entry in self.params for M in entry.values() for s in M]


def _mask(samples: int, width: int, rng: random.Random) -> sp.ImmutableMatrix:
    """A fixed 0/1 mask with both values present (so a wrong mask term shows)."""
    while True:
        bits = [rng.randrange(2) for _ in range(samples * width)]
        if 0 < sum(bits) < len(bits):
            return sp.ImmutableMatrix(samples, width, bits)


def brute_force_risk(
    inst: Instance, region: dict | None = None, seen: list | None = None
) -> sp.Expr:
    """R of one mini-batch from the definitions alone (no step of the derivation).

    With `seen`, the value at `region` of every input of a piecewise activation is recorded.
    """
    spec = inst.spec
    eps = EPSILON_VALUE
    A = inst.X
    for l, layer in enumerate(spec.layers):
        P = inst.params[l]
        Z = A * P["W"].T
        if layer.batchnorm:
            cols = []
            for j in range(Z.cols):
                col = Z[:, j]
                mean = sum(col) / Z.rows
                variance = sum((v - mean) ** 2 for v in col) / Z.rows
                zhat = [(v - mean) / sp.sqrt(variance + eps) for v in col]
                cols.append([P["gamma"][j] * v + P["beta"][j] for v in zhat])
            U = sp.Matrix([[cols[j][n] for j in range(Z.cols)] for n in range(Z.rows)])
        else:
            U = Z + sp.ones(Z.rows, 1) * P["b"].T
        if seen is not None and len(activations.TABLE[layer.activation].pieces) > 1:
            seen.extend(float(v.xreplace(region)) for v in U)
        rows = [_activate(layer, U[n, :].T, region).T for n in range(U.rows)]
        A = sp.Matrix.vstack(*rows)
        if inst.masks[l] is not None:
            scale = keep_scale(sp.nsimplify(layer.dropout))
            A = A.multiply_elementwise(inst.masks[l]) * scale
    ell = losses.LOSSES[spec.loss].ell
    total = sum(
        ell.subs({losses.a: A[n, i], losses.y: inst.Y[n, i]})
        for n in range(A.rows)
        for i in range(A.cols)
    )
    risk = total / A.rows
    for P in inst.params:  # L1/L2 penalise W only
        for value, name in ((spec.l2, "l2"), (spec.l1, "l1")):
            if value:
                omega = losses.REGULARISERS[name].omega
                risk += sum(
                    omega.subs({losses.W: w, losses.lam: sp.nsimplify(value)}) for w in P["W"]
                )
    return risk


def recurrence_gradients(
    d: Derivation, inst: Instance, values: dict, region: dict | None = None
) -> list[sp.Expr]:
    """Every forward and backward step of `d` evaluated on explicit matrices, in parameter order."""
    spec = inst.spec
    sub = lambda M: M.xreplace(values)
    env = {
        LAMBDA1: sp.nsimplify(spec.l1),
        LAMBDA2: sp.nsimplify(spec.l2),
        EPSILON: EPSILON_VALUE,
    }
    sizes = {N: inst.X.rows} | {layer_symbols(l).m: w for l, w in enumerate(spec.widths)}
    mats: dict = {
        _batch("A", 0, d): sub(inst.X),
        sp.MatrixSymbol("Y", N, layer_symbols(spec.depth).m): sub(inst.Y),
    }
    ev = lambda e: matrixform.evaluate(e.xreplace(env), sizes, mats, region)
    for layer, P, mask in zip(d.layers, inst.params, inst.masks):
        l = layer.l
        mats[_w(l)] = sub(P["W"])
        if "b" in P:
            mats[_b(l)] = sub(P["b"])
        else:
            x = names(l)
            mats[x.gamma], mats[x.beta] = sub(P["gamma"]), sub(P["beta"])
        if mask is not None:
            mats[names(l).Mask] = mask
        for step in batch_forward(layer):
            mats[step.batch_lhs] = ev(step.batch)
    grads: dict[int, list[sp.Expr]] = {}
    for layer in reversed(d.layers):  # each δ, then its layer's gradients (W first)
        steps = batch_backward(layer)
        first = next(n for n, step in enumerate(steps) if step is layer.grad_W)
        grads[layer.l] = []
        for n, step in enumerate(steps):
            value = ev(step.batch)
            mats[step.batch_lhs] = value
            if n >= first:  # dW, then db or dgamma, dbeta
                grads[layer.l] += list(value)
    return [g for l in sorted(grads) for g in grads[l]]


def _partial(inst: Instance, w: sp.Symbol, point: dict) -> mpmath.mpf:
    """∂R/∂w at `point`: the risk is built with every other symbol already a number.

    The same as writing the whole risk and then putting in all values but w (verify's
    `_partial`), only the numbers fold while the expression is built, so the tree SymPy
    differentiates holds one symbol and stays small.
    """
    others = {s: v for s, v in point.items() if s != w}
    one = copy.copy(inst)
    one.X, one.Y = inst.X.xreplace(others), inst.Y.xreplace(others)
    one.params = [{k: M.xreplace(others) for k, M in P.items()} for P in inst.params]
    risk = brute_force_risk(one, region=point)
    return _mpf(sp.diff(risk, w).xreplace({w: point[w]}))


def _near_kink(inst: Instance, point: dict) -> bool:
    """Some input of a piecewise activation within KINK_MARGIN of 0 (or a weight, with L1)."""
    if inst.spec.l1 and any(abs(point[w]) < KINK_MARGIN for P in inst.params for w in P["W"]):
        return True
    if all(len(activations.TABLE[x.activation].pieces) == 1 for x in inst.spec.layers):
        return False
    seen: list[float] = []
    brute_force_risk(inst, region=point, seen=seen)
    return any(abs(v) < KINK_MARGIN for v in seen)


def verify(
    d: Derivation,
    *,
    points: int = 3,
    samples: int = MIN_SAMPLES,
    seed: int = 0,
    symbolic: bool = True,
) -> Report:
    """Prove `d` (a spec with bn or dropout layers) on a small instance; see the docstring."""
    samples = max(samples, MIN_SAMPLES)
    small = small_instance(d.spec)
    rng = random.Random(seed)
    inst = Instance(small, samples, rng)
    params = inst.parameters
    worst, mismatches, used = 0.0, [], []
    with mpmath.workdps(DIGITS):
        for _ in range(points):
            for _try in range(200):
                point = random_point(inst, rng, DIGITS)
                if not _near_kink(inst, point):
                    break
            else:
                raise CheckError("could not find a point away from the kinks")
            used.append(point)
            expected = [_partial(inst, w, point) for w in params]
            got = [_mpf(g) for g in recurrence_gradients(d, inst, point)]
            for w, e, g in zip(params, expected, got):
                diff = abs(g - e)
                worst = max(worst, float(diff))
                if diff > mpmath.mpf("1e-50") * max(1, abs(e)):
                    mismatches.append(
                        f"d R / d {w}: brute force {mpmath.nstr(e, 12)}, "
                        f"derivation {mpmath.nstr(g, 12)}"
                    )
    status = _symbolic(d, used[0]) if symbolic else "skipped"
    return Report(small, samples, len(params), points, worst, status, mismatches[:10])


def _symbolic(d: Derivation, point: dict, seconds: int = 30) -> str:
    """cancel(recurrence − brute force) on the smallest instance, exact data, symbolic weights."""
    small = smallest_instance(d.spec)
    rng = random.Random(1)
    inst = Instance(small, MIN_SAMPLES, rng)
    for _try in range(50):  # exact data, and a region away from every kink
        exact = random_point(inst, rng, DIGITS)
        data = {
            s: sp.Rational(round(float(v) * 8), 8)
            for s, v in exact.items()
            if s in set(inst.X) | set(inst.Y)
        }
        region = {s: exact[s] for s in inst.parameters} | data
        if not _near_kink(inst, region):
            break
    else:
        return "numeric only: no point of the smallest instance is away from the kinks"
    try:
        with _time_limit(seconds):
            risk = _fix_region(brute_force_risk(inst, region), region).xreplace(data)
            got = recurrence_gradients(d, inst, data, region)
            left = []
            for w, g in zip(inst.parameters, got):
                difference = sp.cancel(_fix_region(g, region) - sp.diff(risk, w))
                if difference != 0:
                    at = {s: region[s] for s in inst.parameters}
                    if abs(sp.N(difference.xreplace(at), DIGITS)) > 1e-50:
                        return f"FAILED: d R / d {w} does not cancel to 0"
                    left.append(str(w))  # zero at the point, not reduced to 0 by cancel
    except TimeoutError:
        why = (
            "the batch statistics put square roots of sums over the batch inside every activation"
            if any(x.batchnorm for x in small.layers)
            else "the risk of a whole batch is one large expression"
        )
        return f"numeric only: cancel did not finish in {seconds} s ({why})"
    if left:
        return (
            f"numeric only: cancel left forms for {', '.join(left)} that are 0 to {DIGITS} digits"
        )
    return f"cancel(difference) = 0 for all {len(inst.parameters)} partials of {small.compact}"
