"""Reading and checking a generated script's data: arrays in, one-line DataError out.

Included verbatim in every generated script (codegen.RUNTIME); it imports only NumPy and the
standard library and knows the network only through the widths and task passed to it.
"""

from pathlib import Path

import numpy as np


class DataError(Exception):
    """The data file (or the weights file) does not fit this network."""


def as_targets(y: np.ndarray, name: str, outputs: int, task: str) -> np.ndarray:
    """Integer labels, one-hot or real targets -> a 2-D float array of `outputs` columns."""
    y = np.asarray(y)
    if task == "classification" and y.ndim == 1:
        if y.dtype.kind not in "iu" and not np.all(y == np.round(y)):
            raise DataError(f"{name}: class labels must be whole numbers")
        if y.size and (y.min() < 0 or y.max() >= outputs):
            got = f"{y.min()}..{y.max()}"
            raise DataError(f"{name}: labels must lie in 0..{outputs - 1}, got {got}")
        return np.eye(outputs)[y.astype(np.int64)]
    if y.ndim == 1 and outputs == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] != outputs:
        got = f"got shape {y.shape}"
        raise DataError(f"{name}: expected {outputs} target columns, {got}")
    if task != "regression" and not np.isin(y, (0, 1)).all():
        raise DataError(f"{name}: targets of a {task} network must be 0 or 1")
    return y


def as_inputs(X: np.ndarray, name: str, inputs: int) -> np.ndarray:
    """X checked to be 2-D with `inputs` columns."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != inputs:
        raise DataError(f"{name}: expected {inputs} input columns, got {X.shape}")
    return X


def read_arrays(path: str | Path, inputs: int) -> dict:
    """The raw arrays of a .npz file, or X_train/y_train of a .csv (inputs, then targets)."""
    path = Path(path)
    try:
        if path.suffix == ".csv":
            raw = np.loadtxt(path, delimiter=",", ndmin=2)
            if raw.shape[1] < inputs + 1:
                raise DataError(f"{path}: expected {inputs} inputs and targets per row")
            y = raw[:, inputs:]
            y = y[:, 0] if y.shape[1] == 1 else y
            return {"X_train": raw[:, :inputs], "y_train": y}
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read {path}: {e}") from None


def read_data(
    path: str | Path,
    *,
    inputs: int,
    outputs: int,
    task: str,
    val_split: float,
    seed: int,
) -> dict:
    """{"X_train", "Y_train", ["X_val", "Y_val",] ["X_test", "Y_test"]} from `path`, checked.

    Without X_val, a fraction `val_split` of the training rows (shuffled by `seed`) is held
    out for validation."""
    files = read_arrays(path, inputs)
    if "X_train" not in files or "y_train" not in files:
        raise DataError(f"{path}: needs arrays X_train and y_train")
    data = {}
    for part in ("train", "val", "test"):
        if f"X_{part}" in files:
            X, y = files[f"X_{part}"], files.get(f"y_{part}")
            if y is None:
                raise DataError(f"{path}: X_{part} without y_{part}")
            X = as_inputs(X, f"X_{part}", inputs)
            Y = as_targets(y, f"y_{part}", outputs, task)
            if len(X) != len(Y):
                rows = f"X_{part} has {len(X)} rows, y_{part} {len(Y)}"
                raise DataError(f"{path}: {rows}")
            if not (np.isfinite(X).all() and np.isfinite(Y).all()):
                raise DataError(f"{path}: {part} data contains NaN or inf")
            data[f"X_{part}"], data[f"Y_{part}"] = X, Y
    if "X_val" not in data and val_split > 0:
        order = np.random.default_rng(seed).permutation(len(data["X_train"]))
        cut = round(len(order) * (1 - val_split))
        for key in ("X", "Y"):
            full = data[f"{key}_train"]
            data[f"{key}_train"] = full[order[:cut]]
            data[f"{key}_val"] = full[order[cut:]]
    return data


def read_params(path: str | Path, shapes: dict, dtype) -> dict:
    """Weights saved by `--save`: every key of `shapes` (name -> shape) present and of its shape."""
    try:
        with np.load(path, allow_pickle=False) as f:
            params = {k: f[k].astype(dtype) for k in f.files}
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read weights {path}: {e}") from None
    for k, shape in shapes.items():
        if k not in params or params[k].shape != shape:
            raise DataError(f"{path}: {k} missing or not of shape {shape}")
    return {k: params[k] for k in shapes}
