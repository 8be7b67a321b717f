"""A generated script under bad options, odd data files, write faults and divergence (issue 12,
items 1-4 and the script's side of 15): one line and exit 2 for bad input, exit 1 and finite
weights for a diverged run, the old file or the whole new one after any failure or kill."""

from __future__ import annotations

import os
import random
import resource
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from test_runtime import Line

from symfnn.engine import hyper
from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.errors import SpecError
from symfnn.script import codegen
from symfnn.script.runtime import checks, loop

SPEC = "6-5:sigmoid-3:softmax"
KILLS = int(os.environ.get("SYMFNN_KILLS", "6"))


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    """(module, path) of a small classifier's script, imported in-process and on disk."""
    derivation = derive(parse(SPEC, l2=0.001))
    path = codegen.write(derivation, tmp_path_factory.mktemp("script") / "train.py")
    return codegen.load(derivation), path


def good(n: int = 40, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    return {"X_train": X, "y_train": y, "X_test": X[:10], "y_test": y[:10]}


def npz(folder, name="d.npz", **arrays):
    path = folder / name
    np.savez(path, **arrays)
    return path


def main(module, capsys, *argv) -> tuple[int, str, str]:
    rc = module.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def one_line_error(rc: int, err: str, *words: str) -> None:
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for word in words:
        assert word in err, err


# -- item 1: divergence keeps finite weights ------------------------------------------------


def test_a_step_to_inf_weights_is_never_kept_as_the_best():
    """One full-batch step a epoch: the epoch's loss is taken before the update, so it is
    finite while the update makes W inf; the val error of inf weights is finite too."""
    params = {"W1": np.array([0.0])}
    X = np.linspace(-1, 1, 8)[:, None]
    data = {"X_train": X, "Y_train": 30 * X, "X_val": X, "Y_val": 30 * X}
    settings = {"epochs": 3, "batch_size": 8, "lr": 1e308, "optimizer": "sgd", "patience": 0}
    settings |= {"clip_value": None, "clip_norm": None, "seed": 0, "log": lambda *a: None}
    history = loop.fit(Line([0.5] * 3), params, data, **settings)
    assert np.isfinite(params["W1"]).all() and params["W1"][0] == 0.0
    assert history["stopped"] == "non-finite weights at epoch 1"


def test_a_diverging_script_saves_finite_weights_exits_1_and_warns_nothing(script, tmp_path):
    _, path = script
    data = npz(tmp_path, **good(200))
    saved = tmp_path / "w.npz"
    argv = ["--data", data, "--optimizer", "sgd", "--lr", "1e300", "--batch-size", "100000"]
    run = subprocess.run(
        [sys.executable, "-W", "error", path, *map(str, argv), "--save", saved],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1, run.stderr
    assert "stopped:" in run.stdout and run.stderr == ""
    with np.load(saved) as f:
        assert all(np.isfinite(f[k]).all() for k in f.files)


def test_a_finite_but_diverging_run_stops_keeps_its_start_and_exits_1(script, capsys, tmp_path):
    """lr 1000: the loss leaps to many times its start yet stays finite (no inf, no NaN); the
    run stops after that epoch with the rise in one line, saves the weights it started from
    (the best it saw) and exits 1. With --diverging 0 it runs every epoch and exits 0."""
    module, _ = script
    data, saved = npz(tmp_path, **good(200)), tmp_path / "w.npz"
    argv = ["--data", data, "--optimizer", "sgd", "--lr", "1000", "--epochs", "4"]
    rc, out, err = main(module, capsys, *argv, "--save", saved)
    assert rc == 1 and err == "", err
    (stop,) = [line for line in out.splitlines() if line.startswith("stopped:")]
    assert "the loss rose from" in stop and "learning rate (1000)" in stop, out
    assert len([line for line in out.splitlines() if line.startswith("epoch")]) == 1, out
    start = module.init_params(0, None, "float32")
    with np.load(saved) as f:
        for k, p in start.items():
            np.testing.assert_array_equal(f[k], p)
    rc, out, _ = main(module, capsys, *argv, "--diverging", "0")
    assert rc == 0 and "stopped:" not in out
    assert len([line for line in out.splitlines() if line.startswith("epoch")]) == 4, out


def test_a_healthy_run_one_sample_a_step_is_not_called_diverging():
    """One sample's loss at the start can be near 0 (here the first row's target is the
    initial network's output), but the start is measured on 32 rows, so epochs of ordinary
    SGD at batch 1 on a regression net are not called diverging."""
    module = codegen.load(derive(parse("3-4:tanh-1:identity", loss="squared_error")))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3))
    Y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.1 * rng.standard_normal((300, 1))
    for seed in range(3):
        params = module.init_params(seed)
        Y[0] = module.predict(params, X[:1])[0]
        history = module.train(
            params, {"X_train": X, "Y_train": Y}, epochs=3, batch_size=1, optimizer="sgd",
            lr=0.01, seed=seed, log=lambda *a: None,
        )  # fmt: skip
        assert history["stopped"] == "epochs", history["stopped"]


