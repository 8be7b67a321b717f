"""The training loop of a generated script: epochs of shuffled mini-batches, history, early
stopping that keeps the best weights.

`fit(net, params, data, ...)` runs on any object with the methods of `network.Network` that
it calls (`workspace`, `forward_pass`, `backward_pass`, `data_loss`, `penalty`, `risk`,
`count_errors`, `error`, `coefficients`, `optimizer`, `clip`), so a test can drive it with a
small stand-in. Included verbatim in every generated script (codegen.RUNTIME).
"""

import math
import time
from collections.abc import Callable

import numpy as np

HISTORY = ("loss", "train_error", "val_error", "grad_norm", "grad_norms", "time")


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
    l1, l2 = net.coefficients(l1, l2)
    lr = net.optimizer_lr[optimizer] if lr is None else lr
    dtype = params["W1"].dtype
    X = np.ascontiguousarray(data["X_train"], dtype=dtype)
    Y = np.ascontiguousarray(data["Y_train"], dtype=dtype)
    X_val, Y_val = data.get("X_val"), data.get("Y_val")
    rng = np.random.default_rng(seed)
    step = net.optimizer(optimizer, params, lr)
    history = {k: [] for k in HISTORY} | {"best_epoch": 0, "stopped": "epochs"}
    stopping = EarlyStopping(params, patience)
    Xb, Yb = np.empty_like(X), np.empty_like(Y)
    n = len(X)
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            order = rng.permutation(n)
            np.take(X, order, axis=0, out=Xb)
            np.take(Y, order, axis=0, out=Yb)
            R, wrong, norm, norms = _epoch(
                net, params, Xb, Yb, batch_size, step, l1, l2, clip_value, clip_norm
            )
            if not math.isfinite(R):
                history["stopped"] = f"non-finite loss ({R}) at epoch {epoch}"
                log(f"stopped: the loss became {R} at epoch {epoch}; kept the best")
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


def _epoch(net, params, X, Y, batch_size, step, l1, l2, clip_value, clip_norm):
    """One pass over the shuffled (X, Y): (R, errors, mean global norm, mean norm per
    parameter), norms taken before clipping; the errors counted on each mini-batch before
    its update (no extra pass over X). R is inf or nan as soon as the loss is."""
    n = len(X)
    total, norm_sum, norms, steps, wrong = 0.0, 0.0, {k: 0.0 for k in params}, 0, 0
    # per step, every lookup counts on a small net: fetch the functions and buffers once
    forward, backward = net.forward_pass, net.backward_pass
    data_loss, count_errors = net.data_loss, net.count_errors
    clipping = bool(clip_value or clip_norm)
    full = net.workspace(min(batch_size, n), X.dtype)
    for lo in range(0, n, batch_size):
        xb, yb = X[lo : lo + batch_size], Y[lo : lo + batch_size]
        ws = full if len(xb) == batch_size else net.workspace(len(xb), X.dtype)
        A, Z = forward(params, xb, ws)
        grads, _ = backward(params, A, Z, yb, ws, l1, l2)
        total += data_loss(Z[-1], A[-1], yb)
        wrong += count_errors(A[-1], yb)
        if not math.isfinite(total):  # diverged: stop at once
            return total, wrong, math.nan, norms
        squares = {k: float(np.vdot(g, g)) for k, g in grads.items()}
        for k, s in squares.items():
            norms[k] += math.sqrt(s)
        norm_sum += math.sqrt(sum(squares.values()))
        if clipping:
            net.clip(grads, squares, clip_value, clip_norm)
        step(params, grads)
        steps += 1
    R = net.risk(total, n, net.penalty(params, l1, l2))
    return R, wrong, norm_sum / steps, {k: v / steps for k, v in norms.items()}
