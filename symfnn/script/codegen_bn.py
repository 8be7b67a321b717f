"""Derivation of a network with bn/dropout layers -> a standalone NumPy training script.

    derivation ─▶ batchnorm.batch_forward/batch_backward (J's mini-batch forms, each proven on
    explicit matrices) ─▶ codeprint_bn.BatchPrinter ─▶ straight-line `_forward`/`_backward`

The plain layers' script (codegen) keeps its tuned buffers; a normalised network's script is
printed on this separate path so that neither disturbs the other:
1. printed from the derivation: the forward pass in training mode (batch statistics μ_B, σ²_B
   and the dropout masks, as derived) and in evaluation mode (the running mean and variance in
   place of μ_B and σ²_B, and the activation derived without a mask), the backward pass (every
   step of `batchnorm.batch_backward`, penalty terms included), the data loss, the penalty, the
   risk, the initial std and the optimisers (codegen's printers of the rule tables);
2. the runtime `symfnn/script/runtime/{checks,safeio,data,normalised}.py`, included verbatim;
3. `NET = NormNet(...)` and the API names bound to its methods.

The API is the plain script's, with the running statistics kept in params (`mean{l}`,
`var{l}`, not trained, saved and loaded with the weights) and the mask as an argument:
    forward(params, X, train=False, masks=None, seed=0); predict(params, X)
    loss(params, X, Y, l1=None, l2=None, masks=None, seed=0)
    gradients(params, X, Y, l1=None, l2=None, masks=None, seed=0, return_deltas=False)
    masks(n, seed=0) -> {"Mask{l}": (n, m_l)}; TRAINABLE: the keys the optimiser updates
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .. import __version__
from ..engine import batchnorm, hyper, training
from ..engine.derive import Derivation
from ..errors import RenderError
from . import codegen
from .codeprint import UpdatePrinter, restable
from .codeprint import printer as plain_printer
from .codeprint_bn import printer

RUNTIME_BN = ("checks", "safeio", "data", "normalised")
MOMENTUM = 0.1  # PyTorch's default for the running estimates (a convention, not derived)
IN_BODY, IN_IF = 4, 8  # the indent of a printed step in `_forward`/`_backward`, in an `if`


def _stable(expr: sp.Basic, act) -> sp.Basic:
    """f applied element-wise replaced by its proven stable form (codeprint.restable)."""
    return expr.replace(
        lambda e: isinstance(e, ElementwiseApplyFunction), lambda e: restable(e, act)
    )


def _forward(d: Derivation) -> list[str]:
    """The body of `_forward(params, X, masks, train)`; returns every named array."""
    p = printer()
    body = ["epsilon = EPSILON", "N = X.shape[0]", "A0 = X"]
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
    return body


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


def _backward(d: Derivation) -> list[str]:
    """The body of `_backward(params, out, Y, l1, l2)`: every step of batch_backward, printed;
    returns (grads, deltas)."""
    p = printer()
    L = d.spec.depth
    reads = [f"A{l}" for l in range(L + 1)] + [f"Z{l}" for l in range(1, L + 1)]
    for l, x in enumerate(d.spec.layers, 1):
        if x.batchnorm:
            reads += [f"mu{l}", f"sigma2_{l}", f"Zhat{l}", f"Y{l}"]
        if x.dropout:
            reads.append(f"Mask{l}")
    steps, grads = [], []
    for layer in reversed(d.layers):
        l = layer.l
        steps.append(f"# layer {l}")
        for st in batchnorm.batch_backward(layer):
            name = st.batch_lhs.name
            steps += [f"# (eq:batch-{st.label})", *p.statements(name, st.batch, IN_BODY)]
            if name.startswith("d") and name[1:] != f"Zhat{l}":
                grads.append((name[1:], name))
    used = codegen._used(steps)
    head = ["epsilon = EPSILON", "N = Y.shape[0]"]
    head += codegen._fetch([n for n in reads if n in used], "out")
    params = [f"{s}{l}" for l in range(1, L + 1) for s in ("W", "b", "gamma", "beta")]
    head += codegen._fetch([n for n in params if n in used], "params")
    grads.sort(key=lambda kv: _order(kv[0]))
    tail = codegen._dict("grads", grads)
    tail += codegen._dict("deltas", [(f"Delta{l}", f"Delta{l}") for l in range(1, L + 1)])
    return [*head, *steps, *tail, "return grads, deltas"]


def _order(key: str) -> tuple:
    stem = key.rstrip("0123456789")
    return int(key[len(stem) :]), ("W", "b", "gamma", "beta").index(stem)


def _init_std() -> list[tuple[str, str]]:
    scalar = UpdatePrinter(set()).scalar
    return [(name, scalar(entry.std)) for name, entry in training.INITS.items()]


def _indent(lines: list[str], by: str = "    ") -> list[str]:
    return [by + x if x else x for x in lines]


def script(d: Derivation) -> str:
    """The whole train.py text of a network with bn/dropout layers."""
    spec = d.spec
    if not spec.normalised:
        raise RenderError("codegen_bn prints networks with bn/dropout layers; use codegen")
    modules = [codegen.include(name) for name in RUNTIME_BN]
    hp = hyper.resolve(spec)
    data_loss, _ = codegen._data_loss(d, {f"A{spec.depth}"} if _identity_out(d) else set())
    kinks = [l for l, layer in enumerate(spec.layers, 1) if codegen._kinked(layer)]
    l1 = repr(spec.l1) if codegen.LAMBDA1 in d.coefficients else "None"
    l2 = repr(spec.l2) if codegen.LAMBDA2 in d.coefficients else "None"
    eps = float(batchnorm.EPSILON_VALUE)
    out = [
        f'"""Train a {spec.compact} network with backprop, in NumPy.',
        "",
        f"Generated by symfnn {__version__} from the spec `{spec.describe()}`.",
        "This file is generated: do not edit it, regenerate it with `symfnn generate`.",
        "Part 1 is printed from the derivation (symfnn.engine.batchnorm's mini-batch forms) and the",
        "rule tables; part 2 is symfnn's runtime, included verbatim; part 3 binds them.",
        "Batch normalisation / dropout: training mode normalises with the batch's statistics",
        "and draws a fresh dropout mask per step; predict/evaluation use the running mean and",
        f"variance (momentum {MOMENTUM}, unbiased) and no dropout.",
        "",
        "    python train.py --data data.npz            # train, report the test score",
        "    python train.py --gradcheck                # check the gradients",
        '"""',
        "",
        *(x for x in codegen._header_imports(modules) if x != "import functools"),
        "",
        "SPEC = {",
        *(f'    "{k}": {codegen._py(v)},' for k, v in _spec_items(spec)),
        "}",
        f"WIDTHS = {tuple(spec.widths)}",
        f'TASK = "{codegen._task(d)}"',
        f"L1 = {l1}  # lambda_1 (None: not in the derivation)",
        f"L2 = {l2}  # lambda_2 (None: not in the derivation)",
        f"EPSILON = {eps!r}  # added to the batch variance (symfnn.engine.batchnorm.EPSILON_VALUE)",
        f"MOMENTUM = {MOMENTUM}  # of the running estimates (PyTorch's convention)",
        f"DROPOUT = {dict(_dropout(d))!r}  # layer -> q",
        f"NORMALISED = {[l for l, x in enumerate(spec.layers, 1) if x.batchnorm]!r}",
        f"KINK_LAYERS = {kinks!r}",
        f'DEFAULT_INIT = "{hp["init"]}"',
        f"OPTIMIZER_LR = {codegen._py_dict(hyper.OPTIMIZER_LR)}",
        "TRAINING = {",
        *(f'    "{k}": {codegen._py(v)},' for k, v in hp.items()),
        "}",
        "",
        "",
        "# == 1. Printed from the derivation and the rule tables " + "=" * 35,
        "",
        "",
        "def _forward(params, X, masks, train):",
        '    """The forward pass: training mode (batch statistics, masks) or evaluation."""',
        *_indent(_forward(d)),
        "",
        "",
        "def _backward(params, out, Y, l1, l2):",
        '    """The backward pass of a training-mode forward pass `out`: (grads, deltas)."""',
        *_indent(_backward(d)),
        "",
        "",
        "def _data_loss(out, Y):",
        '    """The loss summed over the batch and the output units."""',
        *_indent(data_loss),
        "",
        "",
        "def _penalty(params, l1, l2):",
        '    """The regulariser Omega of every weight matrix (the regulariser table)."""',
        *_indent(codegen._penalty(d)),
        "",
        "",
        "def _risk(data_loss, N, penalty):",
        '    """The regularised risk R of a batch of N samples  (eq:risk)."""',
        f"    return {codegen._risk(d)}",
        "",
        "",
        "# The std of W_l ~ N(0, std^2) per initialisation scheme (symfnn.engine.training.INITS).",
        "INIT_STD = {",
        *(f'    "{n}": lambda fan_in, fan_out: {s},' for n, s in _init_std()),
        "}",
    ]
    optimizers = [codegen._optimizer(e) for e in training.OPTIMIZERS.values()]
    for opt in optimizers:
        out += ["", "", f"def {opt['function']}({opt['signature']}):", f'    """{opt["doc"]}"""']
        out += _indent(opt["body"])
    out += ["", "", "# == 2. symfnn's runtime, included verbatim " + "=" * 46]
    for m in modules:
        # two blank lines after the comment, as before any top-level definition (ruff format)
        section = f"# -- runtime/{m.name}.py " + "-" * 60
        out += ["", "", section, "", "", m.body.strip("\n")]
    names = ", ".join(f'"{o["function"][1:]}": {o["function"]}' for o in optimizers)
    out += [
        "",
        "",
        "# == 3. This script's API " + "=" * 65,
        "",
        "NET = NormNet(",
        "    widths=WIDTHS,",
        "    task=TASK,",
        "    l1=L1,",
        "    l2=L2,",
        "    dropout=DROPOUT,",
        "    normalised=NORMALISED,",
        "    kink_layers=KINK_LAYERS,",
        "    training=TRAINING,",
        "    optimizer_lr=OPTIMIZER_LR,",
        "    init_std=INIT_STD,",
        "    default_init=DEFAULT_INIT,",
        "    forward_pass=_forward,",
        "    backward_pass=_backward,",
        "    data_loss=_data_loss,",
        "    penalty=_penalty,",
        "    risk=_risk,",
        f"    optimizers={{{names}}},",
        "    momentum=MOMENTUM,",
        ")",
        "TRAINABLE = NET.trainable()",
        "init_params = NET.init_params",
        "forward = NET.forward",
        "predict = NET.predict",
        "loss = NET.loss",
        "gradients = NET.gradients",
        "masks = NET.masks",
        "error = NET.error",
        "train = NET.train",
        "gradcheck = NET.gradcheck",
        "load_data = NET.load_data",
        "",
        "",
        "def main(argv=None):",
        f'    return NET.main("Train a {spec.compact} network.", argv)',
        "",
        "",
        'if __name__ == "__main__":',
        "    sys.exit(main())",
        "",
    ]
    text = "\n".join(out)
    compile(text, "train.py", "exec")  # a printing bug shows here, not in the user's hands
    return text


def _spec_items(spec) -> list[tuple[str, object]]:
    """SPEC as the plain script has it (symfnn check --script re-derives the spec from it)."""
    return [
        ("compact", spec.compact),
        ("widths", list(spec.widths)),
        ("activations", [layer.activation for layer in spec.layers]),
        ("params", [layer.param for layer in spec.layers]),
        ("loss", spec.loss),
        ("l1", spec.l1),
        ("l2", spec.l2),
    ]


def _identity_out(d: Derivation) -> bool:
    return isinstance(d.layers[-1].forward_a.batch, sp.MatrixSymbol)


def load(d: Derivation):
    """The script of `d` imported as a fresh module, compiled from memory."""
    import types

    module = types.ModuleType(f"symfnn_generated_bn_{next(codegen._counter)}")
    module.__file__ = f"<symfnn script for {d.spec.compact}>"
    exec(compile(script(d), module.__file__, "exec"), module.__dict__)  # noqa: S102 -- ours
    return module
