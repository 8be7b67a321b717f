"""Reading and checking a generated script's data: arrays in, one-line DataError out.

Everything a data or weights file holds is checked where it enters, so that training never
meets it unchecked: a file that is not a readable .npz (truncated, garbage, empty, a .npy
under a .npz name, pickled objects) or .csv, arrays that are not real numbers (strings,
bytes, complex), parts without rows or without their partner array, too few rows for the
validation split, and values the training dtype cannot hold (1e39 in float32).

Included verbatim in every generated script (codegen.RUNTIME); it imports only NumPy and the
standard library and knows the network only through the widths and task passed to it.
"""

import warnings
from pathlib import Path

import numpy as np

from .safeio import shown_path


class DataError(Exception):
    """The data file (or the weights file) does not fit this network."""


PARTS = ("train", "val", "test")
# dtype kinds of real numbers: bool, signed and unsigned integers, floats
REAL_KINDS = "biuf"
_KIND_NAMES = {"c": "complex numbers", "U": "text", "S": "bytes", "O": "Python objects"}


def as_real(array: np.ndarray, name: str) -> np.ndarray:
    """`array` checked to hold finite real numbers (DataError naming `name` otherwise)."""
    array = np.asarray(array)
    if array.dtype.kind not in REAL_KINDS:
        what = _KIND_NAMES.get(array.dtype.kind, f"values of type {array.dtype}")
        raise DataError(f"{name} holds {what}; real numbers are needed")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise DataError(f"{name} contains NaN or inf")
    return array


def as_targets(y: np.ndarray, name: str, outputs: int, task: str) -> np.ndarray:
    """Integer labels, one-hot or real targets -> a 2-D float array of `outputs` columns."""
    y = as_real(y, name)
    if task == "classification" and y.ndim == 1:
        if y.dtype.kind not in "biu" and not np.all(y == np.round(y)):
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
    """X checked to be 2-D with `inputs` columns of finite real numbers."""
    X = as_real(X, name)
    if X.ndim != 2 or X.shape[1] != inputs:
        raise DataError(f"{name}: expected {inputs} input columns, got {X.shape}")
    return X


def _read_npz(path: Path) -> dict:
    """The arrays of an .npz archive, read in full (a damaged member fails here, not later)."""
    # the file is ours to close: np.load leaves its own open when the zip is damaged
    with open(path, "rb") as file:
        archive = np.load(file, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            what = "one .npy array" if isinstance(archive, np.ndarray) else "no archive"
            needed = "an .npz of named arrays is needed"
            raise DataError(f"{shown_path(path)} is {what}; {needed}")
        with archive:
            arrays = {k: archive[k] for k in archive.files}
    for name, array in arrays.items():
        # a member that is no .npy file comes back as its bytes
        if not isinstance(array, np.ndarray):
            raise DataError(f"{shown_path(path)}: {name!r} is not a .npy array")
    return arrays


def read_arrays(path: str | Path, inputs: int) -> dict:
    """The raw arrays of a .npz file, or X_train/y_train of a .csv (inputs, then targets)."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            with warnings.catch_warnings():  # an empty file: 0 rows, refused below
                warnings.simplefilter("ignore")
                raw = np.loadtxt(path, delimiter=",", ndmin=2)
            if raw.shape[1] < inputs + 1:
                needs = f"expected {inputs} inputs and targets per row"
                raise DataError(f"{shown_path(path)}: {needs}")
            y = raw[:, inputs:]
            y = y[:, 0] if y.shape[1] == 1 else y
            return {"X_train": raw[:, :inputs], "y_train": y}
        return _read_npz(path)
    except DataError:
        raise
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise DataError(f"cannot read {shown_path(path)}: {why}") from None
    except Exception as e:  # noqa: BLE001 -- a damaged file fails in zipfile, zlib, ...
        raise DataError(f"cannot read {shown_path(path)}: {_damaged(e)}") from None


def _damaged(e: Exception) -> str:
    """One line on a file that zipfile, zlib or NumPy's .npy reader gave up on."""
    why = " ".join(str(e).split())[:120] or type(e).__name__
    return f"not a valid data file ({why})"


def _split(data: dict, path: str, val_split: float, seed: int) -> None:
    """Hold out a share `val_split` of the training rows (shuffled by `seed`) for validation."""
    n = len(data["X_train"])
    cut = round(n * (1 - val_split))
    if cut < 1 or cut == n:
        raise DataError(
            f"{path}: {n} training rows leave {n - cut} for validation and {cut} for "
            f"training at val_split {val_split:g}; give X_val/y_val, more rows, or "
            "a val_split that leaves rows on both sides (0: no validation)"
        )
    order = np.random.default_rng(seed).permutation(n)
    for key in ("X", "Y"):
        full = data[f"{key}_train"]
        data[f"{key}_train"] = full[order[:cut]]
        data[f"{key}_val"] = full[order[cut:]]


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
    files, shown = read_arrays(path, inputs), shown_path(path)
    if "X_train" not in files or "y_train" not in files:
        raise DataError(f"{shown}: needs arrays X_train and y_train")
    data = {}
    for part in PARTS:
        X, y = files.get(f"X_{part}"), files.get(f"y_{part}")
        if X is None and y is None:
            continue
        if X is None or y is None:
            given, missing = ("y", "X") if X is None else ("X", "y")
            raise DataError(f"{shown}: {given}_{part} without {missing}_{part}")
        X = as_inputs(X, f"X_{part}", inputs)
        Y = as_targets(y, f"y_{part}", outputs, task)
        if len(X) != len(Y):
            raise DataError(f"{shown}: X_{part} has {len(X)} rows, y_{part} {len(Y)}")
        if not len(X):
            raise DataError(f"{shown}: X_{part} and y_{part} have no rows")
        data[f"X_{part}"], data[f"Y_{part}"] = X, Y
    if "X_val" not in data and val_split > 0:
        _split(data, shown, val_split, seed)
    return data


def in_dtype(data: dict, dtype) -> dict:
    """The arrays of `data` converted to `dtype`; DataError for values it cannot hold (X =
    1e39 is finite in float64 and inf in float32)."""
    dtype, out = np.dtype(dtype), {}
    with np.errstate(over="ignore", invalid="ignore"):
        for key, array in data.items():
            out[key] = array.astype(dtype, copy=False)
            if not np.isfinite(out[key]).all():
                big = float(np.max(np.abs(array)))
                limit = float(np.finfo(dtype).max)
                raise DataError(
                    f"{key} holds {big:.3g}, beyond {dtype.name}'s range (±{limit:.3g}); "
                    "scale the data or train in --dtype float64"
                )
    return out


def read_params(path: str | Path, shapes: dict, dtype) -> dict:
    """Weights saved by `--save`: every key of `shapes` (name -> shape) present and of its shape,
    finite real numbers that `dtype` can hold."""
    try:
        params = _read_npz(Path(path))
    except DataError as e:
        raise DataError(f"cannot read weights: {e}") from None
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise DataError(f"cannot read weights {shown_path(path)}: {why}") from None
    except Exception as e:  # noqa: BLE001 -- a damaged file
        why = _damaged(e)
        raise DataError(f"cannot read weights {shown_path(path)}: {why}") from None
    for k, shape in shapes.items():
        if k not in params or params[k].shape != shape:
            raise DataError(f"{shown_path(path)}: {k} missing or not of shape {shape}")
        as_real(params[k], f"{shown_path(path)}: {k}")
    return in_dtype({k: params[k] for k in shapes}, dtype)
