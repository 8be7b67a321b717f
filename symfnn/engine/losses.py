"""Losses and regularisers as data: one entry each, with its SymPy definition.

A loss is written per output unit, L = sum_i ell(a_i, y_i); derive.py builds the sum at
generic class count and differentiates it. `fits` names the output activations it is
defined for (None: any). `one_hot` says the targets sum to 1, which the derivation may
use (softmax + cross-entropy reduces to a - y only with it).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..errors import DerivationError

a = sp.Symbol("a", real=True)
y = sp.Symbol("y", real=True)
W = sp.Symbol("w", real=True)
lam = sp.Symbol("lambda", positive=True)


@dataclass(frozen=True)
class Loss:
    """One row of the loss table."""

    name: str
    title: str  # how the document names it
    ell: sp.Expr  # the per-unit summand, in a and y
    fits: tuple[str, ...] | None
    one_hot: bool = False
    default_for: tuple[str, ...] = ()  # output activations it is the default loss of
    aliases: tuple[str, ...] = ()


LOSSES: dict[str, Loss] = {}


def register(loss: Loss) -> Loss:
    LOSSES[loss.name] = loss
    return loss


register(
    Loss(
        "cross_entropy",
        "cross-entropy",
        -y * sp.log(a),
        fits=("softmax",),
        one_hot=True,
        default_for=("softmax",),
        aliases=("ce",),
    )
)
register(
    Loss(
        "binary_cross_entropy",
        "binary cross-entropy",
        -(y * sp.log(a) + (1 - y) * sp.log(1 - a)),
        fits=("sigmoid",),
        default_for=("sigmoid",),
        aliases=("bce",),
    )
)
register(
    Loss(
        "squared_error",
        "squared error",
        (a - y) ** 2 / 2,
        fits=None,
        aliases=("mse", "se"),
    )
)


@dataclass(frozen=True)
class Regulariser:
    """A penalty on every weight w (not the biases), scaled by its coefficient lambda."""

    name: str
    title: str
    omega: sp.Expr  # the penalty of one weight, in w and lambda


REGULARISERS: dict[str, Regulariser] = {
    "l2": Regulariser("l2", "L2 (weight decay)", lam / 2 * W**2),
    "l1": Regulariser("l1", "L1", lam * sp.Abs(W)),
}


def lookup(name: str) -> Loss:
    try:
        return LOSSES[name]
    except KeyError:
        raise DerivationError(f"unknown loss {name!r}") from None


def canonical(name: str) -> str | None:
    """The table name of a loss given by name or alias ('mse', 'cross-entropy'), or None."""
    key = name.strip().lower().replace("-", "_")
    for loss in LOSSES.values():
        if key == loss.name or key in loss.aliases:
            return loss.name
    return None


def default_loss(activation: str) -> str:
    for loss in LOSSES.values():
        if activation in loss.default_for:
            return loss.name
    return "squared_error"
