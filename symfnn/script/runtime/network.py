"""A network's printed passes bound to reusable buffers: the generated script's model API.

The generated script builds one `Network` from what codegen printed from the derivation (the
forward and backward passes, the data loss, the penalty, the risk, the buffer shapes, the
initial std, the optimiser update and the clipping rule) and exposes its methods as the
script's `init_params`, `forward`, `predict`, `loss`, `gradients` and `error`. This module
holds no formula: every number it computes comes from a printed function it was given.

Included verbatim in every generated script (codegen.RUNTIME); NumPy and the standard library
only.
"""

import math
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from .data import DataError, read_data

# How many workspaces (one per batch size, dtype and kind) a Network keeps: a training run
# needs two (the batch size and the last, shorter batch) plus one for validation.
WORKSPACES = 4
# Rows an inference pass (predict, error) computes at a time: its buffers hold CHUNK rows
# per layer, not one row per sample (10,000 samples of 784-256-256-10 would need 41 MB).
CHUNK = 1024


def hidden_order(dtype) -> str:
    """The memory order of a hidden layer's arrays of one row per sample (Z_l, A_l, Delta_l,
    ...): column-major ("F") in float32, rows ("C") otherwise. The printed statements are
    the same either way (NumPy hands BLAS the transposed layout), but OpenBLAS's sgemm runs
    the step's products ~3% faster on column-major ones (train() on 784-256-256-10 and
    784-1024-1024-10, 1 thread), and dgemm 3-9% slower."""
    return "F" if np.dtype(dtype) == np.float32 else "C"


