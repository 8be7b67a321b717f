"""The training loop of a generated script: epochs of shuffled mini-batches, history, early
stopping that keeps the best weights.

`fit(net, params, data, ...)` runs on any object with the methods of `network.Network` that
it calls (`for_training`, `workspace`, `output_names`, `forward_pass`, `backward_pass`,
`data_loss`, `penalty`, `penalty_gradient`, `loss`, `risk`, `count_errors`, `error`,
`coefficients`, `optimizer`, `clip`; `passes` and `kept` when it has them), so a test can
drive it with a small stand-in; a bn/dropout network (normalised.NormNet) is one such object. Included
verbatim in every generated script (codegen.RUNTIME).

Per step it runs only the step: each mini-batch is gathered into one reused buffer, the
printed passes run bound to their arrays (net.passes: nothing looked up per step), a small
network's weights are updated as two arrays, the output layer writes its logits and
outputs into a block of rows kept for bookkeeping, and the loss and the error count of a
block of steps are computed once, from those rows, by the same printed functions (on a
small network each extra NumPy call costs ~2% of a step).
"""

import math
import time
from collections.abc import Callable
from functools import partial

import numpy as np

from .checks import check_settings

HISTORY = ("loss", "train_error", "val_error", "grad_norm", "grad_norms", "time")

# Rows of outputs kept before the loss and error count of those steps are taken together:
# few enough that a block's rows stay in the caches while its steps run (64-32-10: blocks
# of 4096 rows made a step ~7% slower than blocks of 512).
BLOCK_ROWS = 512
# The history records the gradient norms of NORM_STEPS evenly spaced steps of an epoch
# (the first included), at most one in NORM_STRIDE, when no clipping needs them at every
# step: a vdot per parameter per step would cost ~10% on a small network, and the whole
# gradient (penalty included) a few passes over the weights (~5% of a step) on a large one.
NORM_STEPS, NORM_STRIDE = 8, 8
# The train error is counted on about ERROR_ROWS rows an epoch, those of evenly spaced
# blocks (the first included): an argmax over a block's outputs and one over its targets
# cost ~5% of a small network's steps (64-32-10, 50 ns a row).
ERROR_ROWS = 16384
# A run is diverging when an epoch's loss exceeds `diverging` times the loss at the start
# (TRAINING's: 10): it stops and keeps its best weights. A far too large learning rate can
# leave a finite loss that never comes back (digits, 64-32-10, SGD at lr 1000: 2e8 in epoch
# 1, then hundreds), and a healthy run stays below its start. The start is the initial
# weights' loss on the first mini-batch, as its step computes it (no extra pass), or, below
# REFERENCE_ROWS rows a batch (one sample's loss is noisy), on that many evenly spaced rows.
REFERENCE_ROWS = 32
# train() updates the weights of a network of at most this many parameters as two arrays
# (every W_l, every b_l: _flat), copied in and out every epoch.
FLAT_SIZE = 1 << 20


class EarlyStopping:
    """Keeps a copy of the weights with the least validation error seen; `patience` epochs
    without a better one stop training (0: never)."""

    def __init__(self, params: dict, patience: int, best: dict | None = None):
        """`best`: arrays like params' to keep the copy in (train(): the network's kept)."""
        if best is None:
            best = {k: np.empty_like(p) for k, p in params.items()}
        for k, p in params.items():
            np.copyto(best[k], p)
        self.best = best
        self.patience, self.error, self.waited, self.epoch = patience, math.inf, 0, 0
        self.held = False  # params themselves are the best: nothing to copy back

    def update(self, epoch: int, params: dict, error: float, last=False) -> bool:
        """Record this epoch's validation error; True when training should stop. `last`:
        params change no more, so a better epoch is kept in them, not copied (a copy and a
        restore of every weight: ~1% of a 16-step epoch of 784-1024-1024-10)."""
        if error < self.error:
            self.error, self.waited, self.epoch, self.held = error, 0, epoch, last
            if not last:
                for k, p in params.items():
                    np.copyto(self.best[k], p)
        else:
            self.waited += 1
        return bool(self.patience) and self.waited >= self.patience

    def restore(self, params: dict) -> None:
        """Put the best weights back into `params` (in place)."""
        if not self.held:
            for k, p in params.items():
                np.copyto(p, self.best[k])


