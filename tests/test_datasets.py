"""Tests for symfnn.datasets: splits, scaling, the idx parser and the `.npz` export."""

from __future__ import annotations

import gzip
import struct
import sys
import zlib

import numpy as np
import pytest

from symfnn import datasets
from symfnn.errors import DataError, SymfnnError

SYNTHETIC = ["spirals", "regression", "multilabel"]
SEEDED = ["digits", *SYNTHETIC]  # fashion-mnist's split is fixed by its files


def idx_bytes(array: np.ndarray, type_byte: int = 0x08) -> bytes:
    """Encode `array` as an idx file: magic (0, 0, type, ndim), big-endian dims, data."""
    header = bytes([0, 0, type_byte, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def row_set(X: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in X}


@pytest.fixture(scope="module")
def loaded() -> dict[str, dict[str, np.ndarray]]:
    """Every cheap data set, loaded once with seed 0."""
    names = SYNTHETIC + (["digits"] if _has_sklearn() else [])
    return {name: datasets.load(name) for name in names}


@pytest.fixture(scope="module")
def fashion() -> dict[str, np.ndarray]:
    """The real fashion-mnist, loaded once; skipped where the Debian package is absent."""
    if not (datasets.FASHION_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"Debian's dataset-fashion-mnist is not installed ({datasets.FASHION_DIR})")
    return datasets.load("fashion-mnist")


def _has_sklearn() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


needs_sklearn = pytest.mark.skipif(not _has_sklearn(), reason="scikit-learn is not installed")


def get(loaded: dict, name: str) -> dict[str, np.ndarray]:
    if name not in loaded:
        pytest.skip("scikit-learn is not installed")
    return loaded[name]


# --- every data set -----------------------------------------------------------------


def test_names_are_the_public_list() -> None:
    assert datasets.NAMES == ("digits", "fashion-mnist", "spirals", "regression", "multilabel")


@pytest.mark.parametrize("name", SEEDED)
def test_keys_shapes_and_dtypes(loaded: dict, name: str) -> None:
    data = get(loaded, name)
    assert tuple(data) == datasets.KEYS
    features = data["X_train"].shape[1]
    for split in ("train", "val", "test"):
        X, y = data[f"X_{split}"], data[f"y_{split}"]
        assert X.dtype == np.float32 and X.ndim == 2 and X.shape[1] == features
        assert len(y) == len(X) > 0
        assert np.isfinite(X).all()
    # Roughly 60/20/20.
    n = sum(len(data[k]) for k in ("y_train", "y_val", "y_test"))
    assert abs(len(data["y_train"]) / n - 0.6) < 0.01
    assert abs(len(data["y_val"]) / n - 0.2) < 0.01


@pytest.mark.parametrize("name", SEEDED)
def test_same_seed_same_split_other_seed_other_split(loaded: dict, name: str) -> None:
    first = get(loaded, name)
    again = datasets.load(name, seed=0)
    other = datasets.load(name, seed=1)
    for key in datasets.KEYS:
        np.testing.assert_array_equal(first[key], again[key])
    assert not np.array_equal(first["X_train"], other["X_train"])


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_inputs_are_standardised_on_train(loaded: dict, name: str) -> None:
    X = loaded[name]["X_train"]
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(X.std(axis=0), 1.0, atol=1e-4)


# --- individual data sets -------------------------------------------------------------


@needs_sklearn
def test_digits(loaded: dict) -> None:
    data = get(loaded, "digits")
    assert data["X_train"].shape[1] == 64
    assert sum(len(data[k]) for k in ("X_train", "X_val", "X_test")) == 1797
    for key in ("X_train", "X_val", "X_test"):
        assert data[key].min() >= 0.0 and data[key].max() <= 1.0
    for key in ("y_train", "y_val", "y_test"):
        assert data[key].dtype == np.int64
        # Stratified: every class appears in every split.
        assert set(np.unique(data[key])) == set(range(10))


@needs_sklearn
def test_digits_splits_do_not_overlap(loaded: dict) -> None:
    data = get(loaded, "digits")
    train, val, test = (row_set(data[k]) for k in ("X_train", "X_val", "X_test"))
    assert len(train) + len(val) + len(test) == 1797  # load_digits has no duplicate rows
    assert not train & val and not train & test and not val & test


def test_digits_without_sklearn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(DataError, match=r"pip install scikit-learn.*symfnn\[data\]"):
        datasets.load("digits")


def test_spirals(loaded: dict) -> None:
    data = loaded["spirals"]
    assert data["X_train"].shape[1] == 2
    assert sum(len(data[k]) for k in ("y_train", "y_val", "y_test")) == 1500
    for key in ("y_train", "y_val", "y_test"):
        assert data[key].dtype == np.int64
        assert set(np.unique(data[key])) == {0, 1, 2}


def test_regression(loaded: dict) -> None:
    data = loaded["regression"]
    assert data["X_train"].shape[1] == 4
    for key in ("y_train", "y_val", "y_test"):
        y = data[key]
        assert y.dtype == np.float32 and y.ndim == 2 and y.shape[1] == 2
        assert np.abs(y).max() < 3.0  # sin/cos mixtures plus small noise
    assert data["y_train"].std(axis=0).min() > 0.2  # a real signal, not just noise


def test_multilabel(loaded: dict) -> None:
    data = loaded["multilabel"]
    for key in ("y_train", "y_val", "y_test"):
        y = data[key]
        assert y.dtype == np.float32 and y.ndim == 2 and y.shape[1] == 5
        assert set(np.unique(y)) == {0.0, 1.0}
    y = data["y_train"]
    assert (y.sum(axis=1) >= 2).mean() > 0.5  # several labels on at once is common
    assert ((y.mean(axis=0) > 0.2) & (y.mean(axis=0) < 0.8)).all()  # no label is trivial


def test_fashion_mnist(fashion: dict) -> None:
    expected = {"train": 50000, "val": 10000, "test": 10000}
    for split, n in expected.items():
        X, y = fashion[f"X_{split}"], fashion[f"y_{split}"]
        assert X.shape == (n, 784) and X.dtype == np.float32
        assert X.min() == 0.0 and X.max() == 1.0
        assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))


