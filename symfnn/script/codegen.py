"""Derivation -> a standalone NumPy training script (templates/train.py.jinja).

    derivation ─▶ printed steps (codeprint, per layer) ─▶ template context ─▶ script text

A script has three parts, laid out by the template:
1. printed from the derivation's SymPy objects by `codeprint.NumPyCodePrinter` (the forward
   and backward passes, the data loss, the penalty, the risk, the buffers); this module only
   orders the printed lines into function bodies;
2. the runtime, `symfnn/script/runtime/*.py` in the order of RUNTIME, included verbatim below its
   module docstring and opening imports (`include`): data, the Network bound to the printed
   functions, the loop, the gradient check, the command line;
3. a few lines that build `NET = Network(...)` from part 1 and name its methods and the
   runtime's functions as the API below (`train = functools.partial(fit, NET, ...)`).

The generated script's API (DESIGN.md, "The generated script's contract", plus what the
gradient-flow analysis needs):

    SPEC: dict; WIDTHS: tuple; TASK: 'classification' | 'multilabel' | 'regression'
    L1, L2: float | None        # the spec's λ₁, λ₂ (defaults of --l1/--l2); None: the
                                # derivation has no such term (passing one is refused)
    DEFAULT_INIT: the spec's [training] init, else 'he' (ReLU-like hidden layers) or
        'xavier'; KINK_LAYERS: [l, ...]
    OPTIMIZER_LR: {"sgd": 0.2, "momentum": 0.05, "adam": 0.003} (symfnn.engine.hyper)
    TRAINING: the hyper-parameters (symfnn.engine.hyper.resolve: the spec's [training] over
        symfnn's defaults), the defaults of train(), load_data() and the command line
    init_params(seed=0, scheme=None, dtype=None) -> {"W1", "b1", ...}  (None: DEFAULT_INIT,
        TRAINING["dtype"])
        scheme 'normal' (the article's N(0, 1)), 'xavier' or 'he';
        W_l has the article's shape (m_l, m_{l-1}); b_l is 1-D, (m_l,)
    forward(params, X) -> [A0, ..., AL]              # samples as rows
    predict(params, X) -> AL
    loss(params, X, Y, l1=None, l2=None) -> float    # the regularised risk R on the batch
    gradients(params, X, Y, l1=None, l2=None, return_deltas=False)
        -> (R, grads) or (R, grads, deltas); grads has the keys and shapes of params,
           deltas = {"Delta1": (N, m1), ..., "DeltaL": (N, mL)}, every layer's δ;
           l1/l2 None mean the spec's values
    error(params, X, Y) -> float     # error rate / wrong-label fraction / MSE per sample
    train(params, data, *, epochs, batch_size, lr, optimizer, l1=None, l2=None,
          clip_value, clip_norm, patience, seed, callback=None, log=print) -> history
        (keyword defaults: TRAINING's values; symfnn.engine.hyper.TABLE has them without [training])
        data: X_train, Y_train and optionally X_val, Y_val (Y one-hot / real, 2-D);
        lr None: OPTIMIZER_LR[optimizer]. `params` is updated in place
        and ends as the best weights seen (by validation error).
        history: per epoch "loss", "train_error", "val_error", "grad_norm" (global
        norm before clipping, mean over up to 8 evenly spaced steps of the epoch (at
        most one in 8), or over every step when clipping), "grad_norms" (one {"W1": ..., "b1": ...} per
        epoch: mean per-parameter norm before clipping, over the same steps),
        "time"; and "best_epoch", "stopped". The train error is measured on the
        mini-batches of evenly spaced blocks of 512 rows, about 16384 rows an epoch (all
        rows of a smaller set), before their updates (no extra pass over the training set). `callback(epoch, params, history)` runs
        after each epoch; returning True stops training.
    gradcheck(params=None, X=None, Y=None, seed=0) -> (ok, lines)   # central differences
    load_data(path, val_split=None, seed=None) -> {"X_train", "Y_train", ...}  # None: TRAINING's
    main(argv=None) -> exit status                   # python train.py --help
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import sympy as sp

from .. import __version__
from ..engine import hyper, losses, training
from ..engine.activations import lookup
from ..engine.derive import LAMBDA1, LAMBDA2, Derivation
from ..engine.symbols import N
from ..errors import RenderError
from ..fileio import write_atomic
from ..render import render
from .codeprint import UpdatePrinter, printer, restable, stable_loss, tidy

_IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
_counter = itertools.count()

# The golden scripts in generated/: file name -> (compact spec, options of spec.parse).
# Sized for the data sets of `symfnn data` (digits 64 -> 10, regression 4 -> 2,
# multilabel 8 -> 5); tests regenerate them and compare byte for byte.
EXAMPLES = {
    "article_sigmoid_softmax.py": ("64-32:sigmoid-10:softmax", {"l2": 0.0001}),
    "deep_relu.py": ("64-128:relu-64:relu-32:relu-10:softmax", {}),
    "regression_mse.py": ("4-32:tanh-32:tanh-2:identity", {"loss": "squared_error"}),
    "multilabel_bce.py": ("8-32:relu-5:sigmoid", {"loss": "binary_cross_entropy", "l1": 1e-5}),
    "bn_dropout.py": ("64-32:relu:bn:dropout=0.2-10:softmax", {}),  # codegen_bn's passes
}


# The runtime modules a script includes (symfnn/script/runtime/NAME.py), in dependency order: a
# module may use the names defined by the ones before it (imported relatively in the package).
RUNTIME = ("checks", "safeio", "data", "network", "loop", "gradcheck", "cli")
_RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"


@dataclass(frozen=True)
class Included:
    """One runtime module as a script includes it."""

    name: str  # "loop": symfnn/script/runtime/loop.py
    imports: tuple[str, ...]  # its absolute import statements, for the script's header
    body: str  # the module's text below its docstring and imports, verbatim
    defines: frozenset[str]  # the top-level names it defines


def include(name: str) -> Included:
    """symfnn/script/runtime/NAME.py cut mechanically: the module docstring and the import statements
    that open the module are dropped (absolute ones move to the script's header, relative ones
    name what an earlier included module defines); everything below is kept byte for byte. A
    module with an import anywhere else is refused."""
    path = _RUNTIME_DIR / f"{name}.py"
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    body = list(tree.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body.pop(0)  # the docstring
    imports, end = [], 0
    while body and isinstance(body[0], (ast.Import, ast.ImportFrom)):
        node = body.pop(0)
        if not (isinstance(node, ast.ImportFrom) and node.level):  # relative: defined above
            imports.append(ast.get_source_segment(text, node))
        end = node.end_lineno
    late = [
        n
        for n in ast.walk(ast.Module(body=body, type_ignores=[]))
        if isinstance(n, (ast.Import, ast.ImportFrom))
    ]
    if late:
        raise RenderError(f"{path}: imports must open the module (line {late[0].lineno})")
    defines = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defines.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defines |= {t.id for t in targets if isinstance(t, ast.Name)}
    kept = "".join(text.splitlines(keepends=True)[end:]).lstrip("\n")
    return Included(name, tuple(imports), kept, frozenset(defines))


def runtime(names: tuple[str, ...] = RUNTIME) -> list[Included]:
    """Every runtime module as included, checked: no name defined twice."""
    modules = [include(name) for name in names]
    seen: dict[str, str] = {}
    for m in modules:
        for n in m.defines:
            if n in seen:
                raise RenderError(f"runtime/{m.name}.py redefines {n} of runtime/{seen[n]}.py")
            seen[n] = m.name
    return modules


def _header_imports(modules: list[Included]) -> list[str]:
    """The script's import block: the runtime's imports and those the printed part uses."""
    lines = {"import functools", "import math", "import sys", "import numpy as np"}
    for m in modules:
        lines |= set(m.imports)
    std = sorted(x for x in lines if x.split()[1].split(".")[0] in sys.stdlib_module_names)
    std.sort(key=lambda x: x.startswith("from"))
    return [*std, "", *sorted(lines - set(std))]


# The hyper-parameters that are keywords of train() (runtime.loop.fit); the rest of
# TRAINING (init, val_split, dtype) are defaults of init_params/load_data/the command line.
TRAIN_KEYS = (
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "clip_value",
    "clip_norm",
    "patience",
    "seed",
    "diverging",
)


def _used(lines: list[str]) -> set[str]:
    return {m.group(0) for line in lines for m in _IDENT.finditer(line)}


def _fetch(names: list[str], source: str) -> list[str]:
    """`W1, b1 = params["W1"], params["b1"]`, two names a line."""
    lines = []
    for at in range(0, len(names), 2):
        group = names[at : at + 2]
        rhs = ", ".join(f'{source}["{n}"]' for n in group)
        lines.append(f"{', '.join(group)} = {rhs}")
    return lines


def _dict(name: str, items: list[tuple[str, str]]) -> list[str]:
    """A dict literal, one entry a line (ruff keeps it so: trailing comma)."""
    return [f"{name} = {{", *(f'    "{k}": {v},' for k, v in items), "}"]


def _comment(step, expr=None) -> str:
    p = printer()
    shown = p.code(step.batch if expr is None else expr)
    return f"# {p.doprint(step.batch_lhs)} = {shown}  (eq:batch-{step.label})"


def _kinked(layer) -> bool:
    """Whether the layer's f is defined piecewise at z = 0 (ReLU, leaky ReLU, ELU): a finite
    difference whose step moves some z across 0 is no check of the gradient there."""
    return isinstance(lookup(layer.activation).definition(layer.param), sp.Piecewise)


def _task(d: Derivation) -> str:
    if d.spec.layers[-1].activation == "softmax":
        return "classification"
    if d.loss.name == "binary_cross_entropy":
        return "multilabel"
    return "regression"


def _forward(d: Derivation) -> tuple[list[str], list[str], set[str]]:
    """Lines of `_forward(params, X, ws)` and the buffer names they write."""
    p = printer()
    body, buffers, aliases = ["A0 = X"], [], set()
    for layer in d.layers:
        l, act = layer.l, layer.activation
        steps: list[str] = [f"# layer {l}: {act.name}, {layer.fan_in} -> {layer.width}"]
        z_lines = p.statements(f"Z{l}", layer.forward_z.batch)
        if act.name == "softmax":
            a_lines = p.softmax(f"A{l}", f"Z{l}", f"rowmax{l}", f"rowsum{l}")
            a_comment = f"# A{l} = softmax(Z{l}), shifted by the row maximum  (eq:batch-{layer.forward_a.label})"
        elif isinstance(layer.forward_a.batch, sp.MatrixSymbol):
            a_lines = p.statements(f"A{l}", layer.forward_a.batch)
            a_comment = _comment(layer.forward_a)
            aliases.add(f"A{l}")
        else:
            stable = restable(layer.forward_a.batch, act)
            p.zeros = f"zeros{l}"  # a max(z, 0) reads a buffer of zeros (codeprint)
            a_lines = p.statements(f"A{l}", stable)
            p.zeros = None
            a_comment = _comment(layer.forward_a)
            if stable != layer.forward_a.batch:
                a_comment += f"\n# stable form: A{l} = {p.code(stable)}"
        in_place = (
            not layer.is_output
            and f"A{l}" not in aliases
            and not any(m.name == f"Z{l}" for m in layer.delta.batch.atoms(sp.MatrixSymbol))
            and all(f"Z{l}" not in _used([x]) for x in a_lines[1:])
        )
        own = [n for n in (f"Z{l}", f"A{l}") if n not in aliases]
        if in_place:  # A_l overwrites Z_l: a buffer less to stream through the caches
            own.remove(f"A{l}")
        own += [n for n in (f"zeros{l}", f"rowmax{l}", f"rowsum{l}") if n in _used(a_lines)]
        buffers += own
        steps += _fetch([f"W{l}", f"b{l}"], "params")
        steps += _fetch(own, "ws")
        if in_place:
            steps += [f"A{l} = Z{l}  # computed in place: the backward pass reads A{l}, not Z{l}"]
        steps += [_comment(layer.forward_z), *z_lines, *a_comment.split("\n"), *a_lines]
        body += steps
    A = ", ".join(f"A{l}" for l in range(d.spec.depth + 1))
    Z = ", ".join(f"Z{l}" for l in range(1, d.spec.depth + 1))
    body.append(f"return [{A}], [{Z}]")
    return body, buffers, aliases


# The factor train() wants on the data term's gradient (the learning rate, when the
# optimiser's update is linear in the gradient: then no separate multiplication by it).
SCALE = sp.Symbol("scale", positive=True)


def _terms(expr: sp.Basic) -> list:
    """The terms of a (nested) matrix sum."""
    if isinstance(expr, sp.MatAdd):
        return [t for a in expr.args for t in _terms(a)]
    return [expr]


def linear_in(expr: sp.Basic, x: sp.MatrixSymbol) -> bool:
    """Whether the matrix expression is linear (homogeneous of degree 1) in x: x itself, its
    transpose, a product (matrix or element-wise) with exactly one linear factor and the
    others free of x, or a sum of such terms. A factor applied element-wise to x is not."""
    if expr == x:
        return True
    if isinstance(expr, sp.Transpose):
        return linear_in(expr.arg, x)
    if isinstance(expr, (sp.MatMul, sp.HadamardProduct)):
        having = [a for a in expr.args if a.has(x)]
        return len(having) == 1 and linear_in(having[0], x)
    if isinstance(expr, sp.MatAdd):
        return all(linear_in(t, x) for t in expr.args)
    return False


def _delta(layer) -> sp.MatrixSymbol:
    """The MatrixSymbol of the layer's error term, as its gradients read it."""
    (D,) = [a for a in layer.grad_b.batch.atoms(sp.MatrixSymbol) if a.name.startswith("Delta")]
    return D


