"""The training loop of a generated script: epochs of shuffled mini-batches, history, early
stopping that keeps the best weights.

`fit(net, params, data, ...)` runs on any object with the methods of `network.Network` that
it calls (`workspace`, `output_names`, `forward_pass`, `backward_pass`, `data_loss`,
`penalty`, `risk`, `count_errors`, `error`, `coefficients`, `optimizer`, `clip`), so a test
can drive it with a small stand-in. Included verbatim in every generated script
(codegen.RUNTIME).

Per step it runs only the step: each mini-batch is gathered into one reused buffer, the
output layer writes its logits and outputs into a block of rows kept for bookkeeping, and
the loss and the error count of a block of steps are computed once, from those rows, by the
same printed functions (on a small network each extra NumPy call costs ~3% of a step).
"""

import math
import time
from collections.abc import Callable

import numpy as np

from .checks import check_settings

HISTORY = ("loss", "train_error", "val_error", "grad_norm", "grad_norms", "time")

# Rows of outputs kept before the loss and error count of those steps are taken together.
BLOCK_ROWS = 4096
# The history records the gradient norms of every NORM_STRIDE-th step of an epoch (the
# first included; at most every NORM_STRIDE-th) when no clipping needs them at every step: a
# vdot per parameter per step would cost ~10% on a small network, and the whole gradient
# (penalty included) more passes over the weights on a large one.
NORM_STRIDE, NORM_STEPS = 8, 32


class EarlyStopping:
    """Keeps a copy of the weights with the least validation error seen; `patience` epochs
    without a better one stop training (0: never)."""

    def __init__(self, params: dict, patience: int):
        self.best = {k: p.copy() for k, p in params.items()}
        self.patience, self.error, self.waited, self.epoch = patience, math.inf, 0, 0

    def update(self, epoch: int, params: dict, error: float) -> bool:
        """Record this epoch's validation error; True when training should stop."""
        if error < self.error:
            self.error, self.waited, self.epoch = error, 0, epoch
            for k, p in params.items():
                np.copyto(self.best[k], p)
        else:
            self.waited += 1
        return bool(self.patience) and self.waited >= self.patience

    def restore(self, params: dict) -> None:
        """Put the best weights back into `params` (in place)."""
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
    callback: Callable | None = None,
    log: Callable = print,
) -> dict:
    """Mini-batch training as the article's algorithm (shuffle every epoch, forward,
    backward, update), with early stopping on the validation error.

    `params` is updated in place and ends as the best weights seen. lr None: the
    optimiser's default (net.optimizer_lr). Returns the history: per epoch "loss",
    "train_error", "val_error", "grad_norm", "grad_norms", "time"; "best_epoch", "stopped"."""
    # the API's boundary: the rules of the command line and of the spec's [training]
    numbers = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "l1": l1, "l2": l2}
    numbers |= {"patience": patience, "seed": seed}
    check_settings(numbers | {"clip_value": clip_value, "clip_norm": clip_norm})
    l1, l2 = net.coefficients(l1, l2)
    lr = net.optimizer_lr[optimizer] if lr is None else lr
    dtype = params["W1"].dtype
    # as given when already of the dtype (no copy); batches are gathered from these
    X = np.ascontiguousarray(data["X_train"], dtype=dtype)
    Y = np.ascontiguousarray(data["Y_train"], dtype=dtype)
    X_val, Y_val = data.get("X_val"), data.get("Y_val")
    rng = np.random.default_rng(seed)
    clipping = bool(clip_value or clip_norm)  # clipping needs the whole gradient first
    step, scale = net.optimizer(optimizer, params, lr, l1, l2, fused=not clipping)
    history = {k: [] for k in HISTORY} | {"best_epoch": 0, "stopped": "epochs"}
    stopping = EarlyStopping(params, patience)
    plan = _plan(net, X, Y, batch_size, clipping)
    n = len(X)
    # a diverging run overflows: the loss says so below, NumPy need not warn
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            order = rng.permutation(n)
            settings = (l1, l2, clip_value, clip_norm, scale)
            result = _epoch(net, params, (X, Y), order, plan, step, settings)
            R, wrong, norm, norms = result
            if not math.isfinite(R):
                history["stopped"] = f"non-finite loss ({R}) at epoch {epoch}"
                log(f"stopped: the loss became {R} at epoch {epoch}; kept the best")
                break
            if not all(np.isfinite(p).all() for p in params.values()):
                # the loss was taken before the updates: only finite weights are ever kept
                history["stopped"] = f"non-finite weights at epoch {epoch}"
                log(f"stopped: inf or NaN weights at epoch {epoch}; kept the best")
                break
            train_err = wrong / n
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
            stop = stopping.update(epoch, params, val_err)
            history["best_epoch"] = stopping.epoch
            if callback is not None and callback(epoch, params, history):
                history["stopped"] = f"callback at epoch {epoch}"
                break
            if stop:
                history["stopped"] = f"early stopping at epoch {epoch}"
                break
    stopping.restore(params)
    return history


