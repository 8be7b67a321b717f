"""Batch normalisation and dropout in the terminal text (`symfnn derive SPEC`), issue 11."""

from __future__ import annotations

import sympy as sp

from ..engine import batchnorm
from ..engine.derive import RISK, Derivation
from .textprint import _eq, text
from .tidy import as_batch, bn_error_forms, factor_and_terms, ordered_terms, tidy

WIDTH = 100  # the per-unit section's widest line: longer ones break (between a sum's terms)


def unit_lines(d: Derivation) -> list[str]:
    """The per-unit derivation through the batch mean and variance, step by step; of the
    error term's stages, the forms the document shows (tidy.bn_error_forms)."""
    if not any(layer.norm and layer.norm.batchnorm for layer in d.layers):
        return []
    us = batchnorm.unit_steps()
    eps, B = batchnorm.EPSILON, as_batch(batchnorm.N)  # N counts the batch: B, as the notation
    names = f"{text(batchnorm.mu)} and {text(batchnorm.var)}"
    lines = [  # the names as printed below; ε's value from batchnorm, as the code's
        f"Batch normalisation, one unit over the mini-batch: the samples 1..{text(B)} couple"
        + f" through {names}",
        f" ({text(eps)} = {float(batchnorm.EPSILON_VALUE):g}, biased variance)",
    ]
    for step in (us.mean, us.variance, us.normalised, us.affine):
        lines.append(f"  {_eq(as_batch(step.lhs), as_batch(step.index))}")
    upstream = sp.Mul(B, sp.Derivative(RISK, batchnorm.y[batchnorm.n]), evaluate=False)
    dy = _eq(batchnorm.delta_y[batchnorm.n], upstream)
    lines.append(f" {dy} comes from the layer above; then by the chain rule")
    for step in (us.grad_gamma, us.grad_beta, us.dzhat):
        lines.append(f"  {_eq(as_batch(step.lhs), as_batch(step.index))}")
    zhat, z_r = batchnorm.zhat[batchnorm.n], batchnorm.z[batchnorm.r]
    lines += [
        f" error term through {names} ({text(zhat)} written out in z, differentiated by"
        + f" {text(z_r)});",
        f" the sums that are {names} named, then z written through ẑ and simplified",
    ]
    for name, e in bn_error_forms(us.delta):
        lhs = zhat if name == "written out" else us.delta.lhs
        lines += _broken(f"  {name + ':':15s} ", as_batch(lhs), as_batch(e))
    rho = f"{text(batchnorm.MOMENTUM)} = {float(batchnorm.MOMENTUM_VALUE):g}"
    lines += [
        f" each training step, the running estimates prediction reads in place of {names}",
        f" ({rho}, the variance unbiased; a rule, not derived)",
    ]
    for target, value in batchnorm.running_update("l"):
        lines.append(f"  {text(as_batch(target))} ← {text(as_batch(value))}")
    lines.append("")
    return lines


def _broken(head: str, lhs, rhs) -> list[str]:
    """head lhs = rhs on one line, or, wider than WIDTH, lhs = c (t1 + t2 + … broken between
    the terms as many a line as fit (tidy.factor_and_terms: the document breaks it alike)."""
    line = f"{head}{_eq(lhs, rhs)}"
    c, terms = factor_and_terms(tidy(rhs))
    terms = ordered_terms(sp.Add(*terms, evaluate=False))  # as text() orders them on one line
    if len(line) <= WIDTH or len(terms) < 2:
        return [line]
    factor = "" if c == 1 else text(c)
    factor = f"({factor}) " if "/" in factor else factor + " " * bool(factor)
    out, current, pad = [], f"{head}{text(lhs)} = {factor}(", " " * (len(head) + 2)
    for n, t in enumerate(terms):
        minus = t.could_extract_minus_sign()
        body = text(-t if minus else t)
        sign = ("-" if minus else "") if n == 0 else ("- " if minus else "+ ")
        piece = sign + body
        if n and len(current) + 1 + len(piece) > WIDTH - 1:  # room for the closing )
            out.append(current)
            current = pad + piece
        else:
            current += piece if n == 0 else " " + piece
    return [*out, current + ")"]


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
