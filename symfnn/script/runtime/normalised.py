"""The runtime of a script whose network has batch-normalised or dropout layers (issue 11).

A `NormNet` binds the passes codegen_bn printed from the derivation (training mode: batch
statistics and a dropout mask; evaluation mode: running statistics and no dropout) and gives
the script's API: init_params, forward, predict, loss, gradients, error, train, gradcheck,
load_data, main. It holds no formula of the network: every number of the passes comes from a
printed function; what is here is bookkeeping (masks, running statistics, batches, the loop).

Running statistics follow PyTorch's convention: after each training step,
    mean <- (1 - momentum) mean + momentum mu_B,
    var  <- (1 - momentum) var + momentum sigma2_B N / (N - 1)   (unbiased),
with momentum 0.1; they are kept in params as mean{l}, var{l} (not trained) and saved with
the weights.

Included verbatim in the scripts of such networks (codegen_bn); NumPy and the standard library
only.
"""

import argparse
import io
import math
import sys
import time
from pathlib import Path

import numpy as np

from .data import DataError, read_data, read_params
from .safeio import WriteError, write_file


class _Parser(argparse.ArgumentParser):
    """A bad option is one line on stderr and exit status 2, no usage block."""

    def error(self, message):
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


class NormNet:
    """The printed passes of one network with bn/dropout layers and the API built on them."""

    def __init__(
        self,
        *,
        widths,
        task,
        l1,
        l2,
        dropout,
        normalised,
        kink_layers,
        training,
        optimizer_lr,
        init_std,
        default_init,
        forward_pass,
        backward_pass,
        data_loss,
        penalty,
        risk,
        optimizers,
        momentum,
    ):
        self.widths, self.task, self.l1, self.l2 = tuple(widths), task, l1, l2
        self.dropout, self.normalised = dict(dropout), tuple(normalised)
        self.kink_layers, self.training = tuple(kink_layers), dict(training)
        self.optimizer_lr, self.init_std, self.default_init = optimizer_lr, init_std, default_init
        self.forward_pass, self.backward_pass = forward_pass, backward_pass
        self.data_loss, self.penalty, self.risk = data_loss, penalty, risk
        self.optimizers, self.momentum = optimizers, momentum

    # -- parameters ----------------------------------------------------------------------

    def trainable(self) -> list:
        """The keys the optimiser updates, in layer order (W, then gamma and beta, or b)."""
        keys = []
        for l in range(1, len(self.widths)):
            own = ("gamma", "beta") if l in self.normalised else ("b",)
            keys += [f"W{l}", *(f"{s}{l}" for s in own)]
        return keys

    def shapes(self) -> dict:
        """Every key of params (running statistics included) -> its shape."""
        out = {}
        for l in range(1, len(self.widths)):
            m, fan_in = self.widths[l], self.widths[l - 1]
            out[f"W{l}"] = (m, fan_in)
            own = ("gamma", "beta", "mean", "var") if l in self.normalised else ("b",)
            out |= {f"{s}{l}": (m,) for s in own}
        return out

    def init_params(self, seed=0, scheme=None, dtype=None) -> dict:
        """W_l ~ N(0, std^2) (INIT_STD[scheme]); b, beta = 0; gamma = 1; running mean 0, var 1."""
        rng = np.random.default_rng(seed)
        dtype = np.dtype(dtype or self.training["dtype"])
        std_of = self.init_std[scheme or self.default_init]
        params = {}
        for key, shape in self.shapes().items():
            if key.startswith("W"):
                std = std_of(shape[1], shape[0])
                params[key] = (rng.standard_normal(shape) * std).astype(dtype)
            elif key.startswith(("gamma", "var")):
                params[key] = np.ones(shape, dtype)
            else:
                params[key] = np.zeros(shape, dtype)
        return params

    def coefficients(self, l1, l2) -> tuple:
        for name, given, spec in (("l1", l1, self.l1), ("l2", l2, self.l2)):
            if given is not None and given != 0 and spec is None:
                raise ValueError(f"{name}: the derivation has no such term")
        l1 = (self.l1 or 0.0) if l1 is None else l1
        l2 = (self.l2 or 0.0) if l2 is None else l2
        return l1, l2

    # -- masks and passes ------------------------------------------------------------------

    def masks(self, n: int, seed=0, dtype=np.float64) -> dict:
        """Dropout masks for a batch of n: 1 (kept) with probability 1 - q, else 0.

        `seed` is an int or a np.random.Generator (training draws a fresh mask per step)."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        return {
            f"Mask{l}": (rng.random((n, self.widths[l])) >= q).astype(dtype)
            for l, q in sorted(self.dropout.items())
        }

    def _train_pass(self, params, X, masks, seed):
        if masks is None:
            masks = self.masks(len(X), seed, X.dtype)
        with np.errstate(over="ignore", under="ignore"):
            return self.forward_pass(params, X, masks, True), masks

    def forward(self, params, X, train=False, masks=None, seed=0) -> list:
        """[A0, ..., AL]: evaluation mode by default; `train`: batch statistics and masks."""
        if train:
            out, _ = self._train_pass(params, X, masks, seed)
        else:
            with np.errstate(over="ignore", under="ignore"):
                out = self.forward_pass(params, X, {}, False)
        return [out[f"A{l}"] for l in range(len(self.widths))]

    def predict(self, params, X) -> np.ndarray:
        """The outputs in evaluation mode: running statistics, no dropout."""
        return self.forward(params, X)[-1]

    def loss(self, params, X, Y, l1=None, l2=None, masks=None, seed=0) -> float:
        """The regularised risk R of the batch in training mode (batch statistics, the masks
        given or drawn from `seed`): the function `gradients` differentiates."""
        l1, l2 = self.coefficients(l1, l2)
        out, _ = self._train_pass(params, X, masks, seed)
        return self.risk(self.data_loss(out, Y), len(X), self.penalty(params, l1, l2))

    def gradients(self, params, X, Y, l1=None, l2=None, masks=None, seed=0, return_deltas=False):
        """(R, grads[, deltas]) in training mode; the masks given or drawn from `seed`, so
        the same arguments give the same numbers (a gradient check can rely on it)."""
        l1, l2 = self.coefficients(l1, l2)
        out, masks = self._train_pass(params, X, masks, seed)
        R = self.risk(self.data_loss(out, Y), len(X), self.penalty(params, l1, l2))
        with np.errstate(over="ignore", under="ignore"):
            grads, deltas = self.backward_pass(params, out, Y, l1, l2)
        return (R, grads, deltas) if return_deltas else (R, grads)

    def update_statistics(self, params, out, n: int) -> None:
        """PyTorch's running estimates, from one training batch of n samples."""
        m = self.momentum
        for l in self.normalised:
            params[f"mean{l}"] *= 1 - m
            params[f"mean{l}"] += m * out[f"mu{l}"]
            params[f"var{l}"] *= 1 - m
            params[f"var{l}"] += m * out[f"sigma2_{l}"] * (n / max(n - 1, 1))

    def count_errors(self, out, Y) -> float:
        if self.task == "classification":
            return float(np.sum(np.argmax(out, axis=1) != np.argmax(Y, axis=1)))
        if self.task == "multilabel":
            return float(np.sum(np.any((out > 0.5) != (Y > 0.5), axis=1)))
        return float(np.sum((out - Y) ** 2))

    def error(self, params, X, Y) -> float:
        """Error rate / wrong-label fraction / squared error per sample, in evaluation mode."""
        return self.count_errors(self.predict(params, X), Y) / len(X)

    # -- training --------------------------------------------------------------------------

    def train(
        self,
        params,
        data,
        *,
        epochs=None,
        batch_size=None,
        lr=None,
        optimizer=None,
        l1=None,
        l2=None,
        patience=None,
        seed=None,
        callback=None,
        log=print,
    ) -> dict:
        """Mini-batch training in training mode; params updated in place, ending as the best
        seen by validation error (running statistics included)."""
        hp = self.training
        epochs = hp["epochs"] if epochs is None else epochs
        batch_size = hp["batch_size"] if batch_size is None else batch_size
        optimizer = optimizer or hp["optimizer"]
        lr = lr if lr is not None else (hp["lr"] or self.optimizer_lr[optimizer])
        patience = hp["patience"] if patience is None else patience
        seed = hp["seed"] if seed is None else seed
        l1, l2 = self.coefficients(l1, l2)
        rng = np.random.default_rng(seed)
        X, Y = data["X_train"], data["Y_train"]
        keys = self.trainable()
        step = self.optimizers[optimizer]({k: params[k] for k in keys}, lr)
        history = {"loss": [], "train_error": [], "val_error": [], "time": []}
        best, best_error, waited = None, math.inf, 0
        history["best_epoch"], history["stopped"] = 0, False
        for epoch in range(1, epochs + 1):
            start, total, wrong = time.perf_counter(), 0.0, 0.0
            order = rng.permutation(len(X))
            for i in range(0, len(X), batch_size):
                rows = order[i : i + batch_size]
                if len(rows) < 2 and self.normalised:
                    continue  # a batch of one has no variance to normalise by
                Xb, Yb = X[rows], Y[rows]
                masks = self.masks(len(rows), rng, X.dtype)
                out, _ = self._train_pass(params, Xb, masks, None)
                total += self.data_loss(out, Yb)
                wrong += self.count_errors(out[f"A{len(self.widths) - 1}"], Yb)
                with np.errstate(over="ignore", under="ignore"):
                    grads, _ = self.backward_pass(params, out, Yb, l1, l2)
                self.update_statistics(params, out, len(rows))
                step({k: params[k] for k in keys}, grads)
            history["loss"].append(total / len(X))
            history["train_error"].append(wrong / len(X))
            val = self.error(params, data["X_val"], data["Y_val"]) if "X_val" in data else None
            history["val_error"].append(val)
            history["time"].append(time.perf_counter() - start)
            log(
                f"epoch {epoch}: loss {total / len(X):.4f}, train error {wrong / len(X):.4f}"
                + ("" if val is None else f", val error {val:.4f}")
            )
            if val is not None and val < best_error:
                best_error, waited, history["best_epoch"] = val, 0, epoch
                best = {k: v.copy() for k, v in params.items()}
            elif val is not None:
                waited += 1
            if callback is not None and callback(epoch, params, history):
                history["stopped"] = True
                break
            if patience and waited >= patience:
                history["stopped"] = True
                break
        if best is not None:
            for k, v in best.items():
                params[k][...] = v
        return history

    # -- gradient check ------------------------------------------------------------------

    def gradcheck(self, params=None, X=None, Y=None, seed=0, coords=6) -> tuple:
        """Central differences of the training-mode risk, the whole batch at once and the
        dropout masks fixed, against `gradients`, in float64. Returns (ok, lines)."""
        rng = np.random.default_rng(seed)
        if params is None:
            params = self.init_params(seed, dtype=np.float64)
        params = {k: np.asarray(v, np.float64).copy() for k, v in params.items()}
        if X is None:
            X = rng.standard_normal((5, self.widths[0]))
        if Y is None:
            m = self.widths[-1]
            if self.task == "classification":
                Y = np.eye(m)[rng.integers(0, m, len(X))]
            elif self.task == "multilabel":
                Y = (rng.random((len(X), m)) < 0.5).astype(float)
            else:
                Y = rng.standard_normal((len(X), m))
        masks = self.masks(len(X), rng)
        _, grads = self.gradients(params, X, Y, masks=masks)
        ok, lines, h = True, [], 1e-6
        for key in self.trainable():
            p = params[key]
            for i in rng.choice(p.size, min(coords, p.size), replace=False):
                old = p.flat[i]
                p.flat[i] = old + h
                up = self.loss(params, X, Y, masks=masks)
                p.flat[i] = old - h
                down = self.loss(params, X, Y, masks=masks)
                p.flat[i] = old
                fd, g = (up - down) / (2 * h), grads[key].flat[i]
                rel = abs(fd - g) / max(abs(fd) + abs(g), 1e-8)
                good = rel < 1e-5
                ok &= bool(good)
                idx = [int(j) for j in np.unravel_index(i, p.shape)]
                lines.append(
                    f"{key}{idx}: backprop {g:+.10e}  finite diff {fd:+.10e}"
                    f"  rel {rel:.1e}  {'ok' if good else 'WRONG'}"
                )
        lines.append("PASSED" if ok else "FAILED")
        return ok, lines

    # -- data and command line -----------------------------------------------------------

    def load_data(self, path, val_split=None, seed=None) -> dict:
        hp = self.training
        data = read_data(
            path,
            inputs=self.widths[0],
            outputs=self.widths[-1],
            task=self.task,
            val_split=hp["val_split"] if val_split is None else val_split,
            seed=hp["seed"] if seed is None else seed,
        )
        dtype = np.dtype(hp["dtype"])
        return {k: np.asarray(v, dtype) for k, v in data.items()}

    def main(self, description: str, argv=None) -> int:
        """python train.py --data d.npz [--epochs E] [--save w.npz] [--load w.npz] ..."""
        parser = _Parser(description=description)
        hp = self.training
        parser.add_argument("--data", help="an .npz with X_train, y_train [, X_test, y_test]")
        parser.add_argument("--epochs", type=int, default=hp["epochs"])
        parser.add_argument("--batch-size", type=int, default=hp["batch_size"])
        parser.add_argument("--lr", type=float, default=hp["lr"])
        parser.add_argument("--optimizer", choices=sorted(self.optimizers), default=hp["optimizer"])
        parser.add_argument("--seed", type=int, default=hp["seed"])
        parser.add_argument("--l1", type=float, default=None)
        parser.add_argument("--l2", type=float, default=None)
        parser.add_argument("--load", help="start from weights and running statistics")
        parser.add_argument("--save", help="write weights and running statistics (.npz)")
        parser.add_argument("--force", action="store_true", help="overwrite --save's file")
        parser.add_argument("--gradcheck", action="store_true", help="check the gradients")
        args = parser.parse_args(argv)
        try:
            if args.gradcheck:
                ok, lines = self.gradcheck(seed=args.seed)
                print("\n".join(lines))
                return 0 if ok else 1
            if not args.data:
                raise DataError("--data is required (or --gradcheck)")
            if args.epochs < 0 or args.batch_size < 1:
                raise DataError("--epochs must be >= 0 and --batch-size >= 1")
            if args.save and Path(args.save).exists() and not args.force:
                raise DataError(f"{args.save} exists (use --force to overwrite)")
            data = self.load_data(args.data, seed=args.seed)
            dtype = np.dtype(hp["dtype"])
            if args.load:
                params = read_params(args.load, self.shapes(), dtype)
            else:
                params = self.init_params(args.seed, dtype=dtype)
            if args.epochs:
                self.train(
                    params,
                    data,
                    epochs=args.epochs,
                    batch_size=args.batch_size,
                    lr=args.lr,
                    optimizer=args.optimizer,
                    l1=args.l1,
                    l2=args.l2,
                    seed=args.seed,
                )
            for part in ("val", "test"):
                if f"X_{part}" in data:
                    err = self.error(params, data[f"X_{part}"], data[f"Y_{part}"])
                    name = "accuracy" if self.task == "classification" else "error"
                    value = 1 - err if self.task == "classification" else err
                    print(f"{part} {name}: {value:.4f}")
            if args.save:
                buffer = io.BytesIO()
                np.savez(buffer, **params)
                write_file(args.save, buffer.getvalue(), args.force)
        except (DataError, WriteError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
