"""Bundled, packaged and synthetic data sets, split and scaled, exported to `.npz`."""

from __future__ import annotations

import difflib
import gzip
import io
import os
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError, show, show_path
from .fileio import check_writable, write_atomic

NAMES = ("digits", "fashion-mnist", "spirals", "regression", "multilabel")
KEYS = ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")

# Where Debian's dataset-fashion-mnist package puts its idx files.
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

# The synthetic *tasks* (which function, which label features) stay the same for every
# seed, so a seed only changes the sample and the split, never the problem itself.
_TASK_SEED = 20240601

# idx type byte -> big-endian NumPy dtype (http://yann.lecun.com/exdb/mnist/).
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an idx file (gzip-compressed or plain) into a native-endian array."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        # Sniff the gzip magic rather than trusting the file name.
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        reason = getattr(exc, "strerror", None) or f"{type(exc).__name__}: {exc}"
        raise DataError(f"cannot read idx file {show_path(path)}: {show(reason, 200)}") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in _IDX_TYPES or raw[3] == 0:
        raise DataError(
            f"{show_path(path)} is not an idx file (bad magic number {raw[:4].hex() or 'none'})"
        )
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    start = 4 + 4 * ndim
    if len(raw) < start:
        raise DataError(f"{show_path(path)} is a corrupt idx file (header cut short)")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = start + dtype.itemsize * int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(
            f"{show_path(path)} is a corrupt idx file "
            f"({len(raw)} bytes, header {shape} needs {expected})"
        )
    data = np.frombuffer(raw, dtype, offset=start).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _split(X: np.ndarray, y: np.ndarray, seed: int, stratify: bool) -> dict[str, np.ndarray]:
    """Split 60/20/20 with a seeded permutation, per class when `stratify`."""
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(X))]
    parts: list[list[np.ndarray]] = [[], [], []]
    for group in groups:
        idx = rng.permutation(group)
        cuts = np.round(len(idx) * np.array([0.6, 0.8])).astype(int)
        for part, chunk in zip(parts, np.split(idx, cuts)):
            part.append(chunk)
    # Shuffle again so the classes are interleaved inside each split.
    train, val, test = (rng.permutation(np.concatenate(p)) for p in parts)
    return {
        "X_train": X[train],
        "y_train": y[train],
        "X_val": X[val],
        "y_val": y[val],
        "X_test": X[test],
        "y_test": y[test],
    }


