"""Training speed of generated scripts at 1 thread, beside the time of their matrix products.

    python benchmarks/train_speed.py [--steps 200] [--dtype float32]

For each network, one training step is what the script's `train` does per mini-batch:
forward, backward, the batch loss and error count, the gradient norms and an SGD update
(the script's own functions, called in the same order). The "matmul only" column times just the step's
matrix products (forward A @ W.T, backward Delta @ W and Delta.T @ A) into preallocated
arrays: the limit a NumPy implementation can reach. The last column is the fraction of
that limit reached (DESIGN.md: a careful step reaches 89-97% on the larger networks).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy loads its BLAS

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # a checkout, not installed
from symfnn import codegen
from symfnn.derive import derive
from symfnn.spec import parse

CASES = [
    ("64-32:sigmoid-10:softmax", 32),
    ("784-256:relu-256:relu-10:softmax", 128),
    ("784-1024:relu-1024:relu-10:softmax", 256),
]


def _best(fn, steps: int, repeats: int = 3) -> float:
    """Seconds per step, best of `repeats` runs of `steps` steps."""
    fn(max(steps // 10, 2))  # warm up: buffers, page faults, BLAS
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn(steps)
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def train_step_time(module, batch: int, steps: int, dtype) -> float:
    rng = np.random.default_rng(0)
    widths = module.WIDTHS
    params = module.init_params(0, "he", dtype)
    X = rng.standard_normal((batch * 8, widths[0])).astype(dtype)
    Y = np.eye(widths[-1], dtype=dtype)[rng.integers(0, widths[-1], len(X))]
    opt = module._Optimizer(params, "sgd", 0.01)

    def run(k):
        for s in range(k):
            lo = (s % 8) * batch
            xb, yb = X[lo : lo + batch], Y[lo : lo + batch]
            ws = module._workspace(params, batch)
            A, Z = module._forward(params, xb, ws)
            grads, _ = module._backward(params, A, Z, yb, ws, 0.0, 0.0)
            module._data_loss(Z[-1], A[-1], yb)
            module._errors(A[-1], yb)
            squares = {k: float(np.vdot(g, g)) for k, g in grads.items()}
            module._clip(grads, squares, None, None)
            opt.step(params, grads)

    return _best(run, steps)


def matmul_time(widths, batch: int, steps: int, dtype) -> float:
    rng = np.random.default_rng(0)
    L = len(widths) - 1
    W = [rng.standard_normal((widths[l], widths[l - 1])).astype(dtype) for l in range(1, L + 1)]
    A = [rng.standard_normal((batch, w)).astype(dtype) for w in widths]
    D = [np.empty((batch, w), dtype) for w in widths]
    dW = [np.empty_like(w) for w in W]

    def run(k):
        for _ in range(k):
            for l in range(1, L + 1):
                np.matmul(A[l - 1], W[l - 1].T, out=A[l])
            for l in range(L, 0, -1):
                if l > 1:
                    np.matmul(A[l], W[l - 1], out=D[l - 1])
                np.matmul(A[l].T, A[l - 1], out=dW[l - 1])

    return _best(run, steps)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    args = parser.parse_args(argv)
    dtype = np.dtype(args.dtype)
    print(f"1 thread, {args.dtype}, NumPy {np.__version__}; best of 3 x {args.steps} steps")
    head = f"{'network':38} {'batch':>5} {'samples/s':>11} {'matmul only':>12} {'fraction':>9}"
    print(head)
    print("-" * len(head))
    for text, batch in CASES:
        module = codegen.load(derive(parse(text)))
        step = train_step_time(module, batch, args.steps, dtype)
        limit = matmul_time(module.WIDTHS, batch, args.steps, dtype)
        print(
            f"{text:38} {batch:5d} {batch / step:11,.0f} {batch / limit:12,.0f} {limit / step:9.0%}"
        )


if __name__ == "__main__":
    main()
