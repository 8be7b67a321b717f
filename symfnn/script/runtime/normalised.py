"""A network with batch-normalised or dropout layers (issue 11): `Network` with two modes.

codegen printed this network's passes from symfnn.engine.batchnorm's mini-batch forms:
`_forward(params, X, masks, train)` (training mode: the batch's mean and variance and the
dropout masks; evaluation: the running mean and variance, no dropout) returns every array by
name, and `_backward(params, out, Y)` the data term's gradients of a training-mode pass;
train()'s step is `_passes`, the same training-mode statements (and those of
`_running_statistics`) lowered into the buffers of a workspace (`_step_buffers`) and bound
once. A `NormNet` is the plain `Network` around them: the same training loop
(runtime/loop.py), command line and gradient check run it. What is its own is only
bookkeeping:
- the masks: 1 (kept) with probability 1 - q, drawn per step from train()'s seeded
  generator (`for_training`) into the step's buffers, or given, or drawn from `seed` (the
  API's `masks=`, `seed=`);
- the running statistics, kept in params as mean{l}, var{l} (not trained; saved, loaded and
  restored with the weights): each training step updates them after its forward pass (as
  PyTorch's training mode does) by the printed update of batchnorm.RUNNING.

Included verbatim, after runtime/network.py, in the scripts of such networks only
(codegen_bn.RUNTIME); NumPy and the standard library only.
"""

import numpy as np

from .network import Network