def _backward(d: Derivation) -> tuple[list[str], list[str], list[str]]:
    """Lines of `_backward(params, A, Z, Y, ws, scale)`, the buffers they write, and the
    lines of `_penalty_gradient(params, grads, l1, l2)`.

    The code keeps every error term times scale / N: the output layer's is multiplied once,
    and since each hidden layer's recurrence is linear in the next layer's term (checked by
    `linear_in`), every term below carries the same factor, so the data term of dW_l,
    (1/N) Delta_l.T A_{l-1} times scale, is Delta_l.T A_{l-1} with no copy of Delta_l / N.
    The gradient's penalty terms (free of Delta_l) are printed into `_penalty_gradient`."""
    p = printer()
    steps, buffers, penalty = [], [], []
    for layer in reversed(d.layers):
        l = layer.l
        D = _delta(layer)
        kept = {D: (N / SCALE) * D}  # Delta_l = N / scale * (what the code keeps)
        scratch = f"fprime{l}"
        delta = p.statements(f"Delta{l}", layer.delta.batch, scratch=scratch)
        if layer.is_output:
            factor = f"# kept times {p.code(SCALE / N)}: each error term below carries the factor"
            delta = [factor, *delta, f"Delta{l} *= {p.code(SCALE / N)}"]
        else:
            nxt = _delta(d.layers[l])
            if not linear_in(layer.delta.batch, nxt):
                raise RenderError(f"Delta{l} is not linear in {nxt}: cannot carry the scale")
        terms = _terms(layer.grad_W.batch)
        data = sp.MatAdd(*[t for t in terms if t.has(D)])
        grad_W = (SCALE * data.xreplace(kept)).doit()
        grad_b = (SCALE * layer.grad_b.batch.xreplace(kept)).doit()
        gW = p.statements(f"dW{l}", grad_W)
        gb = p.statements(f"db{l}", grad_b)
        own = [f"Delta{l}", f"dW{l}", f"db{l}"] + ([scratch] if scratch in _used(delta) else [])
        buffers += own
        kind = "output layer" if layer.is_output else "hidden layer"
        steps += [f"# layer {l} ({kind}, {layer.activation.name})"]
        steps += _fetch(own, "ws")
        steps += [_comment(layer.delta), *delta]
        steps += [_comment(layer.grad_W), f"# its data term times scale: dW{l} = {p.code(grad_W)}"]
        steps += [*gW, _comment(layer.grad_b), *gb]
        for t in (t for t in terms if not t.has(D)):
            penalty += [f"dW{l} += {p.code(t)}"]
    used = _used([x for x in steps if not x.lstrip().startswith("#")])  # code, not comments
    L = d.spec.depth
    head = ["N = Y.shape[0]"] + (['ones = ws["ones"]'] if "ones" in used else [])
    head.append(", ".join(f"A{l}" for l in range(L + 1)) + " = A")
    if any(f"Z{l}" in used for l in range(1, L + 1)):  # an f'(z) with no form in a
        head.append(", ".join(f"Z{l}" for l in range(1, L + 1)) + ", = Z")
    head += _fetch(
        [f"{s}{l}" for l in range(1, L + 1) for s in "Wb" if f"{s}{l}" in used], "params"
    )
    tail = _dict("grads", [(f"{s}{l}", f"d{s}{l}") for l in range(1, L + 1) for s in "Wb"])
    tail += _dict("deltas", [(f"Delta{l}", f"Delta{l}") for l in range(1, L + 1)])
    tail.append("return grads, deltas")
    return head + steps + tail, buffers, penalty_gradient(penalty, L)


