"""Fuzzing a generated script's boundary (issue 12): its options and its data files.

Every case ends in a result (exit 0, or 1 for a run that diverged) or in one line on stderr
with exit 2: no traceback, no warning, no other exit status, and no bad value silently
accepted. The structured generators build each case from parts whose validity they know (an
independent oracle: this file's restatement of the rules in --help and the README), so a case
the script accepts must be one the oracle calls valid, and the other way round. Damaged files
(bytes cut, flipped or inserted) have no oracle: they must end in a result or one line.

`make test` runs a few dozen cases per category, the same each time;
`SYMFNN_FUZZ=1000 .venv/bin/python -m pytest -q -s tests/test_fuzz_script.py` runs 1,000
random ones per in-process category (and 50 real processes) and prints the tallies.
"""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fuzzing import TALLY, fuzz, print_tallies
from hypothesis import given
from hypothesis import strategies as st

from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.script import codegen

ROWS = 40  # rows of the good data set of the option cases
VAL_SPLIT = 0.2  # the script's default (symfnn.engine.hyper)


@pytest.fixture(scope="module", autouse=True)
def _tallies():
    yield
    print_tallies("script fuzz tallies")


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    """A small classifier derived with both penalties (so --l1/--l2 are its to take)."""
    derivation = derive(parse("6-5:tanh-3:softmax", l1=0.001, l2=0.001))
    path = codegen.write(derivation, tmp_path_factory.mktemp("s") / "train.py")
    return codegen.load(derivation), path


def rows(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6))
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)


def outcome(module, argv: list[str]) -> tuple[int, str]:
    """(exit status, stderr) of module.main(argv), checked: no exception, no warning, a status
    in {0, 1, 2}, one printable line for 2."""
    err = _Capture()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = _Capture()
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            rc = module.main(argv)
        finally:
            sys.stdout, sys.stderr = saved
    assert not caught, [str(w.message) for w in caught]
    assert rc in (0, 1, 2), rc
    text = "".join(err.parts)
    if rc == 2:
        lines = text.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), text
        assert lines[0].isprintable() and len(lines[0]) < 600, text
    else:
        assert text == "", text
    TALLY[f"exit {rc}"] += 1
    return rc, text


class _Capture:
    def __init__(self):
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass


# -- options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    text: str
    number: object  # the int or float the text reads as; None: not a number of that kind


INT_KEYS = ("epochs", "batch_size", "patience", "seed")
FLOAT_KEYS = ("lr", "val_split", "clip_value", "clip_norm", "l1", "l2")
JUNK = ["", " ", "abc", "1e3x", "0x10", "--", "1,5", "\n", "½", "None"]
FLOATS = [0.0, -0.0, 0.5, 1.0, 1.5, -0.5, 1e-3, 0.999, 1e300, -1e300, 5e-324]
FLOATS += [math.nan, math.inf, -math.inf]


def _int_value(key: str) -> st.SearchStrategy[Value]:
    big = [] if key == "epochs" else [Value("9" * 30, 10**30 - 1)]  # not 10^30 epochs
    junk = st.sampled_from([Value(j, None) for j in JUNK] + big)
    floats = st.sampled_from(FLOATS).map(lambda f: Value(repr(f), None))
    ints = st.integers(-1, 4).map(lambda i: Value(str(i), i))
    return st.one_of(junk, floats, ints, ints, ints, ints)  # mostly numbers of the kind


def _float_value() -> st.SearchStrategy[Value]:
    junk = st.sampled_from([Value(j, None) for j in JUNK])
    ints = st.integers(-1, 4).map(lambda i: Value(str(i), float(i)))
    special = st.sampled_from(FLOATS).map(lambda f: Value(repr(f), f))
    usual = st.floats(0, 0.9).map(lambda f: Value(repr(f), f))
    return st.one_of(junk, ints, special, usual, usual, usual)


def allowed(key: str, number) -> bool:
    """The oracle: the rules --help states, restated here."""
    if number is None or not math.isfinite(number):
        return False
    if key == "batch_size":
        return number >= 1
    if key in ("epochs", "patience", "seed", "l1", "l2"):
        return number >= 0
    if key == "val_split":
        return 0 <= number < 1
    return number > 0  # lr, clip_value, clip_norm


@st.composite
def option_cases(draw):
    keys = draw(st.lists(st.sampled_from(INT_KEYS + FLOAT_KEYS), min_size=1, max_size=2))
    argv, ok, split = ["--epochs", "1"], True, VAL_SPLIT
    for key in keys:
        value = draw(_int_value(key) if key in INT_KEYS else _float_value())
        argv += [f"--{key.replace('_', '-')}={value.text}"]
        ok &= allowed(key, value.number)  # each value is checked as it is read
        split = value.number if key == "val_split" else split  # the last one counts
    if ok and split:  # the split must leave rows on both sides
        ok = 1 <= round(ROWS * (1 - split)) < ROWS
    if draw(st.integers(0, 19)) == 0:
        argv.append(draw(st.sampled_from(["--bogus", "--lr", "--optimizer=rmsprop", "x"])))
        ok = False
    return argv, ok


@pytest.fixture(scope="module")
def good_data(tmp_path_factory):
    X, y = rows(ROWS)
    path = tmp_path_factory.mktemp("d") / "good.npz"
    np.savez(path, X_train=X, y_train=y, X_test=X[:8], y_test=y[:8])
    return path