def fit(
    net,
    params: dict,
    data: dict,
    *,
    epochs: int,
    batch_size: int,
    lr: float | None,
    optimizer: str,
    l1: float | None = None,
    l2: float | None = None,
    clip_value: float | None,
    clip_norm: float | None,
    patience: int,
    seed: int,
    diverging: float | None = None,
    callback: Callable | None = None,
    log: Callable = print,
) -> dict:
    """Mini-batch training as the article's algorithm (shuffle every epoch, forward,
    backward, update), with early stopping on the validation error.

    `params` is updated in place and ends as the best weights seen. lr None: the
    optimiser's default (net.optimizer_lr). An epoch whose loss exceeds `diverging` times
    the loss at the start stops training (None or 0: never). Returns the history: per
    epoch "loss", "train_error", "val_error", "grad_norm", "grad_norms", "time";
    "best_epoch", "stopped"."""
    # the API's boundary: the rules of the command line and of the spec's [training]
    numbers = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "l1": l1, "l2": l2}
    numbers |= {"patience": patience, "seed": seed, "diverging": diverging}
    check_settings(numbers | {"clip_value": clip_value, "clip_norm": clip_norm})
    l1, l2 = net.coefficients(l1, l2)
    lr = net.optimizer_lr[optimizer] if lr is None else lr
    dtype = params["W1"].dtype
    # as given when already of the dtype (no copy); batches are gathered from these
    X = np.ascontiguousarray(data["X_train"], dtype=dtype)
    Y = np.ascontiguousarray(data["Y_train"], dtype=dtype)
    X_val, Y_val = data.get("X_val"), data.get("Y_val")
    rng = np.random.default_rng(seed)
    net = net.for_training(rng)  # bn/dropout: its masks drawn from rng
    clipping = bool(clip_value or clip_norm)  # clipping needs the whole gradient first
    work, flat = _flat(net, params)
    stepped = params if flat is None else flat[0]  # the arrays the optimiser updates
    step, scale = net.optimizer(optimizer, stepped, lr, l1, l2, fused=not clipping)
    history = {k: [] for k in HISTORY} | {"best_epoch": 0, "stopped": "epochs"}
    stopping = EarlyStopping(params, patience, _kept_like(net, "best", params))
    # the passes at the optimiser's scale, or at 1 when the step takes the whole gradient
    at_scale = 1.0 if scale is None else scale
    if flat is None:
        order, plan = _plan(net, work, (X, Y), batch_size, at_scale, {})
    else:  # bound to the kept flat arrays: kept too, for a run of the same shape
        # the flat arrays' identity too: a plan bound to ones since dropped is not reused
        key = ("plan", len(X), batch_size, dtype.str, at_scale, id(flat[0]["W"]))
        make = partial(_plan, net, work, (X, Y), batch_size, at_scale, flat[2])
        order, plan = net.kept(key, make)
    spare = None if scale is None else _kept_like(net, "spare", params)
    n = len(X)
    # a diverging run overflows: the loss says so below, NumPy need not warn
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        R0 = math.nan  # the loss at the start: below, or from the first step's rows
        if diverging and batch_size < REFERENCE_ROWS:
            R0 = _start_loss(net, params, (X, Y), (l1, l2))
        penalty0 = net.penalty(params, l1, l2) if diverging else 0.0
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            order[:] = rng.permutation(n)  # into the buffer the plan's steps view
            if work is not params and (epoch == 1 or callback is not None):
                for k, p in params.items():  # (a callback may have changed params)
                    np.copyto(work[k], p)
            settings = (l1, l2, clip_value, clip_norm, scale, spare, flat)
            result = _epoch(net, work, (X, Y), plan, step, settings)
            R, train_err, norm, norms, first = result
            if math.isnan(R0) and diverging:  # epoch 1's first step, before its update
                R0 = net.risk(*first, penalty0)
            if work is not params:
                for k, p in params.items():
                    np.copyto(p, work[k])
            if not math.isfinite(R):
                history["stopped"] = f"non-finite loss ({R}) at epoch {epoch}"
                log(f"stopped: the loss became {R} at epoch {epoch}; kept the best")
                break
            if not all(np.isfinite(p).all() for p in params.values()):
                # the loss was taken before the updates: only finite weights are ever kept
                history["stopped"] = f"non-finite weights at epoch {epoch}"
                log(f"stopped: inf or NaN weights at epoch {epoch}; kept the best")
                break
            val_err = train_err
            if X_val is not None:
                val_err = net.error(params, X_val, Y_val)
            record = (R, train_err, val_err, norm, norms, time.perf_counter() - start)
            for k, v in zip(HISTORY, record):
                history[k].append(v)
            log(
                f"epoch {epoch:3d}  loss {R:.4f}  train error {train_err:.4f}  "
                f"val error {val_err:.4f}  |grad| {norm:.3g}  {record[-1]:.2f}s"
            )
            if diverging and R > diverging * R0:
                rose = f"{R:.4g} from {R0:.4g}"
                history["stopped"] = f"diverging loss at epoch {epoch} ({rose})"
                log(
                    f"stopped: the loss rose from {R0:.4g} at the start to {R:.4g} at epoch "
                    f"{epoch}, over {diverging:g}x: the learning rate ({lr:g}) is likely too "
                    "large; kept the best"
                )
                break
            # the last epoch, and no callback that could change params after it
            last = epoch == epochs and callback is None
            stop = stopping.update(epoch, params, val_err, last)
            history["best_epoch"] = stopping.epoch
            if callback is not None and callback(epoch, params, history):
                history["stopped"] = f"callback at epoch {epoch}"
                break
            if stop:
                history["stopped"] = f"early stopping at epoch {epoch}"
                break
    stopping.restore(params)
    return history


