"""Training speed, side by side in one run: the generated script against hand-tuned NumPy.

    python benchmarks/train_speed.py [--rounds 5] [--dtype float32 float64] [--quick]

For each network (ReLU hidden layers, softmax output, plain SGD, L2 1e-4, 1 thread) one
round times, in turn and on the same weights and data:
- "GEMM only": just the step's matrix products into preallocated arrays, the limit any
  NumPy implementation can reach;
- "hand-tuned": `benchmarks/handtuned.py`, the best plain NumPy loop we can write;
- "bare step": the generated script's printed passes (bound once) and fused update on
  gathered batches, no bookkeeping (train() runs these, its weights as two arrays);
- "train()": the generated script's own `train()` for one epoch, as a user calls it;
- scikit-learn's MLPClassifier and PyTorch eager when installed.
Rounds are interleaved so that a noisy neighbour slows every contender alike; the table
gives medians of the per-round ratios to the hand-tuned loop, by wall time and by CPU time
(the machines are shared: CPU/wall below 1 means the process waited). Before timing, the
generated `train()`, its bare step and the hand-tuned loop must end with equal parameters
(to rounding) from the same weights and batches. A last line measures the peak memory of
`predict` on 10,000 samples of the medium network, in a fresh process.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy loads its BLAS

import argparse
import itertools
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # a checkout, not installed
sys.path.insert(0, str(Path(__file__).resolve().parent))
from handtuned import HandTuned

from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.script import codegen

L2, LR = 1e-4, 0.01
# (spec, batch size, steps per round): a round takes a few tenths of a second
CASES = [
    ("64-32:relu-10:softmax", 32, 2048),
    ("784-256:relu-256:relu-10:softmax", 128, 128),
    ("784-1024:relu-1024:relu-10:softmax", 256, 16),
]


def _clock(fn) -> tuple[float, float]:
    """(wall, CPU) seconds of fn()."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _problem(widths, n: int, dtype):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, widths[0])).astype(dtype)
    labels = rng.integers(0, widths[-1], n)
    return X, np.eye(widths[-1], dtype=dtype)[labels], labels


def _copy(params: dict) -> dict:
    return {k: v.copy() for k, v in params.items()}


def generated(module, params0, data, batch: int, seed: int) -> dict:
    params = _copy(params0)
    module.train(
        params, data, epochs=1, batch_size=batch, lr=LR, optimizer="sgd", l2=L2,
        patience=0, seed=seed, log=lambda *a, **k: None,
    )  # fmt: skip
    return params


def bare(module, params0, X, Y, batch: int, seed: int) -> dict:
    """The generated step alone: gather, the printed passes bound once (net.passes: forward,
    backward at the optimiser's scale), the printed fused update on params' own arrays."""
    params, net = _copy(params0), module.NET
    step, scale = net.optimizer("sgd", params, LR, 0.0, L2)
    ws = net.workspace(batch, X.dtype)
    xb, yb = np.empty((batch, X.shape[1]), X.dtype), np.empty((batch, Y.shape[1]), Y.dtype)
    run = net.passes(params, xb, yb, ws, scale)
    order = np.random.default_rng(seed).permutation(len(X))
    for lo in range(0, len(order) - batch + 1, batch):
        X.take(order[lo : lo + batch], 0, xb, "clip")
        Y.take(order[lo : lo + batch], 0, yb, "clip")
        step(params, run())
    return params


def handtuned(params0, X, Y, batch: int, seed: int) -> dict:
    params = _copy(params0)
    order = np.random.default_rng(seed).permutation(len(X))  # train()'s shuffle
    HandTuned(params, batch, LR, L2).epoch(X, Y, order, batch)
    return params


