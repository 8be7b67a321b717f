"""A worked numeric example: the derived equations evaluated on the small verified instance.

The instance is the proof's (verify.small_instance: the same layer types, width 2, a softmax
output of 3): one sample, weights, biases, input and target with one decimal each, so that
a reader can follow every step by hand. Every number is computed by evaluating the
Derivation's own matrix forms (forward, output error, recurrence, gradients) with the numbers
put in; tests compare them with the generated script's forward and backward passes.

    Derivation ─small_instance─▶ instance ─evaluate each step─▶ Worked (numbers per step)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import sympy as sp

from ..engine import matrixform
from ..engine.derive import Derivation, Step, derive
from .tidy import _evaluate

DIGITS = 30
SHOWN = 4  # significant digits printed


@dataclass(frozen=True)
class Worked:
    """The instance's derivation, its given numbers and each step with its value."""

    derivation: Derivation
    given: dict[sp.MatrixSymbol, sp.ImmutableMatrix]  # x = a0, y, W1, b1, …
    forward: tuple[tuple[Step, sp.ImmutableMatrix], ...]  # z1, a1, …, zL, aL
    backward: tuple[tuple[Step, sp.ImmutableMatrix], ...]  # δL, ∂R/∂WL, ∂R/∂bL, δL-1, …

    def value(self, label: str) -> sp.ImmutableMatrix:
        """The value of a step by its label (forward-z-1, delta-2, grad-W-3, …)."""
        for step, v in self.forward + self.backward:
            if step.label == label:
                return v
        raise KeyError(label)


def _tenths(rng: random.Random, rows: int, cols: int, zero: bool = False) -> sp.ImmutableMatrix:
    """Entries k/10, k in ±1..9 (0 allowed for biases): short enough to multiply by hand."""
    choices = [k for k in range(-9, 10) if zero or k != 0]
    return sp.ImmutableMatrix(rows, cols, lambda *_: sp.Rational(rng.choice(choices), 10))


def _target(d: Derivation, rng: random.Random, m: int) -> sp.ImmutableMatrix:
    if d.loss.one_hot:  # one class
        return sp.ImmutableMatrix(m, 1, lambda r, _: int(r == 0))
    if d.loss.name == "binary_cross_entropy":  # labels 1, 0, …
        return sp.ImmutableMatrix(m, 1, lambda r, _: int(r % 2 == 0))
    return _tenths(rng, m, 1)  # a real target


def example(d: Derivation, seed: int = 3, tries: int = 20) -> Worked:
    """Evaluate every derived step of `d`'s small instance on one sample: the first of
    the seeds seed, seed + 1, … whose error terms are nowhere all zero (a ReLU layer whose
    units are all off would teach nothing)."""
    from ..engine.verify import small_instance

    inst = derive(small_instance(d.spec))
    for s in range(seed, seed + tries):
        worked = _example(inst, s)
        if all(any(x != 0 for x in v) for step, v in worked.backward if step in _deltas(inst)):
            return worked
    return _example(inst, seed)


def _deltas(inst: Derivation) -> list[Step]:
    return [layer.delta for layer in inst.layers]


def _example(inst: Derivation, seed: int) -> Worked:
    rng = random.Random(seed)
    widths = inst.spec.widths
    sizes = _all_sizes(inst)
    given: dict = {}
    a0 = next(ms for ms in _symbols(inst) if ms.name == "a0")
    given[a0] = _tenths(rng, widths[0], 1)
    for layer in inst.layers:
        W = next(ms for ms in _symbols(inst) if ms.name == f"W{layer.l}")
        b = next(ms for ms in _symbols(inst) if ms.name == f"b{layer.l}")
        given[W] = _tenths(rng, layer.width, layer.fan_in)
        given[b] = _tenths(rng, layer.width, 1, zero=True)
    y = next(ms for ms in _symbols(inst) if ms.name == "y")
    given[y] = _target(inst, rng, widths[-1])
    values = dict(given)
    coefficients = {sym: sp.nsimplify(v) for sym, v in inst.coefficients.items()}

    def run(step: Step) -> sp.ImmutableMatrix:
        expr = step.matrix.xreplace(coefficients)
        v = _evaluate(expr, sizes, values, matrixform.evaluate)
        v = sp.ImmutableMatrix(v.applyfunc(lambda x: sp.N(x, DIGITS)))
        values[_lhs_symbol(step)] = v
        return v

    forward = []
    for layer in inst.layers:
        forward.append((layer.forward_z, run(layer.forward_z)))
        forward.append((layer.forward_a, run(layer.forward_a)))
    backward = []
    for layer in reversed(inst.layers):
        for step in (layer.delta, layer.grad_W, layer.grad_b):
            backward.append((step, run(step)))
    return Worked(inst, given, tuple(forward), tuple(backward))


def _symbols(d: Derivation) -> set[sp.MatrixSymbol]:
    out = set()
    for layer in d.layers:
        for step in (layer.forward_z, layer.forward_a, layer.delta, layer.grad_W):
            out |= step.matrix.atoms(sp.MatrixSymbol)
    return out


def _all_sizes(d: Derivation) -> dict:
    """Width symbols m0, m1, … -> the instance's widths."""
    out = {}
    for ms in _symbols(d):
        for dim in ms.shape:
            if isinstance(dim, sp.Symbol):
                t = dim.name[1:]
                out[dim] = d.spec.widths[int(t)]
    return out


def _lhs_symbol(step: Step) -> sp.MatrixSymbol:
    """z1, a1, delta2 by their own symbol; a gradient by the name the code uses (dW1)."""
    lhs = step.matrix_lhs
    if isinstance(lhs, sp.MatrixSymbol):
        return lhs
    (var,) = lhs.variables
    return sp.MatrixSymbol(f"d{var.name}", *var.shape)


def shown(v: sp.Basic) -> sp.ImmutableMatrix:
    """A value as printed: SHOWN significant digits (the given numbers exactly as given)."""
    if isinstance(v, sp.MatrixBase):
        return sp.ImmutableMatrix(v.applyfunc(shown))
    v = sp.sympify(v)
    if v.is_Rational:
        return sp.Float(v, 2) if not v.is_Integer else v
    return sp.Float(v, SHOWN)