def _start_loss(net, params: dict, data: tuple, penalty: tuple) -> float:
    """R of the initial weights on REFERENCE_ROWS evenly spaced rows of data = (X, Y)."""
    X, Y = data
    step = max(1, len(X) // REFERENCE_ROWS)
    rows = slice(None, REFERENCE_ROWS * step, step)
    return net.loss(params, X[rows], Y[rows], *penalty)


def _flat(net, params: dict) -> tuple:
    """(work, flat): for a network with bound passes, arrays for train() to work in:
    `work` the views of params' shapes into one array of every W_l and one of every other
    trained array (b_l; a bn layer's gamma_l, beta_l), beside copies of the untrained ones
    (a bn layer's running statistics), `flat` ({"W": the weights, "b": the others
    trained}, the same for their gradients, the views of the gradients by workspace name
    ("dW1", "dgamma1", ...)), so that a step's update is a few NumPy calls whatever the
    depth (6 -> 3 on 64-32-10: ~4% of a step); else (params, None). Only when the weights
    are few: train() copies them in and out every epoch."""
    if getattr(net, "bound_passes", None) is None:
        return params, None
    trained = set(net.trainable())
    if sum(p.size for k, p in params.items() if k in trained) > FLAT_SIZE:
        return params, None
    keys = {"W": [k for k in params if k in trained and k[0] == "W"]}
    keys["b"] = [k for k in params if k in trained and k[0] != "W"]
    make = partial(_flat_arrays, params, keys)
    return net.kept(("flat", params["W1"].dtype.str), make)


def _flat_arrays(params: dict, keys: dict) -> tuple:
    """(work, (stepped, grads, views)) of _flat, allocated."""
    dtype = params["W1"].dtype
    flat = {k for names in keys.values() for k in names}
    # the untrained arrays (running statistics): copies, as the views are of the trained
    work = {k: np.empty_like(p) for k, p in params.items() if k not in flat}
    stepped, grads, views = {}, {}, {}
    for kind, names in keys.items():
        total = sum(params[k].size for k in names)
        stepped[kind], grads[kind] = np.empty(total, dtype), np.empty(total, dtype)
        at = 0
        for k in names:
            shape, m = params[k].shape, params[k].size
            work[k] = stepped[kind][at : at + m].reshape(shape)
            views["d" + k] = grads[kind][at : at + m].reshape(shape)
            at += m
    return {k: work[k] for k in params}, (stepped, grads, views)


def _kept_like(net, name: str, params: dict) -> dict:
    """Arrays like params' for train()'s copies of them (name: "best", early stopping's
    weights; "spare", the whole gradient for its norms), kept by the network for the next
    run, as the flat weights are: fresh ones would cost their first touch at every call
    (~0.8% each of a one-epoch run of 784-1024-1024-10)."""
    if getattr(net, "kept", None) is None:  # a stand-in (loop's docstring): fresh ones
        return _like(params)
    key = (name, tuple((k, p.shape, p.dtype.str) for k, p in params.items()))
    return net.kept(key, partial(_like, params))


def _like(params: dict) -> dict:
    return {k: np.empty_like(p) for k, p in params.items()}


def _plan(net, params, data, batch_size: int, scale: float, into: dict) -> tuple:
    """(order, plan): the buffer every epoch's shuffled row order is written into, and the
    steps of every epoch in blocks of about BLOCK_ROWS rows: per block (its rows of
    `order`, its buffers `rows` and its steps (x, at, run)). `rows` holds the block's
    rows of the output layer's buffers (net.output_names()), of the targets ("Y") and of
    the order ("at"); a step gathers its inputs into the buffer x from the rows `at` of
    the block's order, then run() (net.passes, bound once here) runs the passes on x and
    the step's rows of the block's targets into a workspace whose output-layer buffers
    view the block's rows, so that the loss and the errors of a block are taken once,
    after its steps. Full blocks share one list of steps: per step no array is made and
    nothing is looked up. (Gathering a narrow X per block was measured slower.)"""
    (X, Y), n, dtype = data, len(data[0]), data[0].dtype
    bind = getattr(net, "passes", None) or partial(_unbound, net)  # a stand-in: unbound
    batch = min(batch_size, n)
    per_block = min(max(1, BLOCK_ROWS // batch) * batch, n)
    full = net.workspace(batch, dtype)
    names = net.output_names()
    kept = {k: np.empty((per_block, full[k].shape[1]), dtype) for k in names}
    kept["Y"] = np.empty((per_block, Y.shape[1]), dtype)
    kept["at"] = np.empty(per_block, np.intp)
    order = np.empty(n, np.intp)
    inputs: dict = {}
    plan, shared = [], None
    for lo in range(0, n, per_block):
        size = min(per_block, n - lo)
        steps = shared
        if size < per_block or shared is None:
            steps = []
            for s in range(0, size, batch):
                e = min(s + batch, size)
                if e - s not in inputs:  # its input buffer and workspace, per size
                    ws = net.workspace(e - s, dtype) | into  # the gradients: flat
                    inputs[e - s] = np.empty((e - s, X.shape[1]), dtype), ws
                x, ws = inputs[e - s]
                ws = ws | {k: kept[k][s:e] for k in names}
                y = kept["Y"][s:e]
                # a huge lr's scale / N is bound as inf, as the loop would compute it
                with np.errstate(over="ignore"):
                    run = bind(params, x, y, ws, scale)
                steps.append((x, kept["at"][s:e], run))
            shared = steps if size == per_block else shared
        rows = {k: v[:size] for k, v in kept.items()}
        plan.append((order[lo : lo + size], rows, steps))
    return order, plan


def _epoch(net, params, data, plan, step, settings):
    """One pass over the rows of data = (X, Y) in the order of `plan` (_plan): (R, the
    train error, mean global norm, mean norm per parameter, (the data loss, the rows) of
    its first step, before that step's update), norms taken before clipping
    (at every step when clipping, else at most NORM_STEPS of them); the errors counted on
    the mini-batches of evenly spaced blocks, about ERROR_ROWS rows, before their updates
    (no extra pass over X). R is inf or nan as soon as a block's loss is."""
    (X, Y), (l1, l2, clip_value, clip_norm, scale, spare, flat) = data, settings
    stepped, flat_grads = (params, None) if flat is None else flat[:2]
    take = X.take  # the array's own: np.take adds a Python wrapper's call per step
    held = net.output_names()[0]  # the buffer holding A_L
    n, whole = len(X), scale is None  # whole: the step takes the whole gradient
    # norms keyed by the gradients' names (a bn network's params hold running statistics too)
    total, norm_sum, norms, counted, wrong, seen = 0.0, 0.0, {}, 0, 0, 0
    error_stride = max(1, len(plan) * len(plan[0][0]) // ERROR_ROWS)
    clipping = bool(clip_value or clip_norm)
    steps = sum(len(block) for *_, block in plan)
    stride = 1 if clipping else max(NORM_STRIDE, -(-steps // NORM_STEPS))
    # the steps whose norms are taken: a countdown, not a division per step
    due = 0
    for b, (rows_at, rows, block) in enumerate(plan):
        # the targets of the whole block in one gather and its order in one copy: the
        # steps' `y` and `at` view them
        Y.take(rows_at, axis=0, out=rows["Y"], mode="clip")
        np.copyto(rows["at"], rows_at)
        for x, at, run in block:
            take(at, 0, x, "clip")  # into x; positional: no keywords to parse per step
            grads = run()
            if whole:
                net.penalty_gradient(params, grads, l1, l2)
            if clipping or not due:
                full = grads
                if not whole:
                    full = _whole(net, params, grads, scale, l1, l2, spare)
                squares = {k: float(np.vdot(g, g)) for k, g in full.items()}
                if not due:
                    for k, v in squares.items():
                        norms[k] = norms.get(k, 0.0) + math.sqrt(v)
                    norm_sum += math.sqrt(sum(squares.values()))
                    counted += 1
                    due = stride
                if clipping:
                    net.clip(grads, squares, clip_value, clip_norm)
            due -= 1
            step(stepped, flat_grads or grads)
        total += net.data_loss(rows, rows["Y"])
        if b == 0:
            m = len(block[0][1])  # the first step's rows: its `at`
            first = net.data_loss({k: v[:m] for k, v in rows.items()}, rows["Y"][:m]), m
        if b % error_stride == 0:
            wrong += net.count_errors(rows[held], rows["Y"])
            seen += len(rows_at)
        if not math.isfinite(total):  # diverged: stop at once
            return total, math.nan, math.nan, norms, first
    R = net.risk(total, n, net.penalty(params, l1, l2))
    norms = {k: v / counted for k, v in norms.items()}
    return R, wrong / seen, norm_sum / counted, norms, first


def _unbound(net, params, X, Y, ws, scale):
    """net.passes for a network without it (a test's stand-in): the passes, unbound."""

    def run():
        A, Z = net.forward_pass(params, X, ws)
        return net.backward_pass(params, A, Z, Y, ws, scale)[0]

    return run


def _whole(net, params, grads, scale, l1, l2, spare: dict) -> dict:
    """The whole gradient, from the backward pass's at `scale`, into the arrays `spare`."""
    for k, g in grads.items():
        np.multiply(g, 1 / scale, out=spare[k])
    net.penalty_gradient(params, spare, l1, l2)
    return spare