class Network:
    """The printed pieces of one network and the public functions built on them.

    Shapes: samples are rows; W_l is (m_l, m_{l-1}) as in the article, b_l is (m_l,)."""

    def __init__(
        self,
        *,
        compact: str,
        widths: tuple,
        task: str,
        l1: float | None,
        l2: float | None,
        default_init: str,
        kink_layers: list,
        training: dict,
        optimizer_lr: dict,
        forward_pass: Callable,
        backward_pass: Callable,
        data_loss: Callable,
        penalty: Callable,
        penalty_gradient: Callable,
        output_rows: list,
        risk: Callable,
        forward_buffers: Callable,
        backward_buffers: Callable,
        init_std: dict,
        optimizers: dict,
        fused: dict,
        clip_by_value: Callable,
        norm_scale: Callable,
        bound_passes: Callable | None = None,
    ):
        self.compact, self.widths, self.task, self.l1, self.l2 = (
            compact,
            widths,
            task,
            l1,
            l2,
        )
        self.default_init, self.kink_layers, self.training = (
            default_init,
            kink_layers,
            training,
        )
        self.optimizer_lr = optimizer_lr
        self.forward_pass, self.backward_pass = forward_pass, backward_pass
        self.data_loss, self.penalty, self.risk = data_loss, penalty, risk
        self.penalty_gradient, self.output_rows = penalty_gradient, tuple(output_rows)
        self.forward_buffers, self.backward_buffers = forward_buffers, backward_buffers
        self.init_std = init_std
        self.optimizers, self.fused = optimizers, fused
        self.clip_by_value, self.norm_scale = clip_by_value, norm_scale
        self.bound_passes = bound_passes
        self.init_schemes = tuple(init_std)
        self._workspaces = OrderedDict()
        self._kept = OrderedDict()

    # -- buffers --------------------------------------------------------------------------

    def workspace(self, n: int, dtype, backward: bool = True) -> dict:
        """Buffers for a batch of n samples: the forward pass's, with `backward` the backward
        pass's too. The last WORKSPACES are kept (least recently used dropped), of which one
        forward-only (inference: validation reuses it every epoch, and a large `predict`
        holds no more than one set); a training workspace serves inference of its size."""
        dtype = np.dtype(dtype)
        keys = [(n, dtype.str, True)] + ([] if backward else [(n, dtype.str, False)])
        for key in keys:
            if key in self._workspaces:
                self._workspaces.move_to_end(key)
                return self._workspaces[key]
        if not backward:
            for key in [k for k in self._workspaces if not k[2]]:
                del self._workspaces[key]
        ws = self.forward_buffers(n, dtype)
        if backward:
            ws |= self.backward_buffers(n, dtype)
        self._workspaces[keys[-1]] = ws
        while len(self._workspaces) > WORKSPACES:
            self._workspaces.popitem(last=False)
        return ws

    # -- the public API -------------------------------------------------------------------

    def init_params(self, seed: int = 0, scheme: str | None = None, dtype=None) -> dict:
        """{"W1": (m1, m0), "b1": (m1,), ...}: W_l ~ N(0, s^2) with s the scheme's printed
        std (scheme None: DEFAULT_INIT), b_l = 0; dtype None: TRAINING's."""
        scheme = self.default_init if scheme is None else scheme
        dtype = np.dtype(self.training["dtype"] if dtype is None else dtype)
        rng = np.random.default_rng(seed)
        params = {}
        for l in range(1, len(self.widths)):
            fan_in, fan_out = self.widths[l - 1], self.widths[l]
            std = self.init_std[scheme](fan_in, fan_out)
            W = rng.standard_normal((fan_out, fan_in)) * std
            params[f"W{l}"] = W.astype(dtype)
            params[f"b{l}"] = np.zeros(fan_out, dtype)
        return params

    def coefficients(self, l1: float | None, l2: float | None) -> tuple[float, float]:
        """λ₁, λ₂ to train with: None means the spec's; a term the script was not derived
        with is refused (DataError)."""
        l1, l2 = self.l1 if l1 is None else l1, self.l2 if l2 is None else l2
        for name, given, derived in (("l1", l1, self.l1), ("l2", l2, self.l2)):
            if given and derived is None:
                what = f"generated without {name.upper()}; regenerate it with --{name}"
                raise DataError(f"this script was {what}")
        return l1 or 0.0, l2 or 0.0

    def _forward(self, params: dict, X, backward: bool):
        X = np.ascontiguousarray(X, dtype=params["W1"].dtype)
        ws = self.workspace(len(X), X.dtype, backward)
        return (*self.forward_pass(params, X, ws), ws)

    def forward(self, params: dict, X) -> list:
        """The activations [A0, ..., AL] of the samples (rows) of X, (N, m_l) each."""
        A, _, _ = self._forward(params, X, backward=False)
        return [a.copy() for a in A]

    def output_names(self) -> tuple:
        """The workspace names of the output layer's buffers the data loss reads, the one
        holding A_L first (Z_L for an identity output, whose A_L is Z_L)."""
        return self.output_rows

    def _outputs(self, params: dict, X):
        """(lo, hi, AL of the rows lo:hi of X), CHUNK rows at a time: inference in memory
        that does not grow with the number of samples."""
        X = np.asarray(X)
        for lo in range(0, max(len(X), 1), CHUNK):
            A, _, _ = self._forward(params, X[lo : lo + CHUNK], backward=False)
            yield lo, lo + len(A[-1]), A[-1]

    def predict(self, params: dict, X) -> np.ndarray:
        """The network's output AL, (N, mL)."""
        out = None
        for lo, hi, a in self._outputs(params, X):
            if out is None:
                out = np.empty((len(X), a.shape[1]), a.dtype)
            out[lo:hi] = a
        return out

    def loss(self, params: dict, X, Y, l1=None, l2=None) -> float:
        """The regularised risk R = (1/N) sum_n L(y_n, a_n) + Omega on this batch."""
        l1, l2 = self.coefficients(l1, l2)
        A, _, ws = self._forward(params, X, backward=False)
        Y = np.ascontiguousarray(Y, dtype=A[-1].dtype)
        return self._risk(params, ws, Y, l1, l2)

    def gradients(self, params: dict, X, Y, l1=None, l2=None, return_deltas=False):
        """(R, {"W1": dR/dW1, "b1": dR/db1, ...}) on this batch; with return_deltas also
        {"Delta1": (N, m1), ..., "DeltaL": (N, mL)}, the error terms of every layer."""
        l1, l2 = self.coefficients(l1, l2)
        A, Z, ws = self._forward(params, X, backward=True)
        Y = np.ascontiguousarray(Y, dtype=A[-1].dtype)
        grads, deltas = self.backward_pass(params, A, Z, Y, ws, 1.0)
        R = self._risk(params, ws, Y, l1, l2)
        grads = {k: g.copy() for k, g in grads.items()}
        self.penalty_gradient(params, grads, l1, l2)
        if return_deltas:  # kept times scale / N = 1 / N by the backward pass
            return R, grads, {k: d * len(Y) for k, d in deltas.items()}
        return R, grads

    def _risk(self, params, ws, Y, l1, l2) -> float:
        """R on a batch whose forward pass wrote into the workspace ws."""
        penalty = self.penalty(params, l1, l2)
        return self.risk(self.data_loss(ws, Y), len(Y), penalty)

    def count_errors(self, out: np.ndarray, Y: np.ndarray) -> float:
        """Summed over a batch: wrong classes, wrong labels / labels, or squared errors."""
        if self.task == "classification":
            return int(np.count_nonzero(out.argmax(1) != Y.argmax(1)))
        if self.task == "multilabel":
            return np.count_nonzero((out > 0.5) != (Y > 0.5)) / Y.shape[1]
        return float(np.sum((out - Y) ** 2))

    def error(self, params: dict, X, Y) -> float:
        """Classification: the error rate; multi-label: the fraction of wrong labels;
        regression: the mean squared error per sample."""
        Y, wrong = np.asarray(Y), 0
        for lo, hi, a in self._outputs(params, X):
            wrong += self.count_errors(a, Y[lo:hi])
        return wrong / len(Y)

    # -- what a NormNet (runtime/normalised.py) changes: bn/dropout networks -----------------

    def trainable(self) -> list:
        """The keys of params the optimiser updates and a gradient check differentiates."""
        return [f"{s}{l}" for l in range(1, len(self.widths)) for s in "Wb"]

    def for_training(self, rng):
        """The network train() steps (a NormNet draws its dropout masks from rng)."""
        return self

    def kink_signs(self, params: dict, X) -> list:
        """a > 0 of each kinked layer, in the pass the gradients are taken in: z > 0 exactly
        when a > 0 for these activations; a gradient check skips a step that changes it."""
        A = self.forward(params, X)
        return [A[l] > 0 for l in self.kink_layers]

    def kept(self, key: tuple, make: Callable):
        """make() the first time `key` is asked for: what train() builds for a run (its
        flat weights, its plan of bound steps, ~1 ms on a small network) kept for the next
        run of the same shape, as the workspaces are (the last WORKSPACES keys)."""
        if key not in self._kept:
            self._kept[key] = make()
            while len(self._kept) > WORKSPACES:
                self._kept.popitem(last=False)
        self._kept.move_to_end(key)
        return self._kept[key]

    def passes(self, params: dict, X, Y, ws: dict, scale: float) -> Callable:
        """run() -> grads: the forward and backward passes on the batch (X, Y) into the
        workspace ws, at `scale`, as train() repeats them on the same arrays: bound once
        (bound_passes, printed) when the script has it."""
        if self.bound_passes is not None:
            return self.bound_passes(params, X, Y, ws, scale)
        forward, backward = self.forward_pass, self.backward_pass

        def run():
            A, Z = forward(params, X, ws)
            return backward(params, A, Z, Y, ws, scale)[0]

        return run

    def clip(self, grads: dict, squares: dict, clip_value, clip_norm) -> None:
        """Clip every gradient in place: by value (clip_by_value), then by the global norm
        sqrt(sum |g|^2) (times norm_scale); `squares` holds each |g|^2. None/0: off."""
        if clip_value:
            for g in grads.values():
                self.clip_by_value(g, clip_value)
            squares = {k: float(np.vdot(g, g)) for k, g in grads.items()}
        if clip_norm:
            scale = self.norm_scale(math.sqrt(sum(squares.values())), clip_norm)
            if scale < 1:
                for g in grads.values():
                    g *= scale

    def optimizer(self, kind: str, params: dict, lr: float, l1=0.0, l2=0.0, fused=True):
        """(step, scale): the update `step(params, grads)` of optimiser `kind`, its state
        (only its own) allocated for `params`; `grads` may be used as scratch. With `fused`
        and an optimiser of FUSED, `grads` are the backward pass's at `scale` (lr) and step
        adds the penalty's gradient; otherwise scale is None: `grads` are the whole
        gradient (the backward pass's at scale 1 plus penalty_gradient)."""
        if fused and kind in self.fused:
            return self.fused[kind](params, lr, l1, l2)
        return self.optimizers[kind](params, lr), None

    def load_data(self, path, val_split=None, seed=None) -> dict:
        """{"X_train", "Y_train", ...} from a .npz or .csv (see read_data); None: TRAINING's."""
        val_split = self.training["val_split"] if val_split is None else val_split
        seed = self.training["seed"] if seed is None else seed
        outputs, task = self.widths[-1], self.task
        return read_data(
            path,
            inputs=self.widths[0],
            outputs=outputs,
            task=task,
            val_split=val_split,
            seed=seed,
        )

    def random_targets(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n targets of this network's kind: one-hot classes, 0/1 labels or normal reals."""
        m = self.widths[-1]
        if self.task == "classification":
            return np.eye(m)[rng.integers(0, m, n)]
        if self.task == "multilabel":
            return rng.integers(0, 2, (n, m)).astype(np.float64)
        return rng.standard_normal((n, m))
