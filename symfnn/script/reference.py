"""The regularised risk R of a spec, evaluated in NumPy (float64) from the definitions alone.

The reference of `symfnn check`: each activation, loss and regulariser is its rule-table
entry's SymPy definition (`activations.TABLE`, `losses.LOSSES`, `losses.REGULARISERS`) turned
into a NumPy function by `sympy.lambdify`, and the forward pass is the plain textbook one,

    a0 = x,   z_l = W_l a_{l-1} + b_l,   a_l = f_l(z_l),
    R = (1/N) sum_n sum_i ell(a_L,i, y_n,i) + sum_l sum_ij Omega(W_l,ij),

written here without the derivation, its printed code or a generated script. The definitions
are evaluated as they stand (no stable rewriting): the check's points are moderate
(|z| of a few units), far from where exp overflows.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import sympy as sp

from ..engine import activations, losses
from ..engine.spec import LayerSpec, NetworkSpec

BN_EPSILON = 1e-5  # added to the batch variance (PyTorch's default; symfnn.engine.batchnorm's)


@cache
def activation(name: str, param: float | None) -> Callable[[np.ndarray], np.ndarray]:
    """f(z) element-wise from the table's definition (softmax: its numerator exp(z))."""
    f = activations.TABLE[name].definition(param)
    g = sp.lambdify(activations.z, f, "numpy")
    return lambda Z: np.broadcast_to(g(Z), Z.shape).astype(np.float64)


@cache
def unit_loss(name: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """ell(a, y) element-wise from the loss table."""
    return sp.lambdify((losses.a, losses.y), losses.LOSSES[name].ell, "numpy")


@cache
def penalty(name: str) -> Callable[[np.ndarray, float], np.ndarray]:
    """Omega(w; lambda) element-wise from the regulariser table."""
    entry = losses.REGULARISERS[name]
    return sp.lambdify((losses.W, losses.lam), entry.omega, "numpy")


def _activate(layer: LayerSpec, Z: np.ndarray) -> np.ndarray:
    F = activation(layer.activation, layer.param)(Z)
    if layer.activation == "softmax":  # the table holds the numerator; normalise per sample
        F = F / F.sum(axis=1, keepdims=True)
    return F


def forward(
    spec: NetworkSpec,
    params: dict[str, np.ndarray],
    X: np.ndarray,
    masks: dict[str, np.ndarray] | None = None,
    train: bool = False,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """([u1 .. uL], [a0 .. aL]) for the samples (rows) of X, in float64; u_l is the input of
    f_l: z_l, or for a normalised layer y_l = gamma ⊙ (z_l - mu) / sqrt(sigma2 + eps) + beta.

    Batch normalisation (issue 11), from its definition: z_l = W_l a_{l-1} (no b); with `train`
    mu, sigma2 are the batch's mean and biased variance, else the running `mean{l}`, `var{l}`
    of params. Inverted dropout only with `train`: a_l = f(u_l) ⊙ m_l / (1 - q), m_l =
    masks["Mask{l}"] (0 or 1)."""
    A = [np.asarray(X, np.float64)]
    Z = []
    for l, layer in enumerate(spec.layers, start=1):
        W = np.asarray(params[f"W{l}"], np.float64)
        if layer.batchnorm:
            z = A[-1] @ W.T
            if train:
                mu, var = z.mean(axis=0), z.var(axis=0)  # biased, as PyTorch normalises
            else:
                mu, var = (np.asarray(params[f"{k}{l}"], np.float64) for k in ("mean", "var"))
            gamma, beta = (np.asarray(params[f"{k}{l}"], np.float64) for k in ("gamma", "beta"))
            Z.append(gamma * (z - mu) / np.sqrt(var + BN_EPSILON) + beta)
        else:
            b = np.asarray(params[f"b{l}"], np.float64)
            Z.append(A[-1] @ W.T + b)  # z = W a + b, samples as rows
        a = _activate(layer, Z[-1])
        if layer.dropout and train:
            if masks is None or f"Mask{l}" not in masks:
                raise ValueError(f"layer {l} has dropout: training mode needs its mask")
            a = a * np.asarray(masks[f"Mask{l}"], np.float64) / (1 - layer.dropout)
        A.append(a)
    return Z, A


def risk(
    spec: NetworkSpec,
    params: dict[str, np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    l1: float = 0.0,
    l2: float = 0.0,
    masks: dict[str, np.ndarray] | None = None,
) -> float:
    """R = (1/N) sum_n L(y_n, a_n) + Omega(W) with the given lambda_1, lambda_2; in training
    mode (batch statistics, the dropout `masks`) when the spec has bn/dropout layers."""
    _, A = forward(spec, params, X, masks, train=True)
    Y = np.asarray(Y, np.float64)
    data = float(np.sum(unit_loss(spec.loss)(A[-1], Y))) / len(Y)
    omega = 0.0
    for name, coefficient in (("l1", l1), ("l2", l2)):
        if coefficient:
            for l in range(1, spec.depth + 1):
                W = np.asarray(params[f"W{l}"], np.float64)
                omega += float(np.sum(penalty(name)(W, coefficient)))
    return data + omega
