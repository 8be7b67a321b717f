"""The printed part of a script whose network has bn/dropout layers (issue 11).

    derivation ─▶ batchnorm.batch_forward/batch_backward (the mini-batch forms, each proven on
    explicit matrices) ─▶ codeprint_bn.BatchPrinter ─▶ straight-line `_forward`/`_backward`
    ─▶ lowering.Lowering ─▶ train()'s step `_passes` (the same statements into buffers)

The script is laid out by templates/train.py.jinja like every other (codegen.script calls
`context` for such a spec): the same header, data loss, penalty, risk, rule-table code and
runtime, with three differences, all printed here or included:
1. the passes: `_forward(params, X, masks, train)`, training mode (the batch's statistics μ_B,
   σ²_B and the dropout masks, as derived) or evaluation (the running mean and variance in
   place of μ_B and σ²_B, the activation derived without a mask), returning every array by
   name; `_backward(params, out, Y)`, every step of `batchnorm.batch_backward` but the
   penalty's terms of ∂R/∂W, which `_penalty_gradient` adds as in the plain script; and
   `_running_statistics(params, out)`, the rule table batchnorm.RUNNING (PyTorch's running
   mean and variance) printed in place by codeprint.UpdatePrinter, as the optimisers are;
   and train()'s step `_passes(params, X, Y, ws, scale, running)`: the training-mode
   statements of the three (the gradients times `scale`, as the plain network's: lr for a
   fused optimiser), each operation lowered to a call into a buffer of `_step_buffers`,
   bound once per training run as the plain `_passes`;
2. the runtime adds runtime/normalised.py (NormNet: the masks, the running statistics);
3. `NET = NormNet(...)`, with `masks` and `TRAINABLE` among the API names.

The API is the plain script's, with the running statistics kept in params (`mean{l}`,
`var{l}`, not trained, saved and loaded with the weights) and the mask as an argument:
    forward(params, X, train=False, masks=None, seed=0); predict(params, X)
    loss(params, X, Y, l1=None, l2=None, masks=None, seed=0)
    gradients(params, X, Y, l1=None, l2=None, masks=None, seed=0, return_deltas=False)
    masks(n, seed=0) -> {"Mask{l}": (n, m_l)}; TRAINABLE: the keys the optimiser updates
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..engine import batchnorm
from ..engine.derive import Derivation
from ..errors import RenderError
from . import codegen, lowering
from .codeprint import UpdatePrinter, restable
from .codeprint import printer as plain_printer
from .codeprint_bn import printer

# codegen.RUNTIME with runtime/normalised.py (NormNet) after the Network it extends
_AT = codegen.RUNTIME.index("network") + 1
RUNTIME = (*codegen.RUNTIME[:_AT], "normalised", *codegen.RUNTIME[_AT:])
IN_BODY, IN_IF = 4, 8  # the indent of a printed step in `_forward`/`_backward`, in an `if`


def _stable(expr: sp.Basic, act) -> sp.Basic:
    """f applied element-wise replaced by its proven stable form (codeprint.restable)."""
    return expr.replace(
        lambda e: isinstance(e, ElementwiseApplyFunction), lambda e: restable(e, act)
    )


def _forward(d: Derivation) -> list[str]:
    """The body of `_forward(params, X, masks, train)`; returns every named array."""
    p = printer()
    body = ["A0 = X"]
    names = ["A0"]
    for layer, spec_layer in zip(d.layers, d.spec.layers):
        l, act = layer.l, layer.activation
        body.append(f"# layer {l}: {act.name}, {layer.fan_in} -> {layer.width}")
        steps = batchnorm.batch_forward(layer)
        own = [s for s in ("W", "b", "gamma", "beta") if _param(d, s, l)]
        body += codegen._fetch([f"{s}{l}" for s in own], "params")
        for st in steps[:-1]:
            name = st.batch_lhs.name
            comment = f"# (eq:batch-{st.label})"
            if st.label.startswith(("bn-mean", "bn-variance")):  # batch statistics
                running = "mean" if st.label.startswith("bn-mean") else "var"
                body += [
                    "if train:",
                    f"    {comment}",
                    *_indent(p.statements(name, st.batch, IN_IF)),
                    "else:  # evaluation: the running estimate",
                    f'    {name} = params["{running}{l}"]',
                ]
            else:
                body += [comment, *p.statements(name, st.batch, IN_BODY)]
            names.append(name)
        a = steps[-1]
        if act.name == "softmax":
            if layer.norm is not None:
                raise RenderError("a softmax layer with bn/dropout is not an output layer")
            body += [
                f"# A{l} = softmax(Z{l}), shifted by the row maximum  (eq:batch-{a.label})",
                f"A{l} = np.empty_like(Z{l})",
                f"rowmax{l} = np.empty((N, 1), Z{l}.dtype)",
                f"rowsum{l} = np.empty((N, 1), Z{l}.dtype)",
                *plain_printer().softmax(f"A{l}", f"Z{l}", f"rowmax{l}", f"rowsum{l}"),
            ]
            names += [f"rowmax{l}", f"rowsum{l}"]
        elif layer.norm is not None and layer.norm.dropout:
            masked = p.statements(f"A{l}", _stable(a.batch, act), IN_IF)
            evaluation = _stable(_eval_activation_of(spec_layer, layer, l), act)
            body += [
                "if train:  # inverted dropout: the kept units scaled by 1 / (1 - q)",
                f'    Mask{l} = masks["Mask{l}"]',
                f"    # (eq:batch-{a.label})",
                *_indent(masked),
                "else:  # evaluation: no dropout (the activation derived without a mask)",
                *_indent(p.statements(f"A{l}", evaluation, IN_IF)),
            ]
        else:
            a_lines = p.statements(f"A{l}", _stable(a.batch, act), IN_BODY)
            body += [f"# (eq:batch-{a.label})", *a_lines]
        names.append(f"A{l}")
    mask_names = [f"Mask{l}" for l, _ in _dropout(d)]
    items = [(n, n) for n in names] + [(n, f"masks.get({n!r})") for n in mask_names]
    body += codegen._dict("out", [(k, v.replace("'", '"')) for k, v in items])
    body.append("return out")
    return _constants(body, "X")


def _constants(body: list[str], rows: str) -> list[str]:
    """The body after the names it reads of ε and the batch size N (a dropout-only net has
    no ε; its printed steps may read no N)."""
    used = codegen._used([x for x in body if not x.lstrip().startswith("#")])
    head = ["epsilon = EPSILON"] if "epsilon" in used else []
    return head + ([f"N = {rows}.shape[0]"] if "N" in used else []) + body


def _eval_activation_of(spec_layer, layer, l: int) -> sp.Basic:
    forward, _ = batchnorm.masked_steps(
        spec_layer.activation, spec_layer.param, spec_layer.batchnorm, False
    )
    return forward.batch.xreplace(batchnorm._rename_map(l, 0))


def _param(d: Derivation, stem: str, l: int) -> bool:
    bn = d.spec.layers[l - 1].batchnorm
    return stem == "W" or (stem in ("gamma", "beta")) == bn


def _dropout(d: Derivation) -> list[tuple[int, float]]:
    return [(l, x.dropout) for l, x in enumerate(d.spec.layers, 1) if x.dropout]


def _backward(d: Derivation, scaled: bool = False) -> tuple[list[str], list[str]]:
    """The body of `_backward(params, out, Y)`: every step of batch_backward, printed, the
    penalty's terms of ∂R/∂W_l left to `_penalty_gradient` (returns (grads, deltas)); and the
    body of `_penalty_gradient`. `scaled`: each gradient times `scale` (the factor train()
    asks its optimiser's step for: lr for a fused one, codegen.gradient_scale), as the
    plain network's backward pass delivers them; the steps train() runs (`_bound`)."""
    p = printer()
    L = d.spec.depth
    reads = [f"A{l}" for l in range(L + 1)] + [f"Z{l}" for l in range(1, L + 1)]
    for l, x in enumerate(d.spec.layers, 1):
        if x.batchnorm:
            reads += [f"mu{l}", f"sigma2_{l}", f"Zhat{l}", f"Y{l}"]
        if x.dropout:
            reads.append(f"Mask{l}")
    steps, grads, penalty = [], [], []
    for layer in reversed(d.layers):
        l = layer.l
        steps.append(f"# layer {l}")
        for st in batchnorm.batch_backward(layer):
            name, expr, had = st.batch_lhs.name, st.batch, len(penalty)
            if st is layer.grad_W:  # the data term here, the penalty's in _penalty_gradient
                terms = codegen._terms(expr)
                data = [t for t in terms if _has_delta(t, l)]
                penalty += [f"dW{l} += {plain_printer().code(t)}" for t in terms if t not in data]
                expr = sp.MatAdd(*data)
            note = (
                ", its data term (the penalty's: _penalty_gradient)" if len(penalty) > had else ""
            )
            gradient = name.startswith("d") and name[1:] != f"Zhat{l}"
            if gradient and scaled:
                expr = (codegen.SCALE * expr).doit()
            steps += [f"# (eq:batch-{st.label}){note}", *p.statements(name, expr, IN_BODY)]
            if gradient:
                grads.append((name[1:], name))
    used = codegen._used(steps)
    head = codegen._fetch([n for n in reads if n in used], "out")
    params = [f"{s}{l}" for l in range(1, L + 1) for s in ("W", "b", "gamma", "beta")]
    head += codegen._fetch([n for n in params if n in used], "params")
    grads.sort(key=lambda kv: _order(kv[0]))
    tail = codegen._dict("grads", grads)
    tail += codegen._dict("deltas", [(f"Delta{l}", f"Delta{l}") for l in range(1, L + 1)])
    body = _constants([*head, *steps, *tail, "return grads, deltas"], "Y")
    return body, codegen.penalty_gradient(penalty, L)


def _running(d: Derivation) -> list[str]:
    """The body of `_running_statistics(params, out)`: batchnorm.RUNNING's assignments for
    every normalised layer, printed in place on its mean{l}, var{l} from the training-mode
    pass `out` (its mu{l}, sigma2_{l} and batch size)."""
    bn = batchnorm
    arrays = {bn.mean_run, bn.var_run, bn.mu, bn.var}
    body = []
    for l in (l for l, x in enumerate(d.spec.layers, 1) if x.batchnorm):
        named = {
            bn.mean_run: f"mean{l}",
            bn.var_run: f"var{l}",
            bn.mu: f"mu{l}",
            bn.var: f"sigma2_{l}",
            bn.MOMENTUM: "momentum",
        }
        p = UpdatePrinter(arrays, named)
        body += [f"# layer {l}", *codegen._fetch([f"mean{l}", f"var{l}"], "params")]
        body += codegen._fetch([f"mu{l}", f"sigma2_{l}"], "out")
        for target, value in bn.RUNNING:
            body.append(f"# {p.doprint(target)} <- {codegen._sum(p, target, value)}")
            body += p.assign(target, value)
    used = codegen._used([x for x in body if not x.lstrip().startswith("#")])
    head = ["momentum = MOMENTUM"] if "momentum" in used else []  # none: dropout alone
    return head + (['N = out["A0"].shape[0]'] if "N" in used else []) + body


def _bound(d: Derivation, forward, backward, running, rows) -> tuple[list[str], list]:
    """Lines of `_passes(params, X, Y, ws, scale, running)` and the allocations of
    `_step_buffers(n, dtype)`: the training-mode statements of `_forward`, of
    `_running_statistics` (when `running`) and of `_backward` (its gradients times `scale`:
    `backward` is _backward(d, scaled=True)), in that order, lowered to
    calls into the workspace's buffers (lowering.Lowering), inside `run()`; what they look up
    bound once before it. train() repeats a step thousands of times on the same arrays: each
    fresh array of the printed passes costs its allocation (a gradient the size of W_l: its
    page faults too), each look-up its time (most of a step on a small network)."""
    widths = d.spec.widths
    shapes = {"X": ("n", widths[0]), "Y": ("n", widths[-1])}
    for l, layer in enumerate(d.spec.layers, 1):
        m = widths[l]
        shapes[f"W{l}"] = (m, widths[l - 1])
        shapes |= {f"{s}{l}": (m,) for s in ("b", "gamma", "beta", "mean", "var")}
        if layer.dropout:
            shapes[f"Mask{l}"] = ("n", m)
    low = lowering.Lowering(shapes, rows)
    low.share(forward, running, backward)
    setup, steps = [], []
    for lines in (forward, running, backward):
        fetched, body = low.lower(lines, conditional=lines is running)
        setup += fetched
        if lines is running and body:
            body = ["if running:  # NormNet.updates_statistics says when", *_indent(body)]
        steps += body
    setup = _paired(setup + low.setup())
    passes = [*setup, "", "def run():", *_indent([*steps, "return grads"]), "", "return run"]
    # a hidden layer's arrays in the order BLAS runs fastest (runtime hidden_order); not
    # those of a width the output layer has too (its rows are kept by rows)
    buffers = low.allocations(set(widths[1:-1]) - {widths[-1]})
    for l, _ in _dropout(d):  # what Generator.random(out=) writes the masks' draws into
        buffers.append((f"uniform{l}", f"np.empty((n, {widths[l]}))"))
    return passes, buffers


def _paired(lines: list[str]) -> list[str]:
    """Fetches `x = source["x"]` two a line, as codegen._fetch lays them out."""
    out, single = [], re.compile(r'(\w+) = (\w+\["\w+"\])')
    for line in lines:
        last, this = single.fullmatch(out[-1]) if out else None, single.fullmatch(line)
        if last and this:  # the pair no longer matches: the next fetch starts another
            out[-1] = f"{last[1]}, {this[1]} = {last[2]}, {this[2]}"
        else:
            out.append(line)
    return out


def _has_delta(term: sp.Basic, l: int) -> bool:
    return any(m.name == f"Delta{l}" for m in term.atoms(sp.MatrixSymbol))


def _order(key: str) -> tuple:
    stem = key.rstrip("0123456789")
    return int(key[len(stem) :]), ("W", "b", "gamma", "beta").index(stem)


def _indent(lines: list[str], by: str = "    ") -> list[str]:
    return [by + x if x else x for x in lines]


def context(d: Derivation) -> dict:
    """What templates/train.py.jinja lays out for a network with bn/dropout layers: the
    common part (codegen.common) and this path's passes, constants and runtime."""
    spec = d.spec
    if not spec.normalised:
        raise RenderError("codegen_bn prints networks with bn/dropout layers; use codegen")
    L = spec.depth
    data_loss, output_rows = codegen._data_loss(d, {f"A{L}"} if _identity_out(d) else set())
    backward, penalty = _backward(d)
    forward, running = _forward(d), _running(d)
    scaled, _ = _backward(d, scaled=True)
    passes, step_buffers = _bound(d, forward, scaled, running, output_rows)
    eps, momentum = float(batchnorm.EPSILON_VALUE), float(batchnorm.MOMENTUM_VALUE)
    constants = [
        ("EPSILON", repr(eps), "added to the batch variance (batchnorm.EPSILON_VALUE)"),
        ("MOMENTUM", repr(momentum), "rho, of the running estimates (batchnorm.MOMENTUM_VALUE)"),
        ("DROPOUT", repr(dict(_dropout(d))), "layer -> q, the probability of dropping a unit"),
        ("NORMALISED", repr([l for l, x in enumerate(spec.layers, 1) if x.batchnorm]), None),
    ]
    return {
        **codegen.common(d, codegen.runtime(RUNTIME)),
        "normalised": True,
        "notes": [
            "Batch normalisation / dropout: training mode normalises with the batch's statistics",
            "and draws a fresh dropout mask per step; predict/evaluation use the running mean and",
            f"variance (momentum {momentum}, unbiased, kept in params) and no dropout.",
        ],
        "bn_constants": constants,
        "forward": forward,
        "backward": backward,
        "running": running,
        "passes": passes,
        "step_buffers": step_buffers,
        "step_hidden": any(", hidden)" in a for _, a in step_buffers),
        "data_loss": data_loss,
        "output_rows": codegen._py(tuple(output_rows)),
        "penalty_gradient": penalty,
        "forward_buffers": codegen.allocations(output_rows, codegen.buffer_shapes(spec.widths)),
    }


def _identity_out(d: Derivation) -> bool:
    return isinstance(d.layers[-1].forward_a.batch, sp.MatrixSymbol)
