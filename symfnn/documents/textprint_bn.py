"""Batch normalisation and dropout in the terminal text (`symfnn derive SPEC`), issue 11."""

from __future__ import annotations

from dataclasses import replace

import sympy as sp

from ..engine import batchnorm
from ..engine.batchnorm import unit_steps
from ..engine.derive import RISK, Derivation
from .textprint import _eq, _step, text
from .tidy import as_batch


def unit_lines(d: Derivation) -> list[str]:
    """The per-unit derivation through the batch mean and variance, step by step."""
    if not any(layer.norm and layer.norm.batchnorm for layer in d.layers):
        return []
    us = unit_steps()
    eps, B = batchnorm.EPSILON, as_batch(batchnorm.N)  # N counts the batch: B, as the notation
    title = (  # the names as printed below; ε's value from batchnorm, as the code's
        f"Batch normalisation, one unit over the mini-batch (the samples 1..{text(B)} couple "
        f"through {text(batchnorm.mu)} and {text(batchnorm.var)}; "
        f"{text(eps)} = {float(batchnorm.EPSILON_VALUE):g}, biased variance)"
    )
    lines = [title]
    for step in (us.mean, us.variance, us.normalised, us.affine):
        lines.append(f"  {_eq(as_batch(step.lhs), as_batch(step.index))}")
    upstream = sp.Mul(B, sp.Derivative(RISK, batchnorm.y[batchnorm.n]), evaluate=False)
    dy = _eq(batchnorm.delta_y[batchnorm.n], upstream)
    lines.append(f" {dy} comes from the layer above; then by the chain rule")
    for step in (us.grad_gamma, us.grad_beta, us.dzhat):
        lines.append(f"  {_eq(as_batch(step.lhs), as_batch(step.index))}")
    names = f"{text(batchnorm.mu)} and {text(batchnorm.var)}"
    zhat, z_r = text(batchnorm.zhat[batchnorm.n]), text(batchnorm.z[batchnorm.r])
    lines.append(f" error term through {names} ({zhat} written out in z, differentiated by {z_r})")
    lines += _step(_batch_step(us.delta))
    for name, e in us.delta.stages:
        lines.append(f"  {name + ':':15s} {text(as_batch(e))}")
    rho = f"{text(batchnorm.MOMENTUM)} = {float(batchnorm.MOMENTUM_VALUE):g}"
    lines.append(
        f" each training step, the running estimates prediction reads in place of {names}"
        f" ({rho}, the variance unbiased; a rule, not derived)"
    )
    for target, value in batchnorm.running_update("l"):
        lines.append(f"  {text(as_batch(target))} ← {text(as_batch(value))}")
    lines.append("")
    return lines


def _batch_step(step):
    """A per-unit step with its sample count printed B, the mini-batch's (tidy.as_batch)."""
    fields = ("differentiated", "raw", "lhs", "index")
    return replace(
        step, **{f: as_batch(getattr(step, f)) for f in fields if getattr(step, f) is not None}
    )


def layer_lines(layer) -> list[str]:
    """A normalised or dropout layer's backward steps, mini-batch form."""
    norm = layer.norm
    what = (
        " + ".join(
            x
            for x in ("batch norm" if norm.batchnorm else "", f"dropout q = {norm.dropout:g}")
            if x
        )
        if norm.dropout
        else "batch norm"
    )
    lines = [f"  layer {layer.l} ({layer.activation.name}, {layer.width}×{layer.fan_in}, {what})"]
    steps = (*norm.backward, layer.grad_W)
    if norm.batchnorm:
        steps += (norm.grad_gamma, norm.grad_beta)
    else:
        steps += (layer.grad_b,)
    for step in steps:
        lines.append(f"    {_eq(as_batch(step.batch_lhs), as_batch(step.batch))}")
    return lines


def update_lines(d: Derivation) -> list[str]:
    """γ and β take b's place in a normalised layer and are updated alike: b's step of
    d.update with γ, ∂R/∂γ (β, ∂R/∂β) in place of b, ∂R/∂b."""
    if not any(layer.norm and layer.norm.batchnorm for layer in d.layers):
        return []
    b_step, x = d.update["b"], batchnorm.names("l")
    (db,) = [m for m in b_step.matrix.atoms(sp.MatrixSymbol) if m != b_step.matrix_lhs]
    lines = []
    for theta, grad in ((x.gamma, x.dgamma), (x.beta, x.dbeta)):
        step = b_step.matrix.xreplace({b_step.matrix_lhs: theta, db: grad})
        lines.append(f"  {text(theta)} ← {text(step)}")
    return lines