def gemm_only(widths, batch: int, steps: int, dtype):
    """The step's matrix products alone, for `steps` steps."""
    rng = np.random.default_rng(0)
    L = len(widths) - 1
    W = [rng.standard_normal((widths[l], widths[l - 1])).astype(dtype) for l in range(1, L + 1)]
    A = [rng.standard_normal((batch, w)).astype(dtype) for w in widths]
    D = [np.empty((batch, w), dtype) for w in widths]
    dW = [np.empty_like(w) for w in W]

    def run():
        for _ in range(steps):
            for l in range(1, L + 1):
                np.matmul(A[l - 1], W[l - 1].T, out=A[l])
            for l in range(L, 0, -1):
                if l > 1:
                    np.matmul(A[l], W[l - 1], out=D[l - 1])
                np.matmul(A[l].T, A[l - 1], out=dW[l - 1])

    return run


def peers(widths, X, labels, batch: int):
    """name -> a one-epoch run of each peer that is installed."""
    runs = {}
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        pass
    else:

        def sklearn_epoch():
            net = MLPClassifier(
                hidden_layer_sizes=widths[1:-1], solver="sgd", alpha=L2, batch_size=batch,
                learning_rate_init=LR, momentum=0.0, max_iter=1, random_state=0,
            )  # fmt: skip
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                net.fit(X, labels)

        runs["sklearn"] = sklearn_epoch
    try:
        import torch
    except ImportError:
        pass
    else:
        torch.set_num_threads(1)
        layers = []
        for m_in, m_out in itertools.pairwise(widths[:-1]):
            layers += [torch.nn.Linear(m_in, m_out), torch.nn.ReLU()]
        net = torch.nn.Sequential(*layers, torch.nn.Linear(widths[-2], widths[-1]))
        net = net.to(torch.float32 if X.dtype == np.float32 else torch.float64)
        opt = torch.optim.SGD(net.parameters(), lr=LR, weight_decay=L2)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(labels)

        def torch_epoch():
            order = torch.randperm(len(Xt))
            for lo in range(0, len(Xt) - batch + 1, batch):
                idx = order[lo : lo + batch]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(Xt[idx]), yt[idx]).backward()
                opt.step()

        runs["torch"] = torch_epoch
    return runs


def bench(text: str, batch: int, steps: int, dtype, rounds: int) -> dict:
    module = codegen.load(derive(parse(text, l2=L2)))
    widths = module.WIDTHS
    X, Y, labels = _problem(widths, batch * steps, dtype)
    data = {"X_train": X, "Y_train": Y}
    params0 = module.init_params(0, "he", dtype)
    # equal parameters from equal weights and batches, or the comparison means nothing
    theirs = handtuned(params0, X, Y, batch, 0)
    worst = 0.0
    for ours in (generated(module, params0, data, batch, 0), bare(module, params0, X, Y, batch, 0)):
        worst = max(worst, *(float(np.max(np.abs(ours[k] - theirs[k]))) for k in ours))
    tolerance = 1e-3 if dtype == np.float32 else 1e-9
    if worst > tolerance:
        raise SystemExit(
            f"{text}: the generated step and the hand-tuned loop differ by {worst:.2e}"
        )
    contenders = {
        "gemm": gemm_only(widths, batch, steps, dtype),
        "hand": lambda: handtuned(params0, X, Y, batch, 1),
        "bare": lambda: bare(module, params0, X, Y, batch, 1),
        "train": lambda: generated(module, params0, data, batch, 1),
        **peers(widths, X, labels, batch),
    }
    times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            times[name].append(_clock(run))
    n = batch * steps
    hand = times["hand"]
    row = {"net": text, "batch": batch, "dtype": np.dtype(dtype).name, "agree": worst}
    for name, clocks in times.items():
        walls = [wall for wall, _ in clocks]
        row[name] = {
            "samples/s": n / statistics.median(walls),
            "cpu samples/s": n / statistics.median(c for _, c in clocks),
            "cpu/wall": statistics.median(c / w for w, c in clocks),
            "x hand": statistics.median(h[0] / w[0] for h, w in zip(hand, clocks)),
            "x hand cpu": statistics.median(h[1] / w[1] for h, w in zip(hand, clocks)),
            # the spread of the per-round CPU ratios: is a median of 1.01 more than noise?
            "quartiles": _quartiles([h[1] / w[1] for h, w in zip(hand, clocks)]),
        }
    return row