def penalty_gradient(lines: list[str], L: int) -> list[str]:
    """The body of `_penalty_gradient(params, grads, l1, l2)` from its `dW_l += term` lines
    (the terms of ∂R/∂W_l free of Δ_l): the W_l and dW_l they read fetched first."""
    if not lines:
        return []
    layers = [l for l in range(1, L + 1) if f"dW{l}" in _used(lines)]
    fetch = _fetch([f"W{l}" for l in layers], "params")
    fetch += [f'dW{l} = grads["W{l}"]' for l in layers]
    return fetch + lines


def _fetched(value: ast.expr) -> bool:
    """Whether an assignment's value only names arrays: `params["W1"]`, `ws["Z1"]`, `Z1`,
    `Y.shape[0]` or a tuple of them (what a bound step does once, not per step)."""
    if isinstance(value, ast.Tuple):
        return all(_fetched(v) for v in value.elts)
    if isinstance(value, ast.Subscript):
        base = value.value
        return (isinstance(base, ast.Name) and base.id in ("params", "ws")) or (
            ast.unparse(value) == "Y.shape[0]"
        )
    return isinstance(value, ast.Name) and value.id not in ("A", "Z")


def _bound(forward: list[str], backward: list[str]) -> list[str]:
    """Lines of `_passes(params, X, Y, ws, scale)`: the statements of `_forward` and
    `_backward`, in their order, inside `run()`, and what they look up (the arrays of
    params and ws, NumPy's functions, the transposed views) bound once before it.

    train() runs a step thousands of times on the same arrays (the optimisers update
    params in place): on a small network a step's look-ups cost ~8% of it (64-32-10)."""
    code = [x for x in forward + backward if not x.lstrip().startswith("#")]
    text = "\n".join(code)
    setup, body, bound = [], [], set()
    for stmt in ast.parse(text).body:
        seg = ast.get_source_segment(text, stmt)
        if isinstance(stmt, ast.Return):
            continue
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            name = stmt.targets[0].id
            if name in ("grads", "deltas"):
                setup += seg.split("\n") if name == "grads" else []
                continue
        value = getattr(stmt, "value", None)
        if isinstance(value, ast.Name) and value.id in ("A", "Z"):
            continue  # the backward pass's unpacking: here the names are the forward pass's
        if isinstance(stmt, ast.Assign) and _fetched(stmt.value):
            names = {n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if not names <= bound:  # the backward pass fetches some weights again
                setup.append(seg)
            bound |= names
            continue
        body.append(seg)
    body, constants = _scalars(body)
    setup += constants
    stored, replaced = set(), set()  # names the statements assign: in place / anew
    for stmt in ast.parse("\n".join(body)).body:
        if isinstance(stmt, (ast.Assign, ast.AugAssign)):
            for t in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                names = {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
                stored |= names
                replaced |= names if isinstance(stmt, ast.Assign) else set()
    tree = ast.parse("\n".join(setup + body))
    taken = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}  # not np's attributes
    calls = sorted(set(re.findall(r"\bnp\.(\w+(?:\.reduce)?)\(", "\n".join(body))))
    views = sorted(set(re.findall(r"\b(\w+)\.T\b", "\n".join(body))) - replaced)
    local = {f"np.{c}": c.replace(".", "_") for c in calls} | {f"{v}.T": f"{v}_T" for v in views}
    local = {old: new for old, new in local.items() if new not in taken}
    if local:
        pattern = re.compile("|".join(rf"\b{re.escape(k)}\b" for k in sorted(local, key=len)[::-1]))
        body = [pattern.sub(lambda m: local[m.group(0)], line) for line in body]
    for group in ([k for k in local if k.startswith("np.")], [k for k in local if k[-2:] == ".T"]):
        for at in range(0, len(group), 2):  # two a line, as _fetch
            olds = group[at : at + 2]
            setup.append(f"{', '.join(local[k] for k in olds)} = {', '.join(olds)}")
    inner = [f"nonlocal {', '.join(sorted(stored & bound))}"] if stored & bound else []
    inner += [*body, "return grads"]
    return [*setup, "", "def run():", *(f"    {x}" for x in inner), "", "return run"]


# The names a printed pass reads that are numbers, not arrays (scale: train()'s; N: the batch)
SCALARS = {"scale", "N"}


def _scalars(body: list[str]) -> tuple[list[str], list[str]]:
    """(body, setup): every number operand of the statements (an in-place operator's right
    side, a NumPy call's positional argument: `Delta2 *= scale / N`, `greater(A1, 0, ...)`)
    bound once as a 0-d array of the batch's dtype (`scale_over_N = np.asarray(scale / N,
    X.dtype)`). NumPy converts a Python number into just that at every call (~0.4 us each:
    3% of a step of 64-32-10), so the results are the same to the bit."""
    names: dict[str, str] = {}

    def number(node: ast.expr) -> bool:
        parts = list(ast.walk(node))
        allowed = (ast.Constant, ast.Name, ast.BinOp, ast.UnaryOp)
        allowed += (ast.operator, ast.unaryop, ast.expr_context)  # their parts
        return all(isinstance(n, allowed) for n in parts) and all(
            n.id in SCALARS for n in parts if isinstance(n, ast.Name)
        )

    def name(node: ast.expr) -> str:
        text = ast.unparse(node)
        if text not in names:
            words = text.replace(" / ", "_over_").replace(" * ", "_times_")
            words = re.sub(r"\W+", "_", words.replace("-", "m").replace(".", "p")).strip("_")
            names[text] = words if words[0].isalpha() else f"k_{words}"
        return names[text]

    out = []
    for line in body:
        tree, changed = ast.parse(line), False
        for node in ast.walk(tree):
            if isinstance(node, ast.AugAssign) and number(node.value):
                node.value, changed = ast.Name(name(node.value)), True
            elif isinstance(node, ast.Call) and any(number(a) for a in node.args):
                node.args = [ast.Name(name(a)) if number(a) else a for a in node.args]
                changed = True
        out.append(tidy(ast.unparse(tree)) if changed else line)
    setup = [f"{n} = np.asarray({text}, X.dtype)" for text, n in names.items()]
    return out, setup


def _data_loss(d: Derivation, aliases: set[str]) -> tuple[list[str], list[str]]:
    """Lines of `_data_loss(out, Y)`: Σ over the batch of Σ_i ell(a_i, y_i), in its stable
    form, from the output layer's buffers in `out` (a workspace, or the rows train() kept);
    and the names it reads there, the one holding A_L first."""
    p = printer()
    L = d.spec.depth
    out = d.spec.layers[-1].activation
    stable, reads_z = stable_loss(d.loss.name, out)
    from ..engine.activations import z as z_sym
    from .codeprint import LSE

    names = {z_sym: sp.Symbol(f"Z{L}"), losses.a: sp.Symbol(f"A{L}"), losses.y: sp.Symbol("Y")}
    expr = stable.xreplace(names)
    lines = []
    if stable.has(LSE):  # the softmax kept its row maximum and sum: lse without a 2nd pass
        lines += [f"# lse = log(sum(exp(Z{L}), axis=1)) from the softmax's row maximum and sum"]
        lines += p.logsumexp("lse", f"rowmax{L}", f"rowsum{L}")
    held = f"Z{L}" if f"A{L}" in aliases else f"A{L}"
    read = [held] + [n for n in (f"Z{L}", f"rowmax{L}", f"rowsum{L}") if n in _used(lines)]
    read += [f"Z{L}"] if f"Z{L}" in _used([p.code(expr)]) and f"Z{L}" not in read else []
    used = _used([*lines, p.code(expr)])
    alias = held != f"A{L}" and f"A{L}" in used  # the identity's A_L is Z_L
    fetch = [f'{n} = out["{n}"]' for n in read if n in used or (alias and n == held)]
    fetch += [f"A{L} = {held}  # the identity's A_L is Z_L"] if alias else []
    lines.append(f"return {_summed(p, expr, sp.Symbol('Y'), L)}")
    kind = "in the logits" if reads_z else "as defined"
    head = f"# ell(a, y) = {p.code(d.loss.ell)}, summed {kind}"
    return [head, *fetch, *lines], read


def _summed(p, expr: sp.Expr, Y: sp.Symbol, L: int) -> str:
    """`float(np.sum(expr))`; a loss of the form Y * E (cross-entropy: -Y * (Z - lse)) as
    vdot(Y, E): one pass over the outputs less, and no temporary for -Y or the product."""
    E, rest = expr.as_independent(Y, as_Add=False)  # expr = E * rest
    full = E.has(sp.Symbol(f"Z{L}")) or E.has(sp.Symbol(f"A{L}"))  # E is (N, m_L), as Y
    if rest == Y and full:
        if E.could_extract_minus_sign():  # -vdot(Y, Z - lse): no pass for the minus
            return f"-float(np.vdot(Y, {p.code(-E)}))"
        return f"float(np.vdot(Y, {p.code(E)}))"
    return f"float(np.sum({p.code(expr)}))"


def _risk(d: Derivation) -> str:
    """R printed from the derivation's risk, its two sums standing for the helpers' results."""
    from sympy.core.function import AppliedUndef

    data, penalty = sp.Symbol("data_loss"), sp.Symbol("penalty")
    risk = d.risk.replace(
        lambda e: isinstance(e, sp.Sum), lambda e: data if e.atoms(AppliedUndef) else penalty
    )
    return printer().code(risk)


def _penalty(d: Derivation) -> list[str]:
    """Ω = Σ_l Σ_ij ω(W_l[i, j]), printed from the regulariser table."""
    p = printer()
    terms = []
    spec = d.spec
    for name, lam in (("l2", LAMBDA2), ("l1", LAMBDA1)):
        if lam not in d.coefficients:
            continue
        omega = losses.REGULARISERS[name].omega
        # the scalar factor outside the sum: one array temporary, not one per factor
        factor, inner = omega.as_independent(losses.W, as_Add=False)
        for l in range(1, spec.depth + 1):
            e = inner.xreplace({losses.W: sp.Symbol(f"W{l}")})
            # a sum of squares as one dot product: no temporary the size of W_l (5x faster)
            if e.is_Pow and e.exp == 2 and e.base.is_Symbol:
                total = f"np.vdot({e.base}, {e.base})"
            else:
                total = f"np.sum({p.code(e)})"
            terms.append(f"{p.code(factor.xreplace({losses.lam: lam}))} * {total}")
    if not terms:
        return ["return 0.0"]
    fetch = _fetch([f"W{l}" for l in range(1, spec.depth + 1)], "params")
    return [*fetch, "omega = 0.0", *(f"omega += {t}" for t in terms), "return float(omega)"]


def _sum(p: UpdatePrinter, target: sp.Symbol, expr: sp.Expr) -> str:
    """`expr` as code for a comment, the terms that read `target` first (θ - α g)."""
    terms = sorted(sp.Add.make_args(expr), key=lambda t: not t.has(target))
    text = p.code(terms[0])
    for t in terms[1:]:
        negative = t.as_coeff_Mul()[0] < 0
        text += f" - {p.code(-t)}" if negative else f" + {p.code(t)}"
    return text


def _optimizer(entry: training.Optimizer) -> dict:
    """`_NAME(params, lr, hyper=...)` printed from the entry: it allocates the entry's state
    (and a scratch array where the gradient is still needed) for `params` and returns
    `step(params, grads)`, which updates every θ in place. A gradient no later step reads is
    the scratch array itself (train() recomputes it every step). Each step is printed under
    a comment with the entry's assignment; a definition (Adam's m̂) is a comment only, its
    value substituted into the code of the steps after it."""
    tr = training
    names = {tr.ALPHA: "lr", tr.M_HAT: "m_hat", tr.V_HAT: "v_hat"}
    p = UpdatePrinter({tr.THETA, tr.G, *entry.state}, names)
    code = dict(entry.code_steps())
    targets = list(code)
    body, scratch_needed = [], False
    for target, expr in entry.steps:
        body.append(f"# {p.doprint(target)} <- {_sum(p, target, expr)}")
        if target not in code:
            continue
        later = any(code[t].has(tr.G) for t in targets[targets.index(target) + 1 :])
        scratch_needed |= later
        body += p.assign(target, code[target], "scratch" if later else "g")
    state = [p.doprint(s) for s in entry.state] + (["scratch"] if scratch_needed else [])
    alloc = ["np.zeros_like(p)"] * len(entry.state)
    alloc += ["np.empty_like(p)"] if scratch_needed else []
    lines = []
    if state:
        one = len(state) == 1
        lines += [
            "state = {}",
            "for k, p in params.items():",
            f"    state[k] = {'(' if one else ''}{', '.join(alloc)}{',)' if one else ''}",
        ]
        unpack = f"({state[0]},)" if one else ", ".join(state)
    if entry.counts_steps:
        lines.append("t = 0")
    lines += ["", "def step(params, grads):"]
    inner = ["nonlocal t", "t += 1"] if entry.counts_steps else []
    inner.append("for k, theta in params.items():")
    loop = ["g = grads[k]", *([f"{unpack} = state[k]"] if state else []), *body]
    inner += [f"    {x}" for x in loop]
    lines += [f"    {x}" for x in inner]
    lines += ["", "return step"]
    hyper_args = "".join(f", {p.doprint(sym)}={value!r}" for sym, value in entry.hyper)
    own = ", ".join(p.doprint(s) for s in entry.state) or "none"
    return {
        "function": f"_{entry.name}",
        "signature": f"params, lr{hyper_args}",
        "doc": f"{entry.title}: step(params, grads) updates each theta in place; "
        f"state {own} (training.py).",
        "body": lines,
    }


def gradient_scale(entry: training.Optimizer) -> sp.Expr:
    """α when every step of the entry is linear in g with a slope that has the factor α (SGD,
    momentum): the backward pass can then deliver α g itself and the update needs no product
    by α; 1 otherwise (Adam)."""
    tr = training
    for _, expr in entry.code_steps():
        slope = sp.diff(expr, tr.G)
        if slope.has(tr.G) or sp.simplify(slope / tr.ALPHA).has(tr.ALPHA):
            return sp.S.One
    return tr.ALPHA


def _penalty_slope(d: Derivation) -> sp.Expr:
    """dΩ/dθ of one weight θ: the derivative of each regulariser of the derivation (table)."""
    slope = sp.S.Zero
    for name, lam in (("l2", LAMBDA2), ("l1", LAMBDA1)):
        if lam in d.coefficients:
            omega = losses.REGULARISERS[name].omega.xreplace({losses.lam: lam})
            slope += sp.diff(omega, losses.W)
    return slope.xreplace({losses.W: training.THETA})


def _fused(entry: training.Optimizer, d: Derivation) -> dict | None:
    """`_NAME_fused(params, lr, l1, l2, hyper=...)` for train(), printed from the entry when its
    gradient scale is α (None otherwise): it returns (step, lr), and step(params, grads) takes
    grads as the backward pass gives them at scale lr, α times the data term's gradient g_d.
    The entry's steps are printed with g = grads / α + dΩ/dθ for a weight (g = grads / α for a
    bias): the λ₂ θ of L2 becomes a decay of θ, a term not linear in θ (λ₁ sign θ) is added
    to the gradient first."""
    tr = training
    if gradient_scale(entry) != tr.ALPHA:
        return None
    names = {tr.ALPHA: "lr", LAMBDA1: "l1", LAMBDA2: "l2"}
    p = UpdatePrinter({tr.THETA, tr.G, *entry.state}, names)
    slope = _penalty_slope(d)
    decay = sp.Add(
        *[t for t in sp.Add.make_args(slope) if t.as_independent(tr.THETA)[1] == tr.THETA]
    )
    added = sp.expand(slope - decay)
    code = entry.code_steps()
    loops = []
    for kind, gradient, extra in (
        ("weights", tr.G / tr.ALPHA + decay, added),
        ("biases", tr.G / tr.ALPHA, 0),
    ):
        body = []
        if extra != 0:
            body.append(
                f"# g <- g + lr * ({p.code(extra)}): the penalty's term not linear in theta"
            )
            body += p.assign(tr.G, tr.G + tr.ALPHA * extra)
        body.append(f"# the rule's g is {p.code(gradient)}: g holds lr times the data gradient")
        for target, expr in code:
            value = sp.expand(expr.xreplace({tr.G: gradient}))
            body.append(f"# {p.doprint(target)} <- {_sum(p, target, expr)}")
            body += p.assign(target, value, "g")
        loops.append((kind, body))
    state = [p.doprint(s) for s in entry.state]
    lines = ['weights = [k for k in params if k.startswith("W")]']
    lines += ['biases = [k for k in params if k.startswith("b")]']
    if state:
        one = len(state) == 1
        alloc = ["np.zeros_like(p)"] * len(state)
        lines += [
            "state = {}",
            "for k, p in params.items():",
            f"    state[k] = {'(' if one else ''}{', '.join(alloc)}{',)' if one else ''}",
        ]
        unpack = f"({state[0]},)" if one else ", ".join(state)
    lines += ["", "def step(params, grads):"]
    for kind, body in loops:
        loop = [
            "theta, g = params[k], grads[k]",
            *([f"{unpack} = state[k]"] if state else []),
            *body,
        ]
        lines += [f"    for k in {kind}:", *(f"        {x}" for x in loop)]
    lines += ["", "return step, lr  # the scale the backward pass is to run at"]
    hyper_args = "".join(f", {p.doprint(sym)}={value!r}" for sym, value in entry.hyper)
    return {
        "function": f"_{entry.name}_fused",
        "name": entry.name,
        "signature": f"params, lr, l1, l2{hyper_args}",
        "doc": f"{entry.title} for train(): (step, lr); grads: lr times the data gradient.",
        "body": lines,
    }


def _training_code(d: Derivation) -> dict:
    """The printed parts of training: initial std, optimisers, clipping (symfnn.engine.training)."""
    tr = training
    scalar = UpdatePrinter(set()).scalar
    init = [(name, scalar(entry.std)) for name, entry in tr.INITS.items()]
    by_value = tr.CLIPPING["value"]
    clip_p = UpdatePrinter({tr.G}, {tr.CLIP: by_value.option})
    clip_value = clip_p.assign(tr.G, by_value.rule)
    by_norm = tr.CLIPPING["norm"]
    norm_scale = UpdatePrinter(set(), {tr.CLIP: by_norm.option}).scalar(by_norm.rule)
    return {
        "init_std": init,
        "optimizers": [_optimizer(entry) for entry in tr.OPTIMIZERS.values()],
        "fused": [f for entry in tr.OPTIMIZERS.values() if (f := _fused(entry, d)) is not None],
        "clip_value": clip_value,
        "clip_value_doc": f"g <- {clip_p.scalar(by_value.rule)}",
        "norm_scale": norm_scale,
    }


def _py(value) -> str:
    """A literal as ruff formats it (double quotes)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    return repr(value)


def _py_dict(items: dict) -> str:
    return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in items.items()) + "}"


def buffer_shapes(widths) -> dict[str, str]:
    """A buffer's name -> its shape as code, n the batch size."""
    shapes = {}
    for l in range(1, len(widths)):
        m, prev = widths[l], widths[l - 1]
        shapes |= {f"Z{l}": f"(n, {m})", f"A{l}": f"(n, {m})", f"Delta{l}": f"(n, {m})"}
        shapes |= {f"zeros{l}": f"(n, {m})", f"rowmax{l}": "(n, 1)", f"rowsum{l}": "(n, 1)"}
        shapes |= {f"fprime{l}": f"(n, {m})", f"dW{l}": f"({m}, {prev})", f"db{l}": f"({m},)"}
    return shapes


# A hidden layer's arrays of one row per sample: allocated in the order hidden_order gives
# (runtime/network.py: column-major in float32, where BLAS runs the step's products on them
# faster); the output layer's stay rows (train() keeps them by rows), as do the gradients.
HIDDEN_BATCH = ("Z", "A", "Delta", "zeros", "fprime")


def _hidden(name: str, depth: int) -> bool:
    """Whether the buffer `name` is a hidden layer's array of one row per sample."""
    named = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
    return bool(named) and named[1] in HIDDEN_BATCH and int(named[2]) < depth


def allocations(names: list[str], shapes: dict[str, str], depth: int = 0) -> list[tuple]:
    """(name, its allocation as code) for the buffers of `_forward_buffers`; a hidden
    layer's arrays (of a network of `depth` layers) in the order `hidden` (the printed
    function's local: hidden_order(dtype))."""
    out = []
    for name in names:
        order = ", hidden" if _hidden(name, depth) else ""
        call = "zeros" if name.startswith("zeros") else "empty"
        out.append((name, f"np.{call}({shapes[name]}, dtype{order})"))
    return out


def context(d: Derivation) -> dict:
    """Everything the template lays out, printed and ordered."""
    if d.spec.normalised:  # bn/dropout layers: the passes of codegen_bn, the same layout
        from . import codegen_bn

        return codegen_bn.context(d)
    forward, fwd_buffers, aliases = _forward(d)
    data_loss, output_rows = _data_loss(d, aliases)
    backward, bwd_buffers, penalty_gradient = _backward(d)
    shapes, depth = buffer_shapes(d.spec.widths), len(d.spec.widths) - 1
    fwd_buffers = allocations(fwd_buffers, shapes, depth)
    bwd_buffers = allocations(bwd_buffers, shapes, depth)
    bwd_buffers.append(("ones", "np.ones(n, dtype)"))  # the 1 of the bias gradient Δᵀ1
    return {
        **common(d, runtime()),
        "forward": forward,
        "backward": backward,
        "passes": _bound(forward, backward),
        "data_loss": data_loss,
        "output_rows": _py(tuple(output_rows)),
        "penalty_gradient": penalty_gradient,
        "forward_buffers": fwd_buffers,
        "backward_buffers": bwd_buffers,
        # whether each of the two functions allocates a hidden layer's array
        "hidden_order": [any(", hidden)" in a for _, a in b) for b in (fwd_buffers, bwd_buffers)],
    }


def common(d: Derivation, modules: list[Included]) -> dict:
    """What the template lays out alike for every network: the spec's constants, the
    penalty, the risk, the rule tables' code (init, optimisers, clipping), the runtime."""
    spec = d.spec
    widths = spec.widths
    kinks = [l for l, layer in enumerate(spec.layers, 1) if _kinked(layer)]
    hp = hyper.resolve(spec)
    hp_text = {key: _py(value) for key, value in hp.items()}
    return {
        "normalised": False,  # codegen_bn.context's: bn/dropout layers
        "notes": [],
        "bn_constants": [],
        "version": __version__,
        "spec_text": spec.describe(),
        "compact": spec.compact,
        "spec_items": [
            (key, _py(value))
            for key, value in (
                ("compact", spec.compact),
                ("widths", list(widths)),
                ("activations", [layer.activation for layer in spec.layers]),
                ("params", [layer.param for layer in spec.layers]),
                ("loss", spec.loss),
                ("l1", spec.l1),
                ("l2", spec.l2),
            )
        ],
        "widths": tuple(widths),
        "task": _task(d),
        **_coefficient("l1", LAMBDA1, spec.l1, d),
        **_coefficient("l2", LAMBDA2, spec.l2, d),
        "default_init": hp["init"],
        "optimizer_lr": _py_dict(hyper.OPTIMIZER_LR),
        "hp": hp_text,
        "dtype": hp["dtype"],
        "kink_layers": kinks,
        "penalty": _penalty(d),
        "risk": _risk(d),
        "labels": d.labels,
        "imports": _header_imports(modules),
        "runtime": [(m.name, m.body.rstrip("\n")) for m in modules],
        "train_defaults": [(key, hp_text[key]) for key in TRAIN_KEYS],
        **_training_code(d),
    }


def _coefficient(name: str, symbol, value: float, d: Derivation) -> dict:
    derived = symbol in d.coefficients
    note = "" if derived else f" (None: not in the derivation; regenerate with --{name})"
    return {f"{name}_value": repr(value) if derived else "None", f"{name}_note": note}


def script(derivation: Derivation) -> str:
    """The whole train.py text for `derivation` (bn/dropout layers too: `context`)."""
    return render("python", "train.py.jinja", **context(derivation))


_PART = re.compile(r"^# == (\d)\. (.*?) =*$")


def parts(text: str) -> dict[str, int]:
    """Lines per part of a script's text, by the template's section rules (`# == 1. ...`):
    "header" (docstring, imports, the spec's constants SPEC ... TRAINING), "printed",
    "runtime/NAME.py" for each included module, "binding"; together every line."""
    counts: dict[str, int] = {"header": 0}
    part = "header"
    for line in text.splitlines():
        if m := _PART.match(line):
            number, title = m.groups()
            part = {"1": "printed", "3": "binding"}.get(number, title.split("symfnn/script/")[-1])
            counts.setdefault(part, 0)
        counts[part] += 1
    return counts


def write(derivation: Derivation, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Write the script atomically; refuses an existing file without `force` (RenderError)."""
    return write_atomic(path, script(derivation), force=force)


def examples() -> dict[str, str]:
    """File name -> script text of every golden example."""
    from ..engine.derive import derive
    from ..engine.spec import parse

    return {
        name: script(derive(parse(text, **options))) for name, (text, options) in EXAMPLES.items()
    }


def load(derivation_or_path: Derivation | str | os.PathLike) -> types.ModuleType:
    """Import a generated script as a fresh module, from memory: a Derivation's script is
    compiled without touching the disk, a file is read and compiled (nothing is written)."""
    if isinstance(derivation_or_path, Derivation):
        source = script(derivation_or_path)
        filename = f"<symfnn script for {derivation_or_path.spec.compact}>"
    else:
        path = Path(derivation_or_path)
        if not path.is_file():
            raise RenderError(f"no such script: {path}")
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise RenderError(f"cannot read {path}: {e}") from None
        filename = str(path)
    module = types.ModuleType(f"symfnn_generated_{next(_counter)}")
    module.__file__ = filename
    try:
        exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 -- our script
    except Exception as e:  # noqa: BLE001 -- a user-edited script may be broken in any way
        raise RenderError(f"cannot import {filename}: {type(e).__name__}: {e}") from None
    return module
