"""Generated scripts run as subprocesses: they train, check gradients and reject bad data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from symfnn import datasets
from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.script import codegen

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "generated"
ARTICLE = GENERATED / "article_sigmoid_softmax.py"

# every activation, loss and regulariser at least once
GRADCHECK = [
    ("5-4:sigmoid-3:tanh-3:softmax", {"l2": 0.001}),
    ("5-4:relu-4:leaky_relu=0.1-2:identity", {"l1": 0.001}),
    ("5-4:elu-4:softplus-3:sigmoid", {"l1": 0.001, "l2": 0.001}),
    ("5-4:tanh-2:sigmoid", {"loss": "squared_error"}),
]


def run(script, *args, cwd=None):
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=300,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    for name in ("digits", "regression", "multilabel"):
        datasets.export(name, folder / f"{name}.npz")
    return folder


def test_article_network_reaches_95_percent_on_digits(data, tmp_path):
    result = run(
        ARTICLE, "--data", data / "digits.npz", "--epochs", 40, "--history", tmp_path / "h.json"
    )
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split("test accuracy")[1].split()[0])
    assert accuracy >= 0.95, result.stdout
    history = json.loads((tmp_path / "h.json").read_text())
    assert history["loss"][-1] < history["loss"][0]
    assert set(history["grad_norms"][0]) == {"W1", "b1", "W2", "b2"}


def test_regression_loss_falls(data, tmp_path):
    history = tmp_path / "h.json"
    result = run(
        GENERATED / "regression_mse.py",
        "--data",
        data / "regression.npz",
        "--epochs",
        15,
        "--history",
        history,
    )
    assert result.returncode == 0, result.stderr
    losses = json.loads(history.read_text())["loss"]
    assert losses[-1] < 0.5 * losses[0]


def test_multilabel_network_trains(data):
    result = run(GENERATED / "multilabel_bce.py", "--data", data / "multilabel.npz", "--epochs", 10)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.split("test accuracy")[1].split()[0]) > 0.8


@pytest.mark.parametrize("text, options", GRADCHECK)
def test_script_gradcheck_passes(tmp_path, text, options):
    script = codegen.write(derive(parse(text, **options)), tmp_path / "train.py")
    result = run(script, "--gradcheck")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "gradient check: PASSED" in result.stdout


def test_golden_scripts_pass_their_gradcheck():
    for name in codegen.EXAMPLES:
        result = run(GENERATED / name, "--gradcheck")
        assert result.returncode == 0, name + result.stdout + result.stderr


def _bad(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"X_train": np.zeros((5, 63)), "y_train": np.zeros(5, int)}, "expected 64 input columns"),
        (
            {"X_train": np.zeros((5, 64)), "y_train": np.array([0, 1, 2, 3, 10])},
            "labels must lie in 0..9",
        ),
        ({"X_train": np.full((5, 64), np.nan), "y_train": np.zeros(5, int)}, "NaN or inf"),
        ({"X_train": np.zeros((5, 64)), "y_train": np.zeros(4, int)}, "rows"),
        ({"X_train": np.zeros((5, 64))}, "needs arrays X_train and y_train"),
        ({"X_train": np.zeros((5, 64)), "y_train": np.zeros((5, 3))}, "expected 10 target columns"),
    ],
)
def test_bad_data_is_a_one_line_error_with_exit_2(tmp_path, arrays, message):
    result = run(ARTICLE, "--data", _bad(tmp_path, **arrays))
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_missing_or_unreadable_file_exits_2(tmp_path):
    assert run(ARTICLE, "--data", tmp_path / "nope.npz").returncode == 2
    (tmp_path / "x.npz").write_text("not a zip")
    assert run(ARTICLE, "--data", tmp_path / "x.npz").returncode == 2


def test_csv_save_load_and_predict(tmp_path, data):
    with np.load(data / "digits.npz") as f:
        X, y = f["X_train"][:300], f["y_train"][:300]
    csv = tmp_path / "d.csv"
    np.savetxt(csv, np.column_stack([X, y]), delimiter=",")
    weights = tmp_path / "w.npz"
    result = run(ARTICLE, "--data", csv, "--epochs", 3, "--save", weights, "--dtype", "float64")
    assert result.returncode == 0, result.stderr
    assert "val accuracy" in result.stdout  # held out with --val-split
    again = run(
        ARTICLE,
        "--data",
        data / "digits.npz",
        "--load",
        weights,
        "--epochs",
        0,
        "--predict",
        tmp_path / "p.npy",
    )
    assert again.returncode == 0, again.stderr
    with np.load(data / "digits.npz") as f:
        assert np.load(tmp_path / "p.npy").shape == (len(f["X_test"]), 10)


def test_divergence_stops_with_a_message_and_keeps_the_best_weights(data):
    result = run(
        GENERATED / "regression_mse.py",
        "--data",
        data / "regression.npz",
        "--optimizer",
        "sgd",
        "--lr",
        "1e4",
    )
    assert result.returncode == 1
    assert "stopped: the loss became" in result.stdout
    assert "Warning" not in result.stderr


def test_regulariser_the_script_was_not_derived_with_is_refused(data):
    result = run(GENERATED / "deep_relu.py", "--data", data / "digits.npz", "--l2", "0.1")
    assert result.returncode == 2 and "without L2" in result.stderr


def test_train_api_clipping_callback_and_optimizers(data):
    module = codegen.load(ARTICLE)
    with np.load(data / "digits.npz") as f:
        d = {"X_train": f["X_train"], "Y_train": np.eye(10)[f["y_train"]]}
    for optimizer in ("sgd", "momentum", "adam"):
        params = module.init_params(0)
        seen: list[int] = []

        def stop_at_2(epoch, p, h, seen=seen):
            seen.append(epoch)
            return epoch == 2

        history = module.train(
            params,
            d,
            epochs=3,
            optimizer=optimizer,
            clip_norm=0.5,
            clip_value=0.1,
            callback=stop_at_2,
            log=lambda *a: None,
        )
        assert seen == [1, 2] and history["stopped"] == "callback at epoch 2"
        assert history["loss"][1] < history["loss"][0], optimizer
        assert len(history["grad_norms"]) == 2


def test_help_runs_and_importing_runs_nothing():
    result = run(ARTICLE, "--help")
    assert result.returncode == 0 and "--clip-norm" in result.stdout
    code = f"import runpy; runpy.run_path({str(ARTICLE)!r}, run_name='x'); print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok"
