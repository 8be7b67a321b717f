"""The best plain-NumPy training loop we can write by hand: the benchmark's yardstick.

ReLU hidden layers, a softmax output with cross-entropy, plain SGD with L2 (λ/2‖W‖²),
samples as rows, W_l of shape (m_l, m_{l-1}) as in the article. What makes it fast:
every array preallocated and written with `out=`; the batch gathered with
`np.take(..., mode="clip", out=...)` (the default mode buffers a whole temporary);
ReLU as `np.maximum(Z, zeros, out=A)` (a scalar 0 is several times slower per call);
the softmax's row max and sum as ufunc reductions (`np.max`/`np.sum` add a Python
wrapper each: ~1 us a call); every attribute and NumPy function a local in the step;
the learning rate and 1/B folded into the output error, so that dW already is α ∂R/∂W
and the update is one decay multiply and one subtraction; the bias gradient as a
ones-GEMV. It computes no loss and no metrics: a bare step.
"""

from __future__ import annotations

import numpy as np


class HandTuned:
    """SGD on a ReLU/softmax network; `params` ("W1", "b1", ...) are updated in place."""

    def __init__(self, params: dict, batch: int, lr: float, l2: float):
        self.L = len(params) // 2
        self.W = [params[f"W{l}"] for l in range(1, self.L + 1)]
        self.b = [params[f"b{l}"] for l in range(1, self.L + 1)]
        dtype = self.W[0].dtype
        widths = [self.W[0].shape[1]] + [w.shape[0] for w in self.W]
        self.lr, self.decay = lr, 1 - lr * l2
        self.X = np.empty((batch, widths[0]), dtype)
        self.Y = np.empty((batch, widths[-1]), dtype)
        self.A = [self.X] + [np.empty((batch, m), dtype) for m in widths[1:]]
        self.D = [None] + [np.empty((batch, m), dtype) for m in widths[1:]]
        self.zeros = [None] + [np.zeros((batch, m), dtype) for m in widths[1:]]
        self.mask = [None] + [np.empty((batch, m), bool) for m in widths[1:]]
        self.dW = [np.empty_like(w) for w in self.W]
        self.db = [np.empty_like(b) for b in self.b]
        self.ones = np.ones(batch, dtype)
        self.rowmax = np.empty((batch, 1), dtype)
        self.rowsum = np.empty((batch, 1), dtype)

    def step(self, Xs, Ys, idx) -> None:
        """One SGD step on the rows `idx` of the training set (Xs, Ys)."""
        # every attribute and NumPy function a local: each look-up costs on a small net
        A, D, W, b, zeros, mask = self.A, self.D, self.W, self.b, self.zeros, self.mask
        dW, db, ones, decay, L = self.dW, self.db, self.ones, self.decay, self.L
        matmul, maximum, greater, take = np.matmul, np.maximum, np.greater, np.take
        take(Xs, idx, axis=0, out=self.X, mode="clip")
        take(Ys, idx, axis=0, out=self.Y, mode="clip")
        for l in range(1, L + 1):
            Z = A[l]  # Z and A share a buffer: ReLU and softmax work in place
            matmul(A[l - 1], W[l - 1].T, out=Z)
            Z += b[l - 1]
            if l < L:
                maximum(Z, zeros[l], out=Z)
        out = A[L]
        np.maximum.reduce(out, axis=1, keepdims=True, out=self.rowmax)
        out -= self.rowmax
        np.exp(out, out=out)
        np.add.reduce(out, axis=1, keepdims=True, out=self.rowsum)
        out /= self.rowsum
        np.subtract(out, self.Y, out=D[L])
        D[L] *= self.lr / len(out)  # α/B folded in: dW below is α ∂R/∂W (without λW)
        for l in range(L, 0, -1):
            matmul(D[l].T, A[l - 1], out=dW[l - 1])
            matmul(ones, D[l], out=db[l - 1])
            if l > 1:
                matmul(D[l], W[l - 1], out=D[l - 1])
                greater(A[l - 1], 0, out=mask[l - 1])
                D[l - 1] *= mask[l - 1]
            W[l - 1] *= decay
            W[l - 1] -= dW[l - 1]
            b[l - 1] -= db[l - 1]

    def epoch(self, Xs, Ys, order, batch: int) -> None:
        """One pass over the training set in the given order (full batches only)."""
        for lo in range(0, len(order) - batch + 1, batch):
            self.step(Xs, Ys, order[lo : lo + batch])