@fuzz(40)
@given(option_cases())
def test_options_are_accepted_exactly_when_allowed(script, good_data, case):
    argv, ok = case
    rc, err = outcome(script[0], ["--data", str(good_data), *argv])
    assert (rc != 2) == ok, (argv, err)
    TALLY["options " + ("valid" if ok else "invalid")] += 1


# -- data files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrays:
    X: object  # an array, or None: absent
    y: object
    ok: bool
    rows: int


def _pair(part: str) -> st.SearchStrategy[Arrays]:
    """The X_part, y_part arrays of one part, and whether they are good."""

    def build(case) -> Arrays:
        kind, n = case
        X, y = rows(n, seed=len(part))
        bad = {
            "strings": (X.astype(str), y),
            "bytes": (X, y.astype(bytes)),
            "complex": (X + 1j, y),
            "nan": (np.where(X > 1, np.nan, X) if n else np.full((1, 6), np.nan), y[: max(n, 1)]),
            "float32 overflow": (X * 1e39 + 1e39, y),
            "wide": (np.zeros((n, 7)), y),
            "1-D X": (X[:, 0], y),
            "labels out of range": (X, y + 3),
            "fractional labels": (X, y + 0.5),
            "rows differ": (X, y[:-1] if n else np.zeros(1, int)),
            "one-hot wrong width": (X, np.eye(4)[y % 4]),
            "X alone": (X, None),
            "y alone": (None, y),
        }
        if kind == "absent":
            return Arrays(None, None, True, 0)
        if kind == "good":
            return Arrays(X, y, n > 0, n)
        if kind == "one-hot":
            return Arrays(X, np.eye(3)[y], n > 0, n)
        if kind == "huge but finite":  # fits float32; training may diverge (exit 1)
            return Arrays(X * 1e30, y, n > 0, n)
        X, y = bad[kind]
        return Arrays(X, y, False, n)

    good = st.sampled_from(["good", "good", "one-hot", "huge but finite"])
    bad = st.sampled_from(list(BAD))
    present = good if part == "train" else st.one_of(st.just("absent"), good)
    kinds = st.integers(0, 3).flatmap(lambda i: bad if i == 0 else present)
    sizes = st.sampled_from([0, 1, 2, 3, 5, 8, 20, 20, 20])
    return st.tuples(kinds, sizes).map(build)


BAD = ["strings", "bytes", "complex", "nan", "float32 overflow", "wide", "1-D X"]
BAD += ["labels out of range", "fractional labels", "rows differ", "one-hot wrong width"]
BAD += ["X alone", "y alone"]


@st.composite
def data_cases(draw):
    parts = {part: draw(_pair(part)) for part in ("train", "val", "test")}
    train, val, test = parts["train"], parts["val"], parts["test"]
    ok = train.ok and train.X is not None and val.ok and test.ok
    if ok and val.X is None:  # held out from train: rows on both sides
        cut = round(train.rows * (1 - VAL_SPLIT))
        ok = 1 <= cut < train.rows
    predict = draw(st.booleans())
    if predict and test.X is None:
        ok = False  # --predict needs X_test
    arrays = {}
    for part, pair in parts.items():
        for name, array in ((f"X_{part}", pair.X), (f"y_{part}", pair.y)):
            if array is not None:
                arrays[name] = array
    return arrays, predict, ok


@fuzz(40)
@given(data_cases())
def test_data_files_are_accepted_exactly_when_valid(script, case):
    arrays, predict, ok = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.npz"
        np.savez(path, **arrays)
        argv = ["--data", str(path), "--epochs", "1"]
        argv += ["--predict", str(Path(folder) / "p.npy")] if predict else []
        rc, err = outcome(script[0], argv)
        assert (rc != 2) == ok, (sorted(arrays), predict, err)
        if predict and rc != 2:
            assert np.load(Path(folder) / "p.npy").shape == (len(arrays["X_test"]), 3)
    TALLY["data " + ("valid" if ok else "invalid")] += 1


@fuzz(30)
@given(
    st.sampled_from(["cut", "flip", "insert"]),
    st.floats(0, 1),
    st.binary(min_size=1, max_size=16),
)
def test_damaged_files_end_in_a_result_or_one_line(script, good_data, how, at, junk):
    raw = bytearray(good_data.read_bytes())
    i = int(at * (len(raw) - 1))
    if how == "cut":
        raw = raw[:i]
    elif how == "flip":
        raw[i : i + len(junk)] = bytes(b ^ j for b, j in zip(raw[i : i + len(junk)], junk))
    else:
        raw[i:i] = junk
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.npz"
        path.write_bytes(bytes(raw))
        for flag in ("--data", "--load"):
            argv = [flag, str(path)] + (["--data", str(good_data)] if flag == "--load" else [])
            rc, _ = outcome(script[0], [*argv, "--epochs", "1"])
            if how == "cut":  # no zip's central directory: never readable
                assert rc == 2
    TALLY[f"damaged ({how})"] += 1


# -- real processes ---------------------------------------------------------------------------


@fuzz(4, share=0.05)
@given(option_cases())
def test_the_process_exits_0_1_or_2_with_one_line(script, good_data, case):
    argv, ok = case
    run = subprocess.run(
        [sys.executable, "-W", "error", str(script[1]), "--data", str(good_data), *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode in (0, 1, 2) and (run.returncode != 2) == ok, run.stderr
    assert "Traceback" not in run.stderr
    if run.returncode == 2:
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    else:
        assert run.stderr == "", run.stderr
    TALLY["processes"] += 1
