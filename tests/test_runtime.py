"""The generated script's runtime (symfnn/runtime): included verbatim, and unit-tested here."""

from __future__ import annotations

import ast
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.script import codegen
from symfnn.script.runtime import data as rdata
from symfnn.script.runtime import loop, network

STDLIB = set(sys.stdlib_module_names)


@pytest.fixture(scope="module")
def article():
    return codegen.load(derive(parse("64-32:sigmoid-10:softmax", l2=0.0001)))


@pytest.mark.parametrize("name", codegen.RUNTIME)
def test_runtime_module_is_included_verbatim(name, article):
    included = codegen.include(name)
    source = (codegen._RUNTIME_DIR / f"{name}.py").read_text(encoding="utf-8")
    assert source.endswith(included.body) and len(included.body) > 0.7 * len(source)
    text = codegen.script(derive(parse("64-32:sigmoid-10:softmax", l2=0.0001)))
    assert included.body.rstrip("\n") in text
    tree = ast.parse(source)
    for node in ast.walk(tree):  # NumPy, the standard library and earlier runtime modules
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.level == 1 and node.module in codegen.RUNTIME[: codegen.RUNTIME.index(name)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            assert {n.split(".")[0] for n in names} <= STDLIB | {"numpy"}, names


def test_include_refuses_an_import_below_the_header(tmp_path, monkeypatch):
    (tmp_path / "bad.py").write_text('"""Doc."""\n\nimport math\n\nX = 1\nimport sys\n')
    monkeypatch.setattr(codegen, "_RUNTIME_DIR", tmp_path)
    with pytest.raises(codegen.RenderError, match="imports must open the module"):
        codegen.include("bad")


def test_runtime_names_are_defined_once():
    seen = set()
    for module in codegen.runtime():
        assert not module.defines & seen, module.name
        seen |= module.defines


def test_runtime_is_ruff_clean_at_the_projects_and_the_default_line_length():
    """Included verbatim, the runtime must be format-stable under ruff's defaults (88) too:
    users lint a generated script with `ruff --isolated`."""
    files = [str(codegen._RUNTIME_DIR / f"{name}.py") for name in codegen.RUNTIME]
    for args in (
        ["check", *files],
        ["format", "--check", *files],
        ["format", "--check", "--isolated", "--line-length", "88", *files],
    ):
        run = subprocess.run(
            [sys.executable, "-m", "ruff", *args], capture_output=True, text=True, check=False
        )
        assert run.returncode == 0, run.stdout + run.stderr


def test_load_writes_no_file(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("codegen.load wrote a temporary file")

    for name in ("mkdtemp", "mkstemp", "NamedTemporaryFile", "TemporaryDirectory"):
        monkeypatch.setattr(tempfile, name, refuse)
    module = codegen.load(derive(parse("3-2:tanh-2:softmax")))
    assert module.SPEC["compact"] == "3-2:tanh-2:softmax"


# -- the network's workspaces --------------------------------------------------------------


def test_inference_uses_a_forward_only_workspace_and_the_cache_is_bounded(article):
    net = article.NET
    params = article.init_params(0)
    rng = np.random.default_rng(0)
    for n in (3, 5, 7, 11, 13, 17):
        article.predict(params, rng.normal(size=(n, 64)))
        assert len(net._workspaces) == 1  # one inference workspace at a time
    ws = net.workspace(17, np.float32, backward=False)
    assert "Z1" in ws and not any(k.startswith(("Delta", "dW", "db")) for k in ws)
    for n in (3, 5, 7, 11, 13):
        article.gradients(params, rng.normal(size=(n, 64)), np.eye(10)[np.arange(n) % 10])
        assert len(net._workspaces) <= network.WORKSPACES
    X, Y = rng.normal(size=(4, 64)), np.eye(10)[[0, 1, 2, 3]]
    article.gradients(params, X, Y)
    full = net.workspace(4, np.float64)
    assert "Delta1" in full and net.workspace(4, np.float64, backward=False) is full


# -- the loop, driven by a stand-in network ------------------------------------------------


class Line:
    """y = w x with squared error: the least a `loop.fit` needs, and a scripted val error."""

    def __init__(self, val_errors):
        self.optimizer_lr = {"sgd": 0.1}
        self.val_errors = list(val_errors)

    def for_training(self, rng):
        return self

    def coefficients(self, l1, l2):
        return 0.0, 0.0

    def workspace(self, n, dtype, backward=True):
        return {"Z1": np.empty((n, 1), dtype)}

    def output_names(self):
        return ("Z1",)  # A1 is Z1: no buffer of its own

    def forward_pass(self, params, X, ws):
        Z = np.multiply(X, params["W1"], out=ws["Z1"])
        return [X, Z], [Z]

    def backward_pass(self, params, A, Z, Y, ws, scale):
        delta = (A[1] - Y) * scale / len(Y)
        return {"W1": np.array([np.sum(delta * A[0])])}, {"Delta1": delta}

    def penalty_gradient(self, params, grads, l1, l2):
        pass

    def data_loss(self, out, Y):
        return float(np.sum((out["Z1"] - Y) ** 2) / 2)

    def penalty(self, params, l1, l2):
        return 0.0

    def loss(self, params, X, Y, l1, l2):
        return float(np.sum((X * params["W1"] - Y) ** 2) / 2) / len(Y)

    def risk(self, data_loss, N, penalty):
        return data_loss / N + penalty

    def count_errors(self, out, Y):
        return 0

    def error(self, params, X, Y):
        return self.val_errors.pop(0)

    def clip(self, grads, squares, clip_value, clip_norm):
        pass

    def optimizer(self, kind, params, lr, l1, l2, fused=True):
        def step(params, grads):
            params["W1"] -= lr * grads["W1"]

        return step, None


def _fit(net, params, **options):
    X = np.linspace(-1, 1, 8)[:, None]
    data = {"X_train": X, "Y_train": 3 * X, "X_val": X, "Y_val": 3 * X}
    settings = {"epochs": 5, "batch_size": 4, "lr": None, "optimizer": "sgd", "patience": 0}
    settings |= {"clip_value": None, "clip_norm": None, "seed": 0, "log": lambda *a: None}
    return loop.fit(net, params, data, **(settings | options))


def test_early_stopping_restores_the_weights_of_the_best_epoch():
    seen = []
    params = {"W1": np.array([0.0])}
    history = _fit(
        Line([0.5, 0.2, 0.3, 0.4, 0.1]),
        params,
        patience=2,
        callback=lambda epoch, p, h: seen.append(p["W1"].copy()) and False,
    )
    assert history["stopped"] == "early stopping at epoch 4" and history["best_epoch"] == 2
    assert len(history["loss"]) == 4 and history["loss"][-1] < history["loss"][0]
    assert params["W1"] == seen[1]  # the weights after epoch 2, not the last ones
    assert seen[3] != seen[1]


def test_without_patience_every_epoch_runs_and_the_best_is_kept():
    params = {"W1": np.array([0.0])}
    history = _fit(Line([0.5, 0.4, 0.3, 0.2, 0.1]), params)
    assert history["stopped"] == "epochs" and history["best_epoch"] == 5
    assert len(history["grad_norms"]) == 5 and set(history["grad_norms"][0]) == {"W1"}


def test_divergence_stops_and_keeps_the_best_weights():
    params = {"W1": np.array([0.0])}
    history = _fit(Line([0.5] * 5), params, lr=1e200)
    assert history["stopped"].startswith("non-finite loss")
    assert np.isfinite(params["W1"]).all()


# -- data ----------------------------------------------------------------------------------


def test_read_data_holds_out_a_validation_split_and_one_hot_encodes(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X_train=np.arange(20.0).reshape(10, 2), y_train=np.arange(10) % 3)
    data = rdata.read_data(path, inputs=2, outputs=3, task="classification", val_split=0.2, seed=0)
    assert data["X_train"].shape == (8, 2) and data["Y_val"].shape == (2, 3)
    assert sorted(np.concatenate([data["X_train"], data["X_val"]])[:, 0]) == list(range(0, 20, 2))
    with pytest.raises(rdata.DataError, match="expected 3 input columns"):
        rdata.read_data(path, inputs=3, outputs=3, task="classification", val_split=0, seed=0)


def test_read_params_checks_every_shape(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, W1=np.zeros((2, 3)), b1=np.zeros(2))
    shapes = {"W1": (2, 3), "b1": (2,)}
    assert rdata.read_params(path, shapes, np.float32)["W1"].dtype == np.float32
    with pytest.raises(rdata.DataError, match="b1 missing or not of shape"):
        rdata.read_params(path, {"W1": (2, 3), "b1": (3,)}, np.float32)


def test_every_line_of_a_script_is_header_printed_runtime_or_binding():
    text = codegen.script(derive(parse("64-32:sigmoid-10:softmax", l2=0.0001)))
    counts = codegen.parts(text)
    assert sum(counts.values()) == len(text.splitlines())
    assert list(counts)[:2] == ["header", "printed"] and list(counts)[-1] == "binding"
    for module in codegen.runtime():  # the module's body, its rule line and 4 blank lines
        lines = len(module.body.rstrip("\n").splitlines())
        assert counts[f"runtime/{module.name}.py"] == lines + 5, module.name


def test_no_top_level_name_of_a_script_is_defined_twice():
    """Printed part, runtime and binding share one namespace: a clash would silently rebind."""
    tree = ast.parse(codegen.script(derive(parse("5-4:relu-3:softmax", l1=0.01))))
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    assert len(names) == len(set(names)), sorted(n for n in set(names) if names.count(n) > 1)
