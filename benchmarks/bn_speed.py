"""Training speed of a bn/dropout network beside the plain network of the same widths.

    python benchmarks/bn_speed.py [--rounds 5] [--dtype float32] [--optimizer adam sgd]
                                  [--nets 64-32-10] [--quick] [--save FILE | --check FILE]

For each widths (ReLU hidden layers, softmax output, batch 32, 1 thread) one round times,
in turn and on the same random data, one epoch of the generated script's own `train()`
(its defaults but the optimiser, lr None) of:
- "plain": the plain network (`784-256:relu-128:relu-10:softmax`);
- "bn": every hidden layer batch-normalised (`...:relu:bn-...`);
- "bn+dropout": normalised and dropout 0.2 (`...:relu:bn:dropout=0.2-...`).
Rounds are interleaved so that a noisy neighbour slows every contender alike; the table
gives the median seconds per epoch (wall, CPU) and the medians of the per-round ratios of
each variant to the plain network (wall / CPU; 1 is as fast as plain). `--save` writes the
parameters each run ends with; `--check` compares a run's with those (a change meant to
leave the numbers alone: the largest difference per case is printed).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy loads its BLAS

import argparse
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # a checkout, not installed

from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.script import codegen

BATCH = 32
# (widths, rows of an epoch): an epoch of the bn network takes a few tenths of a second
CASES = [((784, 256, 128, 10), 8192), ((64, 32, 10), 32768)]
VARIANTS = {"plain": "", "bn": ":bn", "bn+dropout": ":bn:dropout=0.2"}


def spec_text(widths, hidden: str) -> str:
    """`784-256:relu{hidden}-128:relu{hidden}-10:softmax`."""
    inner = [f"{w}:relu{hidden}" for w in widths[1:-1]]
    return "-".join([str(widths[0]), *inner, f"{widths[-1]}:softmax"])


def _clock(fn) -> tuple[float, float]:
    """(wall, CPU) seconds of fn()."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _problem(widths, n: int, dtype) -> dict:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, widths[0])).astype(dtype)
    Y = np.eye(widths[-1], dtype=dtype)[rng.integers(0, widths[-1], n)]
    return {"X_train": X, "Y_train": Y}


def epoch(module, params0: dict, data: dict, optimizer: str) -> dict:
    """One epoch of the script's train() from a copy of params0; the params it ends with."""
    params = {k: v.copy() for k, v in params0.items()}
    module.train(
        params, data, epochs=1, batch_size=BATCH, optimizer=optimizer, patience=0,
        log=lambda *a, **k: None,
    )  # fmt: skip
    return params


def bench(widths, n: int, optimizer: str, dtype, rounds: int, variants) -> tuple[dict, dict]:
    """(a table row, the params each variant's epoch ends with)."""
    data = _problem(widths, n, dtype)
    runs, ends = {}, {}
    for name in variants:
        module = codegen.load(derive(parse(spec_text(widths, VARIANTS[name]))))
        params0 = module.init_params(0, "he", dtype)
        ends[name] = epoch(module, params0, data, optimizer)  # a warm-up run, and the result
        runs[name] = partial(epoch, module, params0, data, optimizer)
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            times[name].append(_clock(run))
    row = {"widths": "-".join(map(str, widths)), "opt": optimizer, "dtype": np.dtype(dtype).name}
    plain = times["plain"]
    for name, clocks in times.items():
        row[name] = {
            "wall": statistics.median(w for w, _ in clocks),
            "cpu": statistics.median(c for _, c in clocks),
            "x plain": statistics.median(w / p[0] for (w, _), p in zip(clocks, plain)),
            "x plain cpu": statistics.median(c / p[1] for (_, c), p in zip(clocks, plain)),
        }
    return row, ends


def table(rows: list[dict], n_of: dict) -> str:
    """Seconds per epoch of each variant (wall / CPU) and its median ratio to plain."""
    names = [k for k in rows[0] if isinstance(rows[0][k], dict)]
    head = "| net | opt | dtype | rows | " + " | ".join(names) + " |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        cells = []
        for name in names:
            c = r[name]
            cell = f"{c['wall']:.3f} / {c['cpu']:.3f} s"
            if name != "plain":
                cell += f" (×{c['x plain']:.2f} / ×{c['x plain cpu']:.2f})"
            cells.append(cell)
        lead = f"| {r['widths']} | {r['opt']} | {r['dtype']} | {n_of[r['widths']]} | "
        lines.append(lead + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dtype", nargs="+", default=["float32"])
    parser.add_argument("--optimizer", nargs="+", default=["adam", "sgd"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--nets", nargs="+", help="only these widths (784-256-128-10 64-32-10)")
    parser.add_argument("--quick", action="store_true", help="a quarter of the rows, 3 rounds")
    parser.add_argument("--save", help="write the params every run ends with (.npz)")
    parser.add_argument("--check", help="compare the params every run ends with to --save's")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    variants = ["plain", *(v for v in args.variants if v != "plain")]
    print(f"1 thread, NumPy {np.__version__}, batch {BATCH}; medians over {rounds} rounds;")
    print("seconds per epoch of train(), wall / CPU; (×a / ×b): median per-round ratio to the")
    print("plain network's epoch by wall / CPU time (<1 would be faster than plain)")
    rows, ends, n_of = [], {}, {}
    for dtype in args.dtype:
        for widths, n in CASES:
            if args.nets and "-".join(map(str, widths)) not in args.nets:
                continue
            n = n // 4 if args.quick else n
            n_of["-".join(map(str, widths))] = n
            for opt in args.optimizer:
                row, end = bench(widths, n, opt, np.dtype(dtype), rounds, variants)
                rows.append(row)
                for name, params in end.items():
                    for k, v in params.items():
                        ends[f"{row['widths']}/{opt}/{dtype}/{name}/{k}"] = v
    print(table(rows, n_of))
    if args.save:
        np.savez(args.save, **ends)
    if args.check:
        with np.load(args.check) as saved:
            worst: dict = {}
            for key, v in ends.items():
                case = key.rsplit("/", 1)[0]
                diff = float(np.max(np.abs(v - saved[key]))) if key in saved else np.inf
                worst[case] = max(worst.get(case, 0.0), diff)
        for case, diff in worst.items():
            print(f"{case}: largest difference to {args.check} {diff:.3g}")


if __name__ == "__main__":
    main()