def _standardise(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Scale the inputs with the training split's mean and std (no peeking at val/test)."""
    mean, std = data["X_train"].mean(axis=0), data["X_train"].std(axis=0)
    for key in ("X_train", "X_val", "X_test"):
        data[key] = ((data[key] - mean) / std).astype(np.float32)
    return data


def require_sklearn():
    """scikit-learn's `load_digits`, or one DataError line (missing, or broken on import)."""
    try:
        from sklearn.datasets import load_digits  # lazy: only digits needs it
    except ImportError:
        raise DataError(
            "digits needs scikit-learn: `pip install scikit-learn` (or `pip install symfnn[data]`)"
        ) from None
    except Exception as exc:  # noqa: BLE001 -- a broken install fails in many ways
        raise DataError(
            f"scikit-learn is installed but fails on import ({type(exc).__name__}: "
            f"{show(str(exc), 200)}); reinstall it: pip install --force-reinstall scikit-learn"
        ) from None
    return load_digits


def _digits(seed: int) -> dict[str, np.ndarray]:
    load_digits = require_sklearn()
    try:
        X, y = load_digits(return_X_y=True)
    except (OSError, ValueError, EOFError) as exc:  # its bundled CSV damaged
        raise DataError(f"scikit-learn's digits cannot be read: {type(exc).__name__}") from None
    return _split((X / 16.0).astype(np.float32), y.astype(np.int64), seed, stratify=True)


def _fashion_file(stem: str) -> Path:
    for candidate in (FASHION_DIR / f"{stem}.gz", FASHION_DIR / stem):
        if candidate.is_file():
            return candidate
    raise DataError(
        f"fashion-mnist not found in {FASHION_DIR}; install Debian's dataset-fashion-mnist: "
        "apt-get install dataset-fashion-mnist"
    )


def _fashion_mnist(seed: int) -> dict[str, np.ndarray]:
    # The split is fixed by the files themselves, so `seed` is not used here.
    arrays = {}
    for kind in ("train", "t10k"):
        images = read_idx(_fashion_file(f"{kind}-images-idx3-ubyte"))
        labels = read_idx(_fashion_file(f"{kind}-labels-idx1-ubyte"))
        if images.ndim != 3 or labels.shape != images.shape[:1] or labels.max(initial=0) > 9:
            raise DataError(
                f"fashion-mnist {kind} files do not match ({images.shape}, {labels.shape})"
            )
        arrays[kind] = (
            images.reshape(len(images), -1).astype(np.float32) / np.float32(255),
            labels.astype(np.int64),
        )
    (X, y), (X_test, y_test) = arrays["train"], arrays["t10k"]
    return {
        "X_train": X[:-10000],
        "y_train": y[:-10000],
        "X_val": X[-10000:],
        "y_val": y[-10000:],
        "X_test": X_test,
        "y_test": y_test,
    }


def _spirals(seed: int, per_class: int = 500, classes: int = 3) -> dict[str, np.ndarray]:
    # CS231n's interleaved spirals: radius grows linearly while the angle sweeps 4 rad.
    rng = np.random.default_rng(seed)
    r = np.tile(np.linspace(0.0, 1.0, per_class), classes)
    y = np.repeat(np.arange(classes, dtype=np.int64), per_class)
    t = np.concatenate([np.linspace(4 * k, 4 * (k + 1), per_class) for k in range(classes)])
    t += rng.normal(0.0, 0.2, t.shape)
    X = np.column_stack([r * np.sin(t), r * np.cos(t)])
    return _standardise(_split(X, y, seed, stratify=True))


def _regression(seed: int, n: int = 2000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-np.pi / 2, np.pi / 2, (n, 4))
    y = np.column_stack(
        [
            np.sin(X[:, 0]) * np.cos(X[:, 1]) + 0.5 * np.sin(X[:, 2] * X[:, 3]),
            np.cos(X[:, 0] - X[:, 3]) - 0.5 * np.sin(2 * X[:, 2]),
        ]
    )
    y += rng.normal(0.0, 0.05, y.shape)
    data = _split(X, y.astype(np.float32), seed, stratify=False)
    return _standardise(data)


def _multilabel(seed: int, n: int = 2000, dim: int = 8, labels: int = 5) -> dict[str, np.ndarray]:
    # Label j is on iff w_j.x + x_a*x_b > 0: both parts are symmetric around zero, so each
    # label is on about half the time, independently enough that several co-occur.
    task = np.random.default_rng(_TASK_SEED)
    W = task.normal(size=(dim, labels))
    pairs = np.array([task.choice(dim, 2, replace=False) for _ in range(labels)])
    X = np.random.default_rng(seed).normal(size=(n, dim))
    scores = X @ W + X[:, pairs[:, 0]] * X[:, pairs[:, 1]]
    data = _split(X, (scores > 0).astype(np.float32), seed, stratify=False)
    return _standardise(data)


_LOADERS = {
    "digits": _digits,
    "fashion-mnist": _fashion_mnist,
    "spirals": _spirals,
    "regression": _regression,
    "multilabel": _multilabel,
}


def load(name: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Return the train/val/test arrays of data set `name`, split deterministically by `seed`."""
    if name not in _LOADERS:
        close = difflib.get_close_matches(name, NAMES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise DataError(f"unknown data set {show(name)}; {hint}(available: {', '.join(NAMES)})")
    return _LOADERS[name](seed)


def summarise(name: str, data: dict[str, np.ndarray]) -> dict:
    """Describe a loaded data set: task, shapes and number of classes or labels."""
    y = data["y_train"]
    if y.dtype.kind == "i":
        task, classes = "classification", int(max(data[k].max() for k in KEYS[1::2])) + 1
    elif name == "multilabel":
        task, classes = "multilabel", y.shape[1]
    else:
        task, classes = "regression", None
    return {
        "name": name,
        "task": task,
        "classes": classes,
        "shapes": {key: tuple(data[key].shape) for key in KEYS},
    }


def export(name: str, path: str | os.PathLike, *, seed: int = 0, force: bool = False) -> dict:
    """Write data set `name` to an `.npz` file atomically and return its summary."""
    # Check first: refusing an existing file should not cost a 70000-image load.
    check_writable(path, force)
    data = load(name, seed)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **data)
    written = write_atomic(path, buffer.getvalue(), force=force)
    return {**summarise(name, data), "path": str(written), "seed": seed}
