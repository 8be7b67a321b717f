"""The command line of a generated script: `python train.py --data d.npz [options]`.

`cli_main(net, description, argv)` parses the options (defaults: the network's TRAINING),
reads the data, trains, reports and saves; bad input is one line on stderr and exit 2.
Included verbatim in every generated script (codegen.RUNTIME).
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .data import DataError, read_params
from .gradcheck import check_gradients
from .loop import fit


def build_parser(net, description: str) -> argparse.ArgumentParser:
    """The options of `python train.py`, their defaults the network's TRAINING."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", help="training data: .npz or .csv")
    p.add_argument("--val-split", type=float, help="if no X_val")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="1: the article's SGD")
    p.add_argument("--lr", type=float, help="learning rate (None: per optimizer)")
    p.add_argument("--l1", type=float, default=net.l1, help="lambda_1 (L1 penalty)")
    p.add_argument("--l2", type=float, default=net.l2, help="lambda_2 (L2 penalty)")
    p.add_argument("--patience", type=int, help="early stopping; 0: off")
    p.add_argument("--init", choices=tuple(net.init_schemes))
    p.add_argument("--optimizer", choices=tuple(net.optimizer_lr))
    p.add_argument("--clip-value", type=float, help="clip gradient entries to +-this")
    p.add_argument("--clip-norm", type=float, help="clip the global gradient norm")
    p.add_argument("--seed", type=int)
    p.add_argument("--dtype", choices=("float32", "float64"))
    p.add_argument("--save", help="write the trained weights to this .npz")
    p.add_argument("--history", help="write the training history to this .json")
    p.add_argument("--load", help="start from these weights; --epochs 0 to predict")
    p.add_argument("--predict", help="write the test set's outputs to this .npy")
    p.add_argument("--gradcheck", action="store_true", help="check gradients, exit")
    p.set_defaults(**net.training)
    return p


def _start(net, args) -> tuple:
    """(data or None, params) as the options ask; DataError on bad input."""
    net.coefficients(args.l1, args.l2)
    data = net.load_data(args.data, args.val_split, args.seed) if args.data else None
    dtype = np.dtype(args.dtype)
    if args.load:
        shapes = {k: p.shape for k, p in net.init_params(0, None, dtype).items()}
        return data, read_params(args.load, shapes, dtype)
    return data, net.init_params(args.seed, args.init, dtype)


def _report(net, params, data, history) -> None:
    """The validation and test scores: accuracy, or the error of a regression."""
    for part in ("val", "test"):
        if f"X_{part}" in data:
            err = net.error(params, data[f"X_{part}"], data[f"Y_{part}"])
            if net.task == "regression":
                history[f"{part}_score"] = err
                print(f"{part} error {err:.4f}")
            else:
                history[f"{part}_score"] = 1 - err
                print(f"{part} accuracy {1 - err:.4f}")


def cli_main(net, description: str, argv: list | None = None) -> int:
    """Run the command line; the exit status (0 ok, 1 diverged or check failed, 2 bad input)."""
    args = build_parser(net, description).parse_args(argv)
    try:
        data, params = _start(net, args)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.gradcheck:
        X, Y = (data["X_train"], data["Y_train"]) if data else (None, None)
        ok, lines = check_gradients(net, params if args.load else None, X, Y, args.seed)
        print("\n".join(lines))
        return 0 if ok else 1
    if data is None:
        print("error: --data is required (or --gradcheck)", file=sys.stderr)
        return 2
    print(f"{net.compact}: {len(data['X_train'])} training samples, {args.dtype}")
    keys = (
        "epochs",
        "batch_size",
        "lr",
        "optimizer",
        "l1",
        "l2",
        "clip_value",
        "clip_norm",
    )
    options = {k: getattr(args, k) for k in (*keys, "patience", "seed")}
    history = fit(net, params, data, **options)
    _report(net, params, data, history)
    if args.save:
        np.savez(args.save, **params)
    if args.history:
        Path(args.history).write_text(json.dumps(history, indent=1))
    if args.predict and "X_test" in data:
        np.save(args.predict, net.predict(params, data["X_test"]))
    return 0 if not history["stopped"].startswith("non-finite") else 1