class NormNet(Network):
    """`Network` whose printed passes take a mode and masks; the API adds `train`, `masks`
    and `seed` to forward/loss/gradients, and `masks(n, seed)`, `trainable()`."""

    def __init__(
        self,
        *,
        forward_pass,
        backward_pass,
        dropout,
        normalised,
        step_buffers,
        bound_passes,
        **network,
    ):
        super().__init__(
            forward_pass=forward_pass,
            backward_pass=backward_pass,
            backward_buffers=step_buffers,
            bound_passes=bound_passes,
            **network,
        )
        self.norm_forward, self.norm_backward = forward_pass, backward_pass
        self.dropout, self.normalised = dict(dropout), tuple(normalised)
        self._rng = np.random.default_rng(0)

    # -- parameters -----------------------------------------------------------------------

    def trainable(self) -> list:
        """The keys the optimiser updates, layer by layer: W, then gamma and beta, or b."""
        keys = []
        for l in range(1, len(self.widths)):
            own = ("gamma", "beta") if l in self.normalised else ("b",)
            keys += [f"W{l}", *(f"{s}{l}" for s in own)]
        return keys

    def init_params(self, seed: int = 0, scheme: str | None = None, dtype=None) -> dict:
        """Network.init_params's W (and b); a normalised layer has gamma = 1, beta = 0 in
        place of b, and its running mean 0 and variance 1 (PyTorch's start)."""
        plain = super().init_params(seed, scheme, dtype)
        params = {}
        for l in range(1, len(self.widths)):
            W = plain[f"W{l}"]
            params[f"W{l}"] = W
            if l in self.normalised:
                ones, zeros = np.ones(len(W), W.dtype), np.zeros(len(W), W.dtype)
                params |= {f"gamma{l}": ones, f"beta{l}": zeros.copy()}
                params |= {f"mean{l}": zeros, f"var{l}": ones.copy()}
            else:
                params[f"b{l}"] = plain[f"b{l}"]
        return params

    def optimizer(self, kind: str, params: dict, lr: float, l1=0.0, l2=0.0, fused=True):
        """Network.optimizer for the trainable keys only (the running statistics have no
        gradient): its fused step on train()'s two flat arrays (loop._flat: every W_l, and
        every other trained array, unpenalised as a fused step's biases: b_l, gamma_l,
        beta_l), else its plain step, state and updates."""
        flat = set(params) == {"W", "b"}  # all trained
        if flat:
            return super().optimizer(kind, params, lr, l1, l2, fused)
        # the same arrays as params: the step updates them in place
        trained = {k: params[k] for k in self.trainable()}
        update = self.optimizers[kind](trained, lr)
        return (lambda params, grads: update(trained, grads)), None

    # -- masks and the two modes -------------------------------------------------------------

    def masks(self, n: int, seed=0, dtype=np.float64) -> dict:
        """{"Mask{l}": (n, m_l)} of 0 and 1, 1 with probability 1 - q_l; `seed` an int or a
        np.random.Generator."""
        rng = seed
        if not isinstance(seed, np.random.Generator):
            rng = np.random.default_rng(seed)
        return {
            f"Mask{l}": (rng.random((n, self.widths[l])) >= q).astype(dtype)
            for l, q in sorted(self.dropout.items())
        }

    def _train_pass(self, params, X, masks, seed) -> dict:
        X = np.asarray(X, dtype=params["W1"].dtype)
        if masks is None:
            masks = self.masks(len(X), seed, X.dtype)
        with np.errstate(over="ignore", under="ignore"):
            return self.norm_forward(params, X, masks, True)

    def _forward(self, params: dict, X, backward: bool = False):
        """Evaluation mode (predict, error): running statistics, no dropout."""
        X = np.ascontiguousarray(X, dtype=params["W1"].dtype)
        with np.errstate(over="ignore", under="ignore"):
            out = self.norm_forward(params, X, {}, False)
        return self._layers(out) + (out,)

    def _layers(self, out: dict) -> tuple:
        L = len(self.widths) - 1
        A = [out[f"A{l}"] for l in range(L + 1)]
        return A, [out[f"Z{l}"] for l in range(1, L + 1)]

    def forward(self, params: dict, X, train=False, masks=None, seed=0) -> list:
        """[A0, ..., AL]: evaluation mode, or with `train` training mode (the batch's
        statistics, the masks given or drawn from `seed`)."""
        if not train:
            return super().forward(params, X)
        A, _ = self._layers(self._train_pass(params, X, masks, seed))
        return [a.copy() for a in A]

    def loss(self, params: dict, X, Y, l1=None, l2=None, masks=None, seed=0) -> float:
        """The regularised risk R of the batch in training mode (the function `gradients`
        differentiates; the masks given or drawn from `seed`)."""
        l1, l2 = self.coefficients(l1, l2)
        out = self._train_pass(params, X, masks, seed)
        return self.risk(self.data_loss(out, Y), len(Y), self.penalty(params, l1, l2))

    def gradients(
        self,
        params: dict,
        X,
        Y,
        l1=None,
        l2=None,
        masks=None,
        seed=0,
        return_deltas=False,
    ):
        """(R, grads[, deltas]) in training mode, grads of the trainable keys; the masks
        given or drawn from `seed`, so the same arguments give the same numbers."""
        l1, l2 = self.coefficients(l1, l2)
        out = self._train_pass(params, X, masks, seed)
        Y = np.asarray(Y, dtype=out["A0"].dtype)
        R = self.risk(self.data_loss(out, Y), len(Y), self.penalty(params, l1, l2))
        with np.errstate(over="ignore", under="ignore"):
            grads, deltas = self.norm_backward(params, out, Y)
        self.penalty_gradient(params, grads, l1, l2)
        return (R, grads, deltas) if return_deltas else (R, grads)

    def kink_signs(self, params: dict, X) -> list:
        """Network.kink_signs of the training-mode pass (masks of seed 0, as the check's
        loss and gradients draw them)."""
        A = self.forward(params, X, train=True)
        return [A[l] > 0 for l in self.kink_layers]

    # -- train()'s steps ---------------------------------------------------------------------

    def for_training(self, rng):
        """This network with train()'s generator for its dropout masks."""
        self._rng = rng
        return self

    def passes(self, params, X, Y, ws: dict, scale: float):
        """run() -> grads: a training step on the batch (X, Y) into the workspace ws, bound
        once (the printed _passes): fresh masks drawn into ws's buffers from train()'s
        generator, the forward pass, the running statistics' update, the backward pass (the
        gradients times `scale`)."""
        running = self.updates_statistics(len(X))
        bound = self.bound_passes(params, X, Y, ws, scale, running)
        dropped = sorted(self.dropout.items())
        draws = [(ws[f"uniform{l}"], q, ws[f"Mask{l}"]) for l, q in dropped]
        greater_equal = np.greater_equal
        if not draws:
            return bound

        def run():
            random = self._rng.random  # train()'s generator of this run (for_training)
            for uniform, q, mask in draws:  # as masks(): 1 where a draw is >= q
                random(out=uniform)
                greater_equal(uniform, q, out=mask)
            return bound()

        return run

    def updates_statistics(self, n: int) -> bool:
        """Whether a training batch of n samples updates the running estimates (a batch of
        one has no variance to estimate: they are left as they are)."""
        return n >= 2