# -- item 2: every numeric option checked by the [training] table's rules --------------------


@pytest.mark.parametrize(
    "option, value, allowed",
    [
        ("--batch-size", "0", "at least 1"),
        ("--batch-size", "-1", "at least 1"),
        ("--batch-size", "2.5", "a whole number"),
        ("--seed", "-1", "at least 0"),
        ("--val-split", "1.0", "below 1"),
        ("--val-split", "1.5", "below 1"),
        ("--val-split", "-0.5", "at least 0"),
        ("--val-split", "nan", "finite"),
        ("--clip-norm", "-1", "positive"),
        ("--clip-value", "0", "positive"),
        ("--lr", "-1", "positive"),
        ("--lr", "0", "positive"),
        ("--lr", "nan", "finite"),
        ("--lr", "inf", "finite"),
        ("--lr", "fast", "a number"),
        ("--patience", "-1", "at least 0"),
        ("--epochs", "-1", "at least 0"),
        ("--l2", "-0.1", "at least 0"),
        ("--seed", "9" * 5000, "a whole number"),
    ],
)
def test_a_bad_number_is_one_line_naming_it_and_what_is_allowed(
    script, capsys, tmp_path, option, value, allowed
):
    module, _ = script
    rc, out, err = main(module, capsys, "--data", npz(tmp_path, **good()), option, value)
    one_line_error(rc, err, option, allowed)
    assert "epoch" not in out


def test_argparse_errors_are_one_line_too(script, capsys, tmp_path):
    module, _ = script
    for argv in (["--bogus"], ["--optimizer", "rmsprop"], ["--lr"], ["--data"], ["--lr=--"]):
        rc, _, err = main(module, capsys, *argv)
        one_line_error(rc, err)


@pytest.mark.parametrize("key", list(checks.RULES))
@pytest.mark.parametrize("value", [-1, 0, 0.5, 1, 3, 1e300, float("nan"), float("inf"), True])
def test_the_spec_and_the_script_accept_the_same_numbers(key, value):
    """hyper.value (a spec's [training]) and the script's option agree, but for a spec's
    epochs >= 1 (the command line takes 0: only predict with --load)."""
    if key in ("l1", "l2"):
        return  # spec fields, checked by symfnn.engine.spec
    try:
        spec_ok = hyper.value(key, value) is not None
    except SpecError:
        spec_ok = False
    try:
        script_ok = checks.number(key, str(value), text=True) is not None
    except checks.OptionError:
        script_ok = False
    if key == "epochs" and value == 0:
        assert script_ok and not spec_ok
        return
    assert spec_ok == script_ok, (key, value)