def _plan(net, X, Y, batch_size: int, clipping) -> list:
    """The steps of every epoch, grouped in blocks of about BLOCK_ROWS rows: per block
    (lo, hi, the block's output rows, its targets, [per step (lo, hi, x, y, ws, norms)]).

    `x` is the step's input buffer, `ws` a workspace whose output-layer buffers are views of
    the block's rows, `y` a view of the block's targets, `norms` whether the step records
    its gradient norms. Epochs differ only in the order of the rows gathered into them."""
    n = len(X)
    batch = min(batch_size, n)
    per_block = max(1, BLOCK_ROWS // batch) * batch
    names = [k for k in net.output_names() if k in net.workspace(batch, X.dtype)]
    rows = min(per_block, n)
    kept = {k: np.empty((rows, Y.shape[1]), X.dtype) for k in names}
    targets = np.empty((rows, Y.shape[1]), X.dtype)
    steps = -(-n // batch)
    stride = 1 if clipping else max(NORM_STRIDE, -(-steps // NORM_STEPS))
    inputs: dict = {}
    plan, at = [], 0
    for lo in range(0, n, per_block):
        hi = min(lo + per_block, n)
        block = []
        for s in range(lo, hi, batch):
            e = min(s + batch, hi)
            if e - s not in inputs:
                inputs[e - s] = np.empty((e - s, X.shape[1]), X.dtype)
            ws = dict(net.workspace(e - s, X.dtype))
            ws |= {k: kept[k][s - lo : e - lo] for k in names}
            y = targets[s - lo : e - lo]
            block.append((s, e, inputs[e - s], y, ws, at % stride == 0))
            at += 1
        outputs = [kept[k][: hi - lo] for k in names]
        plan.append((lo, hi, outputs, targets[: hi - lo], block))
    return plan


def _epoch(net, params, data, order, plan, step, settings):
    """One pass over the rows of data = (X, Y) in `order`: (R, errors, mean global norm, mean norm
    per parameter), norms taken before clipping (at every step when clipping, else at
    every NORM_STRIDE-th); the errors counted on each mini-batch before its update (no extra
    pass over X). R is inf or nan as soon as a block's loss is."""
    (X, Y), (l1, l2, clip_value, clip_norm, scale) = data, settings
    n, whole = len(X), scale is None  # whole: the step takes the whole gradient
    spare = {} if whole else {k: np.empty_like(p) for k, p in params.items()}
    scale = 1.0 if whole else scale
    total, norm_sum, norms, counted, wrong = 0.0, 0.0, {k: 0.0 for k in params}, 0, 0
    # per step, every lookup counts on a small net: fetch the functions once
    forward, backward = net.forward_pass, net.backward_pass
    clipping = bool(clip_value or clip_norm)
    for lo, hi, outputs, targets, block in plan:
        # the targets of the whole block in one gather; `y` of each step is a view of them
        np.take(Y, order[lo:hi], axis=0, out=targets, mode="clip")
        for s, e, x, y, ws, recorded in block:
            np.take(X, order[s:e], axis=0, out=x, mode="clip")
            A, Z = forward(params, x, ws)
            grads, _ = backward(params, A, Z, y, ws, scale)
            if whole:
                net.penalty_gradient(params, grads, l1, l2)
            if recorded or clipping:
                full = grads
                if not whole:
                    full = _whole(net, params, grads, scale, l1, l2, spare)
                squares = {k: float(np.vdot(g, g)) for k, g in full.items()}
                if recorded:
                    for k, v in squares.items():
                        norms[k] += math.sqrt(v)
                    norm_sum += math.sqrt(sum(squares.values()))
                    counted += 1
                if clipping:
                    net.clip(grads, squares, clip_value, clip_norm)
            step(params, grads)
        z_rows, a_rows = outputs[0], outputs[-1]  # one array when A_L is Z_L (identity)
        total += net.data_loss(z_rows, a_rows, targets)
        wrong += net.count_errors(a_rows, targets)
        if not math.isfinite(total):  # diverged: stop at once
            return total, wrong, math.nan, norms
    R = net.risk(total, n, net.penalty(params, l1, l2))
    return R, wrong, norm_sum / counted, {k: v / counted for k, v in norms.items()}


def _whole(net, params, grads, scale, l1, l2, spare: dict) -> dict:
    """The whole gradient, from the backward pass's at `scale`, into the arrays `spare`."""
    for k, g in grads.items():
        np.multiply(g, 1 / scale, out=spare[k])
    net.penalty_gradient(params, spare, l1, l2)
    return spare