def test_fashion_mnist_from_small_files(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    for kind, n in (("train", 10006), ("t10k", 7)):
        images = rng.integers(0, 256, (n, 2, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        (tmp_path / f"{kind}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
        (tmp_path / f"{kind}-labels-idx1-ubyte").write_bytes(idx_bytes(labels))  # plain
    monkeypatch.setattr(datasets, "FASHION_DIR", tmp_path)
    data = datasets.load("fashion-mnist")
    assert data["X_train"].shape == (6, 6)
    assert data["X_val"].shape == (10000, 6)
    assert data["X_test"].shape == (7, 6)
    assert data["X_train"].max() <= 1.0


def test_fashion_mnist_missing(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets, "FASHION_DIR", tmp_path)
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        datasets.load("fashion-mnist")


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(DataError) as info:
        datasets.load("fashion_mnist")
    message = str(info.value)
    assert "did you mean 'fashion-mnist'?" in message
    assert all(name in message for name in datasets.NAMES)
    assert "\n" not in message


# --- the idx parser -------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, compress: bool) -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = idx_bytes(images)
    path = tmp_path / "images.idx"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    np.testing.assert_array_equal(datasets.read_idx(path), images)


def test_read_idx_big_endian_types(tmp_path) -> None:
    values = np.array([[1.5, -2.0], [3.25, 1e6]], dtype=">f4")
    path = tmp_path / "floats.idx"
    path.write_bytes(idx_bytes(values, type_byte=0x0D))
    result = datasets.read_idx(path)
    assert result.dtype == np.float32 and result.dtype.isnative
    np.testing.assert_array_equal(result, values)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad magic"),
        (b"\x00\x00\x42\x01" + struct.pack(">I", 1) + b"\x00", "bad magic"),  # unknown type
        (b"\x00\x00", "bad magic"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 2), "header cut short"),
        (idx_bytes(np.zeros((2, 3), np.uint8))[:-1], "corrupt"),  # data cut short
        (idx_bytes(np.zeros((2, 3), np.uint8)) + b"\x00", "corrupt"),  # trailing bytes
    ],
)
def test_read_idx_rejects_corrupt_files(tmp_path, raw: bytes, message: str) -> None:
    for data in (raw, gzip.compress(raw)):
        path = tmp_path / "bad.idx"
        path.write_bytes(data)
        with pytest.raises(DataError, match=message):
            datasets.read_idx(path)


def test_read_idx_truncated_gzip(tmp_path) -> None:
    path = tmp_path / "bad.idx.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(100, np.uint8)))[:20])
    with pytest.raises(DataError, match="cannot read"):
        datasets.read_idx(path)


# --- export -----------------------------------------------------------------------------


def test_export_round_trip(tmp_path) -> None:
    path = tmp_path / "spirals.npz"
    summary = datasets.export("spirals", path, seed=3)
    assert summary["name"] == "spirals" and summary["classes"] == 3
    assert summary["task"] == "classification" and summary["seed"] == 3
    assert summary["path"] == str(path)
    expected = datasets.load("spirals", seed=3)
    with np.load(path) as saved:
        assert set(saved.files) == set(datasets.KEYS)
        for key in datasets.KEYS:
            np.testing.assert_array_equal(saved[key], expected[key])
            assert saved[key].dtype == expected[key].dtype
            assert summary["shapes"][key] == expected[key].shape
    assert [p.name for p in tmp_path.iterdir()] == ["spirals.npz"]  # no temp file left


def test_export_summary_of_each_task(tmp_path) -> None:
    regression = datasets.export("regression", tmp_path / "r.npz")
    multilabel = datasets.export("multilabel", tmp_path / "m.npz")
    assert (regression["task"], regression["classes"]) == ("regression", None)
    assert (multilabel["task"], multilabel["classes"]) == ("multilabel", 5)


def test_export_refuses_to_overwrite_without_force(tmp_path) -> None:
    path = tmp_path / "data.npz"
    path.write_bytes(b"keep me")
    with pytest.raises(SymfnnError, match="exists"):
        datasets.export("spirals", path)
    assert path.read_bytes() == b"keep me"
    datasets.export("spirals", path, force=True)
    with np.load(path) as saved:
        assert saved["X_train"].shape == (900, 2)


def test_export_unknown_name_writes_nothing(tmp_path) -> None:
    with pytest.raises(DataError, match="did you mean 'spirals'"):
        datasets.export("spiral", tmp_path / "x.npz")
    assert not list(tmp_path.iterdir())


# --- issue 12: a corrupt archive or a broken scikit-learn is one line ------------------------


def test_corrupt_fashion_mnist_gzip_is_one_line(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = gzip.compress(idx_bytes(np.arange(4000, dtype=np.uint8).reshape(10, 20, 20) % 251))
    damaged = good[:30] + bytes(b ^ 0x5A for b in good[30:60]) + good[60:]
    with pytest.raises(zlib.error):  # what read_idx used to let through as a traceback
        gzip.decompress(damaged)
    for kind in ("train", "t10k"):
        (tmp_path / f"{kind}-images-idx3-ubyte.gz").write_bytes(damaged)
        (tmp_path / f"{kind}-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(10, np.uint8)))
    monkeypatch.setattr(datasets, "FASHION_DIR", tmp_path)
    with pytest.raises(DataError) as info:
        datasets.load("fashion-mnist")
    assert "cannot read idx file" in str(info.value) and str(info.value).isprintable()


class _BrokenFinder:
    """A meta-path finder under which importing scikit-learn fails with a non-ImportError."""

    def find_spec(self, name, path=None, target=None):
        if name == "sklearn" or name.startswith("sklearn."):
            raise RuntimeError("numpy.dtype size changed, may indicate binary incompatibility")


def test_sklearn_failing_on_import_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_BrokenFinder(), *sys.meta_path])
    with pytest.raises(DataError) as info:
        datasets.load("digits")
    message = str(info.value)
    assert "scikit-learn is installed but fails on import (RuntimeError" in message
    assert "\n" not in message


def test_unknown_name_is_quoted() -> None:
    with pytest.raises(DataError) as info:
        datasets.load("spi\nrals")
    assert "'spi\\nrals'" in str(info.value) and str(info.value).isprintable()