def _quartiles(values: list[float]) -> tuple[float, float]:
    """The first and third quartiles (the median of each half; the middle value in both)."""
    ordered, half = sorted(values), (len(values) + 1) // 2
    return statistics.median(ordered[:half]), statistics.median(ordered[-half:])


def table(rows: list[dict]) -> str:
    """Throughput of the limit and the hand-tuned loop; the others as ×hand (wall / CPU)."""
    names = [k for k in rows[0] if isinstance(rows[0][k], dict) and k not in ("gemm", "hand")]
    head = (
        "| net (batch) | dtype | GEMM only | hand-tuned (% of GEMM) | "
        + " | ".join(names)
        + " | train() CPU ratio quartiles | train() % of GEMM | CPU/wall hand, train() |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        limit = r["gemm"]["cpu samples/s"]
        hand = r["hand"]
        cells = [f"{r['gemm']['samples/s'] / 1e3:,.1f} k/s"]
        cells.append(f"{hand['samples/s'] / 1e3:,.1f} k/s ({hand['cpu samples/s'] / limit:.0%})")
        for name in names:
            c = r.get(name)
            cells.append("—" if c is None else f"×{c['x hand']:.2f} / ×{c['x hand cpu']:.2f}")
        low, high = r["train"]["quartiles"]
        cells.append(f"×{low:.2f}–{high:.2f}")
        cells.append(f"{r['train']['cpu samples/s'] / limit:.0%}")
        cells.append(f"{hand['cpu/wall']:.2f}, {r['train']['cpu/wall']:.2f}")
        lines.append(f"| {r['net']} ({r['batch']}) | {r['dtype']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


PREDICT = """
import sys, tracemalloc
sys.path.insert(0, {root!r})
import numpy as np
from symfnn.script import codegen
from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
module = codegen.load(derive(parse("784-256:relu-256:relu-10:softmax")))
params = module.init_params(0, "he", np.float32)
X = np.random.default_rng(0).standard_normal((10000, 784)).astype(np.float32)
tracemalloc.start()
out = module.predict(params, X)
peak = tracemalloc.get_traced_memory()[1]
print(peak, X.nbytes, out.nbytes, sum(p.nbytes for p in params.values()))
"""


def predict_memory() -> str:
    """The peak memory `predict` allocates (NumPy's arrays, traced by tracemalloc) on 10,000
    samples of 784-256-256-10 (float32), in a fresh process, beside the arrays it must hold:
    its input, its output and the weights."""
    import subprocess

    root = str(Path(__file__).resolve().parent.parent)
    run = subprocess.run(
        [sys.executable, "-c", PREDICT.format(root=root)],
        capture_output=True,
        text=True,
        check=True,
    )
    peak, x, out, weights = (int(v) for v in run.stdout.split())
    mib, held = 2**20, x + out + weights
    return (
        f"predict, 10,000 samples of 784-256-256-10 (float32): allocates {peak / mib:.1f} MiB "
        f"at its peak (output included) beside X {x / mib:.1f} MiB and the weights "
        f"{weights / mib:.1f} MiB: {(x + weights + peak) / held:.2f}x the arrays it must hold"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dtype", nargs="+", default=["float32", "float64"])
    parser.add_argument("--quick", action="store_true", help="a quarter of the steps, 3 rounds")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    print(f"1 thread, NumPy {np.__version__}; medians over {rounds} interleaved rounds;")
    print("'×a / ×b': median per-round throughput ratio to the hand-tuned loop by wall time /")
    print("by CPU time (>1: faster); quartiles: of train()'s per-round CPU ratios;")
    print("% of GEMM: CPU throughput over the GEMMs' alone")
    rows = []
    for dtype in args.dtype:
        for text, batch, steps in CASES:
            steps = max(steps // 4, 4) if args.quick else steps
            rows.append(bench(text, batch, steps, np.dtype(dtype), rounds))
    print(table(rows))
    print(predict_memory())


if __name__ == "__main__":
    main()
