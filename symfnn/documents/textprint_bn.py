"""Batch normalisation and dropout in the terminal text (`symfnn derive SPEC`), issue 11."""

from __future__ import annotations

from ..engine.batchnorm import unit_steps
from ..engine.derive import Derivation
from .textprint import _eq, _step, text
from .tidy import as_batch


def unit_lines(d: Derivation) -> list[str]:
    """The per-unit derivation through the batch mean and variance, step by step."""
    if not any(layer.norm and layer.norm.batchnorm for layer in d.layers):
        return []
    us = unit_steps()
    title = (
        "Batch normalisation, one unit over the mini-batch (samples n = 1..N couple through "
        "mu and sigma2; ε = 1e-5, biased variance)"
    )
    lines = [title]
    for step in (us.mean, us.variance, us.normalised, us.affine):
        lines.append(f"  {_eq(step.lhs, step.index)}")
    lines.append(" δ^y(n) = N ∂R/∂y(n) comes from the layer above; then by the chain rule")
    for step in (us.grad_gamma, us.grad_beta, us.dzhat):
        lines.append(f"  {_eq(step.lhs, step.index)}")
    lines.append(" error term through μ and σ² (ẑ written out in z, differentiated by z[r])")
    lines += _step(us.delta)
    for name, e in us.delta.stages:
        lines.append(f"  {name + ':':15s} {text(e)}")
    lines.append("")
    return lines


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
