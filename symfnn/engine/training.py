"""Rule tables for training: optimisers, initialisation schemes and gradient clipping.

Each entry states its mathematics as SymPy expressions, the way `activations.py` and
`losses.py` do for the network. The generated script's code is printed from these entries
(`codeprint.UpdatePrinter`, `codegen`), the document's algorithm box prints the optimiser the
spec's `[training]` resolves to from the same entry, and the gradient-flow analysis reads the
initialisation table: one fact, one place.

Symbols: θ a parameter (a W_l or b_l), g = ∂R/∂θ its gradient, α the learning rate, t the
number of updates so far (1 at the first), fan_in = m_{l-1}, fan_out = m_l. Powers of arrays
(g², √v) are element-wise.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

THETA, G = sp.symbols("theta g", real=True)
ALPHA = sp.Symbol("alpha", positive=True)  # the learning rate
T = sp.Symbol("t", positive=True, integer=True)  # the update count, 1 at the first update
FAN_IN, FAN_OUT = sp.symbols("fan_in fan_out", positive=True, integer=True)
CLIP = sp.Symbol("c", positive=True)  # a clipping threshold
NORM = sp.Symbol("norm", positive=True)  # the global norm of all gradients, sqrt(sum |g|^2)

MU = sp.Symbol("mu", positive=True)  # momentum's decay
BETA1, BETA2 = sp.symbols("beta1 beta2", positive=True)  # Adam's moment decays
EPSILON = sp.Symbol("epsilon", positive=True)
V = sp.Symbol("v", real=True)  # momentum's velocity; Adam's second moment
M = sp.Symbol("m", real=True)  # Adam's first moment
M_HAT, V_HAT = sp.Symbol(r"\hat{m}", real=True), sp.Symbol(r"\hat{v}", real=True)


@dataclass(frozen=True)
class Optimizer:
    """One optimiser: its update as ordered assignments `target ← expression`.

    A target in `state` is an array per parameter, zero before the first update; a target
    that is neither state nor θ is a definition (Adam's bias-corrected m̂, v̂): the document
    shows it, the code substitutes it. The last assignment updates θ."""

    name: str
    title: str  # how the document names it
    lr: float  # the learning rate when none is given
    hyper: tuple[tuple[sp.Symbol, float], ...]  # hyper-parameters and their values
    state: tuple[sp.Symbol, ...]
    steps: tuple[tuple[sp.Symbol, sp.Expr], ...]

    @property
    def counts_steps(self) -> bool:
        """Whether the update reads t, the number of updates so far."""
        return any(e.has(T) for _, e in self.steps)

    def update(self) -> sp.Expr:
        """θ's new value in θ, g, the state and the hyper-parameters (definitions substituted,
        state updates not): what the last assignment computes."""
        done: dict = {}
        for target, expr in self.steps:
            value = expr.xreplace(done)
            if target not in self.state and target != THETA:
                done[target] = value
        return value

    def code_steps(self) -> list[tuple[sp.Symbol, sp.Expr]]:
        """The assignments the code performs: definitions substituted into later steps, and
        powers split over a product (√(v/c) = √v/√c: v ≥ 0 and c > 0 here)."""
        done: dict = {}
        out = []
        for target, expr in self.steps:
            value = sp.expand_power_base(expr.xreplace(done), force=True)
            if target in self.state or target == THETA:
                out.append((target, value))
            else:
                done[target] = value
        return out


OPTIMIZERS = {
    "sgd": Optimizer("sgd", "SGD", 0.2, (), (), ((THETA, THETA - ALPHA * G),)),
    "momentum": Optimizer(
        "momentum",
        "momentum",
        0.05,
        ((MU, 0.9),),
        (V,),
        ((V, MU * V - ALPHA * G), (THETA, THETA + V)),
    ),
    # Kingma & Ba (2015), Algorithm 1
    "adam": Optimizer(
        "adam",
        "Adam",
        0.003,
        ((BETA1, 0.9), (BETA2, 0.999), (EPSILON, 1e-8)),
        (M, V),
        (
            (M, BETA1 * M + (1 - BETA1) * G),
            (V, BETA2 * V + (1 - BETA2) * G**2),
            (M_HAT, M / (1 - BETA1**T)),
            (V_HAT, V / (1 - BETA2**T)),
            (THETA, THETA - ALPHA * M_HAT / (sp.sqrt(V_HAT) + EPSILON)),
        ),
    ),
}


@dataclass(frozen=True)
class Init:
    """One initialisation scheme: W_l ~ N(0, std²) with std in fan_in, fan_out; b_l = 0."""

    name: str
    std: sp.Expr
    source: str  # whom it is named after


INITS = {
    "normal": Init("normal", sp.Integer(1), "the article's N(0, 1)"),
    "xavier": Init("xavier", sp.sqrt(2 / (FAN_IN + FAN_OUT)), "Glorot & Bengio (2010)"),
    "he": Init("he", sp.sqrt(2 / FAN_IN), "He et al. (2015)"),
}


def init_std(scheme: str, fan_in: sp.Expr = FAN_IN, fan_out: sp.Expr = FAN_OUT) -> sp.Expr:
    """The std of a weight under `scheme`, at the given fans (symbols by default)."""
    return INITS[scheme].std.subs({FAN_IN: fan_in, FAN_OUT: fan_out})


@dataclass(frozen=True)
class Clipping:
    """One clipping rule, applied to every gradient before the update (value, then norm).

    `rule` is either g's new value element-wise in g and the threshold c (by value), or the
    factor every g is multiplied by, in the global norm and c (by norm)."""

    name: str
    option: str  # the keyword of train() and the script's --option
    rule: sp.Expr
    elementwise: bool


CLIPPING = {
    "value": Clipping("value", "clip_value", sp.Min(sp.Max(G, -CLIP), CLIP), True),
    "norm": Clipping("norm", "clip_norm", sp.Min(1, CLIP / NORM), False),
}
