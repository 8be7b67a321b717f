"""The command line of a generated script: `python train.py --data d.npz [options]`.

`cli_main(net, description, argv)` parses the options (defaults: the network's TRAINING),
checks everything it can before training (every number by the rules of symfnn's [training]
table, the data file, the output files), trains, reports and saves atomically. Bad input of
any kind is one line on stderr and exit 2, argparse's own errors included; a run that
diverged (a non-finite loss, or one over train()'s factor of its start) keeps (and saves)
its best weights and exits 1.
Included verbatim in every generated script (codegen.RUNTIME).
"""

import argparse
import io
import json
import sys

import numpy as np

from .checks import RULES, OptionError, number
from .data import DataError, in_dtype, read_params
from .gradcheck import check_gradients
from .loop import fit
from .safeio import WriteError, check_target, write_file

# The options that write a file, and what they write.
OUTPUTS = ("save", "history", "predict")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line (OptionError), not the usage and a message."""

    def error(self, message: str):
        raise OptionError(f"{message} (--help lists the options)")

    def parse_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        for arg in args:  # argparse takes `--lr=--` as an empty list, not as an error
            if arg == "--" or (arg.startswith("--") and arg.endswith("=--")):
                self.error(f"{arg!r}: '--' is no value; the script takes no arguments")
        return super().parse_args(args, namespace)


def _typed(key: str):
    """The argparse type of option `key`: its text checked by RULES[key] (checks.number)."""

    def parse(text: str):
        try:
            return number(key, text, text=True)
        except OptionError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = RULES[key].kind.__name__  # argparse may name the type
    return parse


def _file_name(text: str) -> str:
    """A file option's argument: an empty name would read as 'not given' and be skipped."""
    if not text:
        raise argparse.ArgumentTypeError("an empty file name")
    return text


def build_parser(net, description: str) -> argparse.ArgumentParser:
    """The options of `python train.py`, their defaults the network's TRAINING."""
    p = OneLineParser(description=description)
    p.add_argument("--data", type=_file_name, help="training data: .npz or .csv")
    number_options = {  # allowed values: checks.RULES, as in symfnn's [training] table
        "val_split": "0 <= share < 1, held out if no X_val",
        "epochs": ">= 0; 0 with --load: only predict",
        "batch_size": ">= 1; 1: the article's SGD",
        "lr": "learning rate > 0 (None: per optimizer)",
        "l1": "lambda_1 >= 0 (L1 penalty)",
        "l2": "lambda_2 >= 0 (L2 penalty)",
        "patience": "early stopping, >= 0; 0: off",
        "diverging": "stop when an epoch's loss is over this times the start's; 0: off",
        "clip_value": "clip gradient entries to +-this > 0",
        "clip_norm": "clip the global gradient norm to this > 0",
        "seed": ">= 0",
    }
    for key, text in number_options.items():
        p.add_argument(f"--{key.replace('_', '-')}", type=_typed(key), help=text)
    p.add_argument("--init", choices=tuple(net.init_schemes))
    p.add_argument("--optimizer", choices=tuple(net.optimizer_lr))
    p.add_argument("--dtype", choices=("float32", "float64"))
    exact = "to exactly this file name (no suffix added)"
    files = {
        "save": f"write the trained weights (.npz) {exact}",
        "history": f"write the training history (JSON) {exact}",
        "load": "start from these weights (.npz); --epochs 0 to predict",
        "predict": f"write the test set's outputs (.npy) {exact}",
    }
    for key, text in files.items():
        p.add_argument(f"--{key}", type=_file_name, help=text)
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.add_argument("--gradcheck", action="store_true", help="check gradients, exit")
    p.set_defaults(**net.training, l1=net.l1, l2=net.l2)
    return p


def _check_outputs(args) -> None:
    """Every output file writable, no file named twice: before any long work."""
    given = [(f"--{k}", getattr(args, k)) for k in OUTPUTS if getattr(args, k)]
    seen: dict = {}
    for flag, path in given:
        target = check_target(path, args.force).resolve()
        if target in seen:
            raise OptionError(f"{seen[target]} and {flag} name the same file {path!r}")
        seen[target] = flag


def _start(net, args) -> tuple:
    """(data or None, params) as the options ask; DataError on bad input."""
    net.coefficients(args.l1, args.l2)
    dtype = np.dtype(args.dtype)
    data = None
    if args.data:
        data = in_dtype(net.load_data(args.data, args.val_split, args.seed), dtype)
        if args.predict and "X_test" not in data:
            raise DataError(f"--predict needs X_test and y_test in {args.data!r}")
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
                print(f"{part} error {err:.4g}")
            else:
                history[f"{part}_score"] = 1 - err
                print(f"{part} accuracy {1 - err:.4f}")


def _encoded(save, *array, **arrays) -> bytes:
    """The bytes `save` (np.save, np.savez) writes: written to a file by write_file, so that
    the name is exactly the one given (np.save would add .npy) and the write atomic."""
    buffer = io.BytesIO()
    save(buffer, *array, **arrays)
    return buffer.getvalue()


def _train(net, args) -> int:
    if not args.data and not args.gradcheck:
        raise OptionError("--data is required (or --gradcheck)")
    _check_outputs(args)
    data, params = _start(net, args)
    if args.gradcheck:
        X, Y = (data["X_train"], data["Y_train"]) if data else (None, None)
        ok, lines = check_gradients(net, params if args.load else None, X, Y, args.seed)
        print("\n".join(lines))
        return 0 if ok else 1
    print(f"{net.compact}: {len(data['X_train'])} training samples, {args.dtype}")
    keys = ("epochs", "batch_size", "lr", "optimizer", "l1", "l2", "patience", "seed")
    keys += ("diverging",)
    options = {k: getattr(args, k) for k in (*keys, "clip_value", "clip_norm")}
    history = fit(net, params, data, **options)
    # the kept weights are finite, but a huge one may still overflow an activation
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        _report(net, params, data, history)
        outputs = net.predict(params, data["X_test"]) if args.predict else None
    if args.save:
        write_file(args.save, _encoded(np.savez, **params), args.force)
    if args.history:
        write_file(args.history, json.dumps(history, indent=1).encode(), args.force)
    if args.predict:
        write_file(args.predict, _encoded(np.save, outputs), args.force)
    return 1 if history["stopped"].startswith(("non-finite", "diverging")) else 0


def cli_main(net, description: str, argv: list | None = None) -> int:
    """Run the command line; the exit status (0 ok, 1 diverged or check failed, 2 bad input)."""
    try:
        return _train(net, build_parser(net, description).parse_args(argv))
    except (OptionError, DataError, WriteError) as e:
        message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(e))
        print(f"error: {message}", file=sys.stderr)
        return 2