def test_train_refuses_what_the_command_line_refuses(script):
    module, _ = script
    d = good()
    data = {"X_train": d["X_train"], "Y_train": np.eye(3)[d["y_train"]]}
    for bad in ({"batch_size": 0}, {"lr": -1.0}, {"clip_norm": -1.0}, {"epochs": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            module.train(module.init_params(0), data, log=lambda *a: None, **bad)


# -- item 3: odd data files are one line -----------------------------------------------------


def _damaged(folder):
    """name -> (a file's bytes or arrays, words of the message)."""
    ok = npz(folder, "ok.npz", **good()).read_bytes()
    d = good()
    npy = folder / "a.npy"
    np.save(npy, d["X_train"])
    garbage = bytes(random.Random(0).randrange(256) for _ in range(300))
    return {
        "truncated": (ok[: len(ok) // 2], "not a valid data file"),
        "garbage": (garbage, "not a valid data file"),
        "empty": (b"", "not a valid data file"),
        "npy named npz": (npy.read_bytes(), "one .npy array"),
        "strings": ({**d, "X_train": d["X_train"].astype(str)}, "text"),
        "bytes": ({**d, "y_train": d["y_train"].astype(bytes)}, "bytes"),
        "complex": ({**d, "X_train": d["X_train"] + 1j}, "complex"),
        "zero rows": ({**d, "X_train": np.zeros((0, 6)), "y_train": np.zeros(0, int)}, "no rows"),
        "two rows": ({**d, "X_train": d["X_train"][:2], "y_train": d["y_train"][:2]}, "val_split"),
        "y_val alone": ({**d, "y_val": d["y_train"]}, "y_val without X_val"),
        "X_test alone": ({**d, "y_test": None}, "X_test without y_test"),
        "float32 overflow": ({**d, "X_train": np.full((40, 6), 1e39)}, "float32"),
        "inf label": ({**d, "y_train": np.full(40, np.inf)}, "NaN or inf"),
    }


DAMAGED = ["truncated", "garbage", "empty", "npy named npz", "strings", "bytes", "complex"]
DAMAGED += ["zero rows", "two rows", "y_val alone", "X_test alone", "float32 overflow", "inf label"]


@pytest.mark.parametrize("name", DAMAGED)
def test_odd_data_files_are_one_line_errors(script, capsys, tmp_path, name):
    module, _ = script
    content, words = _damaged(tmp_path)[name]
    path = tmp_path / "odd.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.savez(path, **{k: v for k, v in content.items() if v is not None})
    rc, out, err = main(module, capsys, "--data", path, "--epochs", 1)
    one_line_error(rc, err, words)
    assert "epoch" not in out


def test_a_csv_without_rows_and_a_pickled_npz_are_one_line(script, capsys, tmp_path):
    module, _ = script
    (tmp_path / "e.csv").write_text("")
    rc, _, err = main(module, capsys, "--data", tmp_path / "e.csv")
    one_line_error(rc, err)
    np.savez(tmp_path / "o.npz", X_train=np.array([object()] * 3), y_train=np.zeros(3))
    rc, _, err = main(module, capsys, "--data", tmp_path / "o.npz")
    one_line_error(rc, err, "not a valid data file")
    bad_weights = tmp_path / "w.npz"
    with zipfile.ZipFile(bad_weights, "w") as z:
        z.writestr("W1.npy", b"junk")
    rc, _, err = main(module, capsys, "--data", npz(tmp_path, **good()), "--load", bad_weights)
    one_line_error(rc, err, "weights")


# -- item 4: --save, --history, --predict are checked first and written atomically -----------


def test_outputs_are_checked_before_training(script, capsys, tmp_path):
    module, _ = script
    data = npz(tmp_path, **good())
    (tmp_path / "w.npz").write_bytes(b"old")
    cases = [
        (["--save", tmp_path / "w.npz"], "--force"),
        (["--history", tmp_path / "no" / "h.json"], "does not exist"),
        (["--predict", tmp_path], "is a folder"),
        (["--save", tmp_path / "a", "--history", tmp_path / "a"], "same file"),
        (["--save", ""], "an empty file name"),
        (["--load", ""], "an empty file name"),
    ]
    for argv, words in cases:
        rc, out, err = main(module, capsys, "--data", data, *argv)
        one_line_error(rc, err, words)
        assert "epoch" not in out
    assert (tmp_path / "w.npz").read_bytes() == b"old"
    csv = tmp_path / "d.csv"
    d = good()
    np.savetxt(csv, np.column_stack([d["X_train"], d["y_train"]]), delimiter=",")
    rc, out, err = main(module, capsys, "--data", csv, "--predict", tmp_path / "p.npy")
    one_line_error(rc, err, "--predict needs X_test")
    assert "epoch" not in out


def test_outputs_go_to_exactly_the_names_given_with_the_umask(script, capsys, tmp_path):
    module, _ = script
    data = npz(tmp_path, **good())
    names = {"--save": "weights", "--history": "history", "--predict": "outputs"}
    old = os.umask(0o027)
    try:
        argv = [x for flag, name in names.items() for x in (flag, tmp_path / name)]
        rc, _, err = main(module, capsys, "--data", data, "--epochs", 2, *argv)
    finally:
        os.umask(old)
    assert rc == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz", "history", "outputs", "weights"]
    for name in names.values():
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o640
    with np.load(tmp_path / "weights") as f:
        assert set(f.files) == {"W1", "b1", "W2", "b2"}
    assert np.load(tmp_path / "outputs").shape == (10, 3)
    (tmp_path / "weights").chmod(0o600)
    rc, _, err = main(module, capsys, "--data", data, "--epochs", 1, "--save", tmp_path / "weights")
    one_line_error(rc, err, "exists; pass --force")
    rc, _, err = main(module, capsys, "--data", data, "--save", tmp_path / "weights", "--force")
    assert rc == 0 and (tmp_path / "weights").stat().st_mode & 0o777 == 0o600  # kept


def test_a_failing_write_keeps_the_old_file_and_leaves_nothing(script, capsys, tmp_path):
    module, _ = script
    data = npz(tmp_path, **good())
    target = tmp_path / "w.npz"
    target.write_bytes(b"old weights")
    real = os.replace

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    os.replace = fail
    try:
        rc, _, err = main(module, capsys, "--data", data, "--save", target, "--force")
    finally:
        os.replace = real
    one_line_error(rc, err, "No space left on device")
    assert target.read_bytes() == b"old weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz", "w.npz"]


def test_a_file_size_limit_keeps_the_old_weights(script, tmp_path):
    _, path = script
    data = npz(tmp_path, **good())
    target = tmp_path / "w.npz"
    target.write_bytes(b"old weights")
    limit = 1024  # the new weights file is about 1.4 KiB

    def cap():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    argv = [path, "--data", data, "--epochs", 1, "--save", target, "--force"]
    run = subprocess.run(
        [sys.executable, *map(str, argv)],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=cap,
    )
    assert run.returncode == 2 and len(run.stderr.splitlines()) == 1, run.stderr
    assert target.read_bytes() == b"old weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz", "w.npz"]


def test_kill_9_during_save_leaves_the_old_or_the_whole_new_file(tmp_path):
    """Weights of about 8 MB, so that the save (encode, write, fsync, rename) takes a good part
    of the run; killed at random moments of its second half, the file is the old one or a
    whole new one, and nothing else is left. SYMFNN_KILLS=N kills N times and tallies."""
    derivation = derive(parse("1000-1000:relu-2:softmax"))
    path = codegen.write(derivation, tmp_path / "big.py")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 1000))
    data = npz(tmp_path, X_train=X, y_train=np.arange(4) % 2)
    target = tmp_path / "w.npz"
    target.write_bytes(b"old")
    argv = [sys.executable, str(path), "--data", str(data), "--epochs", "0", "--val-split", "0"]
    argv += ["--dtype", "float64", "--save", str(target), "--force"]
    start, replaced = time.perf_counter(), None
    calibration = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while calibration.poll() is None or replaced is None:  # when the new file appears
        if replaced is None and target.stat().st_size > 3:
            replaced = time.perf_counter() - start
        time.sleep(0.001)
    assert calibration.returncode == 0
    whole = target.read_bytes()
    target.write_bytes(b"old")
    outcomes = []
    pick = random.Random(1)
    for _ in range(KILLS):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(max(0.0, replaced + pick.uniform(-0.2, 0.02)))  # about the save
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        content = target.read_bytes()
        assert content in (b"old", whole), len(content)
        outcomes.append(content == whole)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["big.py", "d.npz", "w.npz"]
        target.write_bytes(b"old")
    if os.environ.get("SYMFNN_KILLS"):
        print(f"\n{len(outcomes)} kills: {sum(outcomes)} left the new file, the rest the old")


def test_a_temporary_left_by_a_killed_script_goes_on_the_next_save(script, capsys, tmp_path):
    """A kill between naming the complete temporary and renaming it leaves a hidden name
    tagged with host and pid; the next write to the folder removes it, not a live one's."""
    module, _ = script
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    prefix = f".w.npz.{module.TEMP_TAG}.{module._HOST}"
    stale = tmp_path / f"{prefix}.{dead.pid}.0badc0de"
    live = tmp_path / f"{prefix}.{os.getpid()}.0badc0de"
    stale.write_bytes(b"half")
    live.write_bytes(b"busy")
    data = npz(tmp_path, **good())
    rc, _, err = main(module, capsys, "--data", data, "--epochs", 1, "--save", tmp_path / "w.npz")
    assert rc == 0, err
    assert not stale.exists() and live.exists()
