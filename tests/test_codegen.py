"""The NumPy printer, the stable forms and the generated script's text."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symfnn.engine import activations
from symfnn.engine.derive import derive
from symfnn.engine.losses import LOSSES
from symfnn.engine.spec import parse
from symfnn.errors import RenderError
from symfnn.render import template_dir
from symfnn.script import codegen, codeprint

ROOT = Path(__file__).resolve().parent.parent
ELEMENTWISE = [n for n in activations.names() if not activations.TABLE[n].output_only]
STDLIB = set(sys.stdlib_module_names)


@pytest.fixture(scope="module")
def article():
    return derive(parse("64-32:sigmoid-10:softmax", l2=0.0001))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_stable_activation_is_proven_equal_to_the_definition(name):
    act = activations.derive_activation(name)
    assert codeprint.prove_stable(act)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_stable_activation_is_finite_and_accurate_at_large_z(name):
    act = activations.derive_activation(name)
    x = sp.Symbol("x", real=True)
    stable = codeprint.stable_activation(act).subs(activations.z, x)
    f = sp.lambdify(x, stable, modules=[{"log1p": np.log1p}, "numpy"])
    z = np.array([-1000.0, -30.0, -1.0, 0.0, 0.5, 30.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow would raise here
        got = np.asarray(f(z), dtype=float) * np.ones_like(z)
    assert np.isfinite(got).all()
    exact = [float(act.f.subs(activations.z, sp.Float(v, 50)).evalf(30)) for v in z]
    # absolute accuracy: sigmoid's (1 + tanh(z/2))/2 is exact to ~1e-16 on its range [0, 1]
    assert np.allclose(got, exact, rtol=1e-12, atol=1e-15)


def test_stable_softmax_and_logsumexp_are_proven():
    assert codeprint.prove_stable_softmax()


@pytest.mark.parametrize(
    "loss, out",
    [
        ("cross_entropy", "softmax"),
        ("binary_cross_entropy", "sigmoid"),
    ],
)
def test_stable_loss_is_proven_equal_to_the_definition(loss, out):
    assert codeprint.prove_stable_loss(loss, out)


def test_squared_error_is_printed_as_defined():
    # no log, nothing to stabilise: the script sums the definition itself
    assert codeprint.stable_loss("squared_error", "identity") == (
        LOSSES["squared_error"].ell,
        False,
    )


def test_printer_names_follow_the_math(article):
    p = codeprint.printer()
    layer = article.layers[0]
    assert p.code(layer.forward_z.batch) == "A0 @ W1.T + b1"
    assert p.code(layer.delta.batch) == "A1 * (1 - A1) * (Delta2 @ W2)"
    assert p.statements("db1", layer.grad_b.batch) == [
        "np.matmul(ones, Delta1, out=db1)",
        "db1 /= N",
    ]
    assert p.statements("Delta2", article.layers[1].delta.batch) == [
        "np.subtract(A2, Y, out=Delta2)"
    ]


def test_script_cites_every_equation_label_and_has_a_header(article):
    text = codegen.script(article)
    for layer in article.layers:
        for step in (layer.forward_z, layer.forward_a, layer.delta, layer.grad_W, layer.grad_b):
            assert f"(eq:batch-{step.label})" in text
    head = text[:600]
    assert "do not edit" in head and "64-32:sigmoid-10:softmax" in head and "symfnn 0.1.0" in head


def test_cited_labels_exist_in_the_document(article):
    import re

    from symfnn.documents.document import tex_source
    from symfnn.engine.verify import verify

    cited = set(re.findall(r"\(eq:([\w-]+)\)", codegen.script(article)))
    tex = tex_source(article, report=verify(article, points=1, symbolic=False))
    assert cited and all(f"\\label{{eq:{label}}}" in tex for label in cited)


def test_script_imports_only_numpy_and_the_standard_library(article):
    tree = ast.parse(codegen.script(article))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module.split(".")[0])
    assert modules - STDLIB == {"numpy"}


def test_template_holds_no_math():
    text = (template_dir() / "train.py.jinja").read_text()
    for formula in (
        "np.exp",
        "np.tanh",
        "np.log",
        " @ ",
        "np.maximum",
        "np.matmul",
        ") / len(X) +",
        "math.",
        "np.sqrt",
        "np.clip",
        "beta",
    ):
        assert formula not in text, formula
    # no algorithm: the template's loops and branches are Jinja's, over printed pieces
    assert not re.search(r"^\s*(for|while|if(?! __name__)) ", text, re.MULTILINE)


def test_golden_scripts_are_regenerated_byte_for_byte():
    """`SYMFNN_REGEN=1 pytest tests/test_codegen.py -k golden` rewrites generated/*.py."""
    for name, text in codegen.examples().items():
        if os.environ.get("SYMFNN_REGEN"):
            (ROOT / "generated" / name).write_text(text, encoding="utf-8")
        golden = (ROOT / "generated" / name).read_text(encoding="utf-8")
        assert golden == text, f"regenerate with SYMFNN_REGEN=1: {name}"


def _ruff() -> list[str]:
    """The venv's ruff (`python -m ruff`); missing, a skip here and a failure under CI=true."""
    if importlib.util.find_spec("ruff") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("ruff is not installed in this environment (pip install -e '.[test]')")
        pytest.skip("ruff is not installed")
    return [sys.executable, "-m", "ruff"]


def test_generated_scripts_pass_ruff_with_default_settings():
    files = [str(ROOT / "generated" / name) for name in codegen.EXAMPLES]
    for args in (["check"], ["format", "--check"]):
        run = subprocess.run(
            [*_ruff(), *args, "--isolated", *files], capture_output=True, text=True, check=False
        )
        assert run.returncode == 0, run.stdout + run.stderr


def test_write_refuses_to_overwrite_without_force(tmp_path, article):
    path = tmp_path / "train.py"
    codegen.write(article, path)
    with pytest.raises(RenderError, match="--force"):
        codegen.write(article, path)
    path.write_text("old")
    assert codegen.write(article, path, force=True).read_text() == codegen.script(article)


def test_load_gives_the_contract(tmp_path, article):
    module = codegen.load(article)
    for name in ("SPEC", "init_params", "forward", "loss", "gradients", "predict", "train", "main"):
        assert hasattr(module, name)
    params = module.init_params(seed=0, scheme="he", dtype=np.float64)
    assert params["W1"].shape == (32, 64) and params["b1"].shape == (32,)
    X = np.random.default_rng(0).normal(size=(5, 64))
    Y = np.eye(10)[[1, 2, 3, 4, 5]]
    R, grads, deltas = module.gradients(params, X, Y, return_deltas=True)
    A = module.predict(params, X)  # an independent reference for R: the definitions by hand
    penalty = 1e-4 / 2 * sum(np.sum(params[k] ** 2) for k in ("W1", "W2"))
    reference = -np.sum(Y * np.log(A)) / len(X) + penalty
    assert R == pytest.approx(reference, rel=1e-10)
    assert module.loss(params, X, Y) == pytest.approx(reference, rel=1e-10)
    assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in params.items()}
    assert deltas["Delta1"].shape == (5, 32) and deltas["Delta2"].shape == (5, 10)
    assert np.allclose(module.predict(params, X).sum(1), 1)
    codegen.write(article, tmp_path / "t.py")
    assert codegen.load(tmp_path / "t.py").SPEC["compact"] == "64-32:sigmoid-10:softmax"
    with pytest.raises(RenderError):
        codegen.load(tmp_path / "missing.py")


def test_script_matches_the_derivation_evaluated_by_sympy():
    """The script's gradients equal the derivation's batch forms evaluated exactly."""
    from symfnn.engine import verify

    spec = parse("2-3:tanh-2:elu-3:softmax", l1=0.01, l2=0.02)
    d = derive(spec)
    module = codegen.load(d)
    inst = verify._instance(spec, 2)
    rng = np.random.default_rng(1)
    params = {
        k: p + rng.normal(0, 0.3, p.shape)
        for k, p in module.init_params(0, "xavier", np.float64).items()
    }
    X = rng.normal(size=(2, 2))
    Y = np.eye(3)[[0, 2]]
    point = {s: sp.Float(v) for s, v in zip(inst.X, X.ravel())}
    point |= {s: sp.Integer(int(v)) for s, v in zip(inst.Y, Y.ravel())}
    for l in range(1, spec.depth + 1):
        point |= {s: sp.Float(v) for s, v in zip(inst.W[l - 1], params[f"W{l}"].ravel())}
        point |= {s: sp.Float(v) for s, v in zip(inst.b[l - 1], params[f"b{l}"].ravel())}
    expected = [float(g) for g in verify.recurrence_gradients(d, inst, point)]
    _, grads = module.gradients(params, X, Y)
    got = np.concatenate(
        [np.concatenate([grads[f"W{l}"].ravel(), grads[f"b{l}"]]) for l in range(1, 4)]
    )
    assert np.allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_forward_is_finite_for_huge_pre_activations():
    module = codegen.load(derive(parse("3-4:sigmoid-4:softplus-2:sigmoid")))
    params = module.init_params(0, "normal", np.float64)
    for k in params:
        params[k] *= 400.0
    X = np.array([[3.0, -3.0, 2.0], [-3.0, 3.0, -2.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A = module.forward(params, X)
        R = module.loss(params, X, np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert all(np.isfinite(a).all() for a in A) and np.isfinite(R)


TRAINING_TOML = """input = 4
[[layers]]
width = 5
activation = "tanh"
[[layers]]
width = 3
activation = "softmax"
[training]
epochs = 3
batch_size = 8
lr = 0.0125
optimizer = "sgd"
patience = 2
clip_norm = 5
dtype = "float64"
"""


def test_training_table_becomes_the_scripts_defaults(tmp_path):
    spec_path = tmp_path / "net.toml"
    spec_path.write_text(TRAINING_TOML, encoding="utf-8")
    d = derive(parse(str(spec_path)))
    script_path = codegen.write(d, tmp_path / "train.py")
    module = codegen.load(script_path)
    args = module.build_parser(module.NET, "").parse_args([])
    given = {"epochs": 3, "batch_size": 8, "lr": 0.0125, "optimizer": "sgd", "patience": 2}
    for key, value in given.items():
        assert getattr(args, key) == value, key
    assert (args.clip_norm, args.clip_value, args.dtype, args.init) == (
        5.0,
        None,
        "float64",
        "xavier",
    )
    assert module.build_parser(module.NET, "").parse_args(["--epochs", "9"]).epochs == 9
    defaults = {k: p.default for k, p in inspect.signature(module.train).parameters.items()}
    for key, value in given.items():
        assert defaults[key] == value, key
    assert defaults["clip_norm"] == 5.0
    assert module.init_params()["W1"].dtype == np.float64
    rng = np.random.default_rng(0)
    data = {"X_train": rng.normal(size=(20, 4)), "Y_train": np.eye(3)[rng.integers(0, 3, 20)]}
    history = module.train(module.init_params(), data, log=lambda *_: None)
    assert 1 <= len(history["loss"]) <= 3
    for args in (["check"], ["format", "--check"]):
        run = subprocess.run(
            [*_ruff(), *args, "--isolated", str(script_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stdout + run.stderr


def test_without_training_lr_follows_the_optimizer(article):
    module = codegen.load(article)
    args = module.build_parser(module.NET, "").parse_args(["--optimizer", "sgd"])
    assert args.lr is None and module.OPTIMIZER_LR[args.optimizer] == 0.2
    assert module.TRAINING["epochs"] == 50 and module.TRAINING["init"] == module.DEFAULT_INIT
