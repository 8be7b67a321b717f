"""The generated script of a network with batch normalisation / dropout (issue 11).

Its risk and gradients are compared with a reference written here from the definitions alone
(plain NumPy forward pass, a fourth-order central difference of that reference risk), and with
PyTorch's batch_norm (and autograd) when torch is importable; a corrupted backward line of the
printed script must fail both the comparison and the script's own gradient check.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symfnn.engine import derive, spec
from symfnn.script import codegen, codegen_bn

EPS = 1e-5  # the framework convention: training-mode BN, biased batch variance

ARCHS = [
    ("4-5:tanh:bn-3:softmax", {}),
    ("5-6:elu:bn:dropout=0.3-3:softmax", {"l2": 0.001}),
    ("3-4:tanh:bn-4:relu:bn-2:identity", {"loss": "squared_error"}),
    ("4-6:sigmoid:dropout=0.25-5:tanh:bn-3:sigmoid", {"loss": "binary_cross_entropy"}),
]


def _module(text: str, opts: dict):
    return codegen.load(derive.derive(spec.parse(text, **opts)))


_cache: dict = {}


def module(text: str, opts: dict):
    key = (text, tuple(sorted(opts.items())))
    if key not in _cache:
        _cache[key] = _module(text, opts)
    return _cache[key]


# -- the reference, from the definitions ------------------------------------------------------

F = {
    "tanh": np.tanh,
    "sigmoid": lambda u: 1 / (1 + np.exp(-u)),
    "relu": lambda u: np.maximum(u, 0),
    "elu": lambda u: np.where(u > 0, u, np.expm1(np.minimum(u, 0))),
    "identity": lambda u: u,
}


def ref_forward(net: spec.NetworkSpec, params, X, masks, stats=None):
    """A_L (and each normalised layer's U = gamma zhat + beta) straight from the definitions."""
    A, pre = X, {}
    for l, layer in enumerate(net.layers, 1):
        Z = A @ params[f"W{l}"].T
        if layer.batchnorm:
            if stats is None:  # training mode: the batch's mean and biased variance
                mu, var = Z.mean(axis=0), Z.var(axis=0)
            else:
                mu, var = stats[f"mean{l}"], stats[f"var{l}"]
            U = params[f"gamma{l}"] * (Z - mu) / np.sqrt(var + EPS) + params[f"beta{l}"]
        else:
            U = Z + params[f"b{l}"]
        pre[l] = U
        if layer.activation == "softmax":
            E = np.exp(U - U.max(axis=1, keepdims=True))
            A = E / E.sum(axis=1, keepdims=True)
        else:
            A = F[layer.activation](U)
        if layer.dropout and stats is None:
            A = A * masks[f"Mask{l}"] / (1 - layer.dropout)
    return A, pre


def ref_risk(net, params, X, Y, masks) -> float:
    A, _ = ref_forward(net, params, X, masks)
    if net.loss == "cross_entropy":
        ell = -Y * np.log(A)
    elif net.loss == "binary_cross_entropy":
        ell = -(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    else:
        ell = (A - Y) ** 2 / 2
    penalty = sum(net.l2 / 2 * np.sum(params[f"W{l}"] ** 2) for l in range(1, net.depth + 1))
    return float(np.sum(ell) / len(X) + penalty)


def ref_gradient(net, params, X, Y, masks, key, h=1e-4) -> np.ndarray:
    """Fourth-order central differences of the reference risk, coordinate by coordinate."""
    p, g = params[key], np.empty_like(params[key])
    for i in range(p.size):
        old, f = p.flat[i], []
        for s in (2, 1, -1, -2):
            p.flat[i] = old + s * h
            f.append(ref_risk(net, params, X, Y, masks))
        p.flat[i] = old
        g.flat[i] = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * h)
    return g


def case(text, opts, seed=3, n=7):
    mod = module(text, opts)
    net = spec.parse(text, **opts)
    rng = np.random.default_rng(seed)
    params = mod.init_params(seed, dtype=np.float64)
    for k in params:  # move gamma, beta, b off their initial 1 and 0
        if not k.startswith(("W", "mean", "var")):
            params[k] = params[k] + 0.3 * rng.standard_normal(params[k].shape)
    X = rng.standard_normal((n, net.input_width))
    m = net.widths[-1]
    if mod.TASK == "classification":
        Y = np.eye(m)[rng.integers(0, m, n)]
    elif mod.TASK == "multilabel":
        Y = (rng.random((n, m)) < 0.5).astype(float)
    else:
        Y = rng.standard_normal((n, m))
    return mod, net, params, X, Y, mod.masks(n, seed=seed + 1)


@pytest.mark.parametrize("text,opts", ARCHS)
def test_risk_and_gradients_equal_the_reference(text, opts):
    mod, net, params, X, Y, masks = case(text, opts)
    R, grads = mod.gradients(params, X, Y, masks=masks)
    assert R == pytest.approx(ref_risk(net, params, X, Y, masks), abs=1e-12, rel=1e-12)
    _, pre = ref_forward(net, params, X, masks)
    for l, layer in enumerate(net.layers, 1):  # no kink within the differences' reach
        if layer.activation in ("relu", "elu"):
            assert np.min(np.abs(pre[l])) > 1e-3
    assert sorted(grads) == sorted(mod.TRAINABLE)
    for key in mod.TRAINABLE:
        want = ref_gradient(net, params, X, Y, masks, key)
        np.testing.assert_allclose(grads[key], want, rtol=0, atol=1e-9, err_msg=key)


@pytest.mark.parametrize("text,opts", ARCHS[:2])
def test_gradients_are_deterministic_for_a_seed(text, opts):
    mod, _, params, X, Y, _ = case(text, opts)
    R1, g1 = mod.gradients(params, X, Y, seed=5)
    R2, g2 = mod.gradients(params, X, Y, seed=5)
    assert R1 == R2 and all(np.array_equal(g1[k], g2[k]) for k in g1)


def test_training_mode_matches_torch_batch_norm():
    torch = pytest.importorskip("torch")
    text, opts = ARCHS[1]
    mod, net, params, X, Y, masks = case(text, opts)
    Z = torch.tensor(X @ params["W1"].T)
    gamma, beta = (torch.tensor(params[k], requires_grad=True) for k in ("gamma1", "beta1"))
    U = torch.nn.functional.batch_norm(Z, None, None, gamma, beta, training=True, eps=EPS)
    A1 = torch.nn.functional.elu(U) * torch.tensor(masks["Mask1"]) / (1 - 0.3)
    ours = mod.forward(params, X, train=True, masks=masks)
    np.testing.assert_allclose(ours[1], A1.detach().numpy(), rtol=0, atol=1e-12)
    # and the gradients of gamma1, beta1 by torch's autograd through the rest of the net
    W2, b2 = torch.tensor(params["W2"]), torch.tensor(params["b2"])
    logits = A1 @ W2.T + b2
    risk = -(torch.tensor(Y) * torch.log_softmax(logits, dim=1)).sum() / len(X)
    risk = risk + net.l2 / 2 * sum(float(np.sum(params[f"W{l}"] ** 2)) for l in (1, 2))
    risk.backward()
    _, grads = mod.gradients(params, X, Y, masks=masks)
    np.testing.assert_allclose(grads["gamma1"], gamma.grad.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(grads["beta1"], beta.grad.numpy(), rtol=0, atol=1e-12)


def _one_step_statistics(mod, text, opts):
    """One training step of `mod` on a whole batch of 9: its running mean and variance of
    every normalised layer after, and what the definition says they are (numpy's mean and
    var(ddof=1) of that step's Z, before its update, momentum 0.1 from 0 and 1)."""
    _, net, params, X, Y, _ = case(text, opts, n=9)
    before = {k: v.copy() for k, v in params.items()}
    data = {"X_train": X, "Y_train": Y}
    mod.train(
        params, data, epochs=1, batch_size=len(X), lr=0.1, optimizer="sgd", log=lambda s: None
    )
    want, A = {}, X
    for l, layer in enumerate(net.layers, 1):  # the training-mode pass of the weights before
        Z = A @ before[f"W{l}"].T
        if layer.batchnorm:
            want[f"mean{l}"] = 0.9 * 0 + 0.1 * Z.mean(axis=0)
            want[f"var{l}"] = 0.9 * 1 + 0.1 * Z.var(axis=0, ddof=1)  # unbiased, as PyTorch
            Z = before[f"gamma{l}"] * (Z - Z.mean(axis=0)) / np.sqrt(Z.var(axis=0) + EPS)
            Z = Z + before[f"beta{l}"]
        else:
            Z = Z + before[f"b{l}"]
        A = F[layer.activation](Z)
    assert not np.allclose(params["W1"], before["W1"])  # the step did update the weights
    return params, want


def _statistics_agree(params, want) -> bool:
    return all(np.allclose(params[k], v, rtol=0, atol=1e-12) for k, v in want.items())


def test_running_statistics_follow_pytorch_and_predict_uses_them():
    text, opts = ARCHS[2]  # two normalised layers, the second fed by the first
    params, want = _one_step_statistics(module(text, opts), text, opts)
    assert sorted(want) == ["mean1", "mean2", "var1", "var2"]
    for key, value in want.items():
        np.testing.assert_allclose(params[key], value, rtol=0, atol=1e-12, err_msg=key)
    text, opts = ARCHS[0]
    mod, net, params, X, Y, masks = case(text, opts, n=9)
    Z = X @ params["W1"].T
    data = {"X_train": X, "Y_train": Y}
    mod.train(
        params, data, epochs=1, batch_size=len(X), lr=0.1, optimizer="sgd", log=lambda s: None
    )
    try:
        import torch

        rm, rv = (
            torch.zeros(Z.shape[1], dtype=torch.float64),
            torch.ones(Z.shape[1], dtype=torch.float64),
        )
        torch.nn.functional.batch_norm(
            torch.tensor(Z), rm, rv, training=True, momentum=0.1, eps=EPS
        )
        np.testing.assert_allclose(params["var1"], rv.numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(params["mean1"], rm.numpy(), rtol=0, atol=1e-12)
    except ImportError:
        pass
    # evaluation: the running statistics, no dropout; a single sample predicts alone
    want, _ = ref_forward(net, params, X, masks, stats=params)
    np.testing.assert_allclose(mod.predict(params, X), want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(mod.predict(params, X[:1]), want[:1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("change", ["biased variance", "momentum 0.2", "mean from sigma2"])
def test_a_changed_running_statistics_entry_changes_the_script(change, monkeypatch):
    """The script's update is printed from batchnorm.RUNNING and MOMENTUM_VALUE: a wrong
    entry there gives a script whose statistics disagree with the definition."""
    from symfnn.engine import batchnorm as bn

    (mean, mean_value), (var, var_value) = bn.RUNNING
    if change == "biased variance":
        var_value = var_value.subs(bn.N / (bn.N - 1), 1)
        assert not var_value.has(bn.N)
    elif change == "momentum 0.2":
        monkeypatch.setattr(bn, "MOMENTUM_VALUE", sp.Rational(1, 5))
    else:
        mean_value = mean_value.xreplace({bn.mu: bn.var})
    monkeypatch.setattr(bn, "RUNNING", ((mean, mean_value), (var, var_value)))
    text, opts = ARCHS[2]
    params, want = _one_step_statistics(_module(text, opts), text, opts)
    assert not _statistics_agree(params, want)
    # and the table as it is agrees (the same helper, the same run)
    monkeypatch.undo()
    assert _statistics_agree(*_one_step_statistics(_module(text, opts), text, opts))


def test_evaluation_has_no_dropout():
    text, opts = ARCHS[1]
    mod, net, params, X, _, masks = case(text, opts)
    want, _ = ref_forward(net, params, X, masks, stats=params)
    np.testing.assert_allclose(mod.predict(params, X), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "line,cut",
    [
        ("mean path", "    Delta1 -= dZhat1.sum(axis=0)\n"),
        ("variance path", "    Delta1 -= Zhat1 * (dZhat1 * Zhat1).sum(axis=0)\n"),
    ],
)
def test_a_corrupted_bn_backward_line_fails(line, cut):
    text, opts = ARCHS[0]
    d = derive.derive(spec.parse(text, **opts))
    source = codegen.script(d)
    assert cut in source, f"the printed delta line lost its {line}"
    broken = {}
    exec(compile(source.replace(cut, "", 1), "<broken>", "exec"), broken)  # noqa: S102
    net = spec.parse(text, **opts)
    rng = np.random.default_rng(0)
    params = broken["init_params"](0, dtype=np.float64)
    X, Y = rng.standard_normal((6, 4)), np.eye(3)[rng.integers(0, 3, 6)]
    _, grads = broken["gradients"](params, X, Y)
    want = ref_gradient(net, params, X, Y, {}, "W1")
    assert np.max(np.abs(grads["W1"] - want)) > 1e-6
    ok, lines = broken["gradcheck"]()
    assert not ok and lines[-1] == "gradient check: FAILED"


def test_generate_writes_a_script_that_trains_saves_and_loads(tmp_path, capsys):
    """`symfnn generate` for a bn/dropout spec; --save/--load keep the running statistics."""
    import json
    import subprocess
    import sys

    from symfnn.cli import main

    script = tmp_path / "train.py"
    assert main(["generate", "4-6:relu:bn:dropout=0.2-3:softmax", "-o", str(script)]) == 0
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    np.savez(tmp_path / "d.npz", X_train=X[:40], y_train=y[:40], X_test=X[40:], y_test=y[40:])

    def run(*args):
        argv = [sys.executable, str(script), *args]
        return subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, check=False)

    first = run("--data", "d.npz", "--epochs", "3", "--save", "w.npz", "--history", "h.json")
    assert first.returncode == 0, first.stderr
    history = json.loads((tmp_path / "h.json").read_text())  # the shared loop's history
    assert len(history["grad_norm"]) == 3 and history["stopped"] == "epochs"
    assert first.stdout.splitlines()[1].startswith("epoch   1  loss ")
    saved = np.load(tmp_path / "w.npz")
    assert {"W1", "gamma1", "beta1", "mean1", "var1", "W2", "b2"} == set(saved.files)
    assert not np.allclose(saved["mean1"], 0) and not np.allclose(saved["var1"], 1)
    again = run("--data", "d.npz", "--epochs", "0", "--load", "w.npz")
    assert again.returncode == 0 and again.stdout.splitlines()[-1] == first.stdout.splitlines()[-1]
    refused = run("--data", "d.npz", "--epochs", "1", "--save", "w.npz")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    bad = run("--epochs", "many")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    check = run("--gradcheck")
    assert check.returncode == 0 and check.stdout.splitlines()[-1] == "gradient check: PASSED"


# -- symfnn check ------------------------------------------------------------------------------


@pytest.mark.parametrize("text,opts", [*ARCHS[:3], ("4-6:relu:dropout=0.5-3:softmax", {})])
def test_symfnn_check_passes_bn_and_dropout_scripts(text, opts):
    from symfnn.script import gradcheck

    result = gradcheck.run(spec=spec.parse(text, **opts), sympy=False)
    params = {"W1", "gamma1", "beta1"} if ":bn" in text else {"W1", "b1"}
    assert result.ok and {r.name for r in result.rows} >= params


def test_reference_is_the_definition():
    """symfnn.script.reference's normalised layer against torch (or by hand), both modes."""
    from symfnn.engine import batchnorm
    from symfnn.script import reference

    assert float(batchnorm.EPSILON_VALUE) == reference.BN_EPSILON == EPS
    text, opts = ARCHS[1]
    _, net, params, X, _, masks = case(text, opts)
    for stats in (None, params):
        want, pre = ref_forward(net, params, X, masks, stats=stats)
        U, A = reference.forward(net, params, X, masks, train=stats is None)
        np.testing.assert_allclose(U[0], pre[1], rtol=0, atol=1e-13)
        np.testing.assert_allclose(A[-1], want, rtol=0, atol=1e-13)


@pytest.mark.parametrize("cut", ["    Delta1 -= dZhat1.sum(axis=0)\n", "gamma1.T * DeltaY1"])
def test_symfnn_check_script_fails_a_corrupted_bn_line(tmp_path, capsys, cut):
    from symfnn.cli import main

    script = tmp_path / "train.py"
    assert main(["generate", "5-6:elu:bn:dropout=0.3-3:softmax", "-o", str(script)]) == 0
    text = script.read_text()
    assert cut in text
    script.write_text(text.replace(cut, "" if cut.endswith("\n") else "DeltaY1", 1))
    assert main(["check", "--script", str(script)]) == 1
    out = capsys.readouterr().out
    assert "verdict: FAILED" in out and "W1" in out


@pytest.mark.parametrize("text,opts", [*ARCHS[:3], ("4-6:relu:dropout=0.5-3:softmax", {})])
def test_generated_script_passes_ruff_check_and_format(tmp_path, text, opts):
    """`ruff check` and `ruff format --check` under the project's settings (line length 100),
    as the project's own sources are checked."""
    import importlib.util
    import subprocess
    import sys
    from pathlib import Path

    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed")
    config = Path(__file__).resolve().parents[1] / "pyproject.toml"
    script = tmp_path / "train.py"
    script.write_text(codegen.script(derive.derive(spec.parse(text, **opts))))
    for args in (["check"], ["format", "--check"]):
        argv = [sys.executable, "-m", "ruff", *args, "--config", str(config), str(script)]
        run = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout + run.stderr


def test_normalised_runtime_extends_the_network_and_is_ruff_clean():
    """runtime/normalised.py is included after network.py (it imports only what the modules
    before it define) and, verbatim in a script, is format-stable at ruff's default 88 too."""
    import ast
    import subprocess
    import sys

    names = codegen_bn.RUNTIME
    assert names.index("normalised") == names.index("network") + 1
    assert [m for m in names if m != "normalised"] == list(codegen.RUNTIME)
    path = codegen._RUNTIME_DIR / "normalised.py"
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.module in names[: names.index("normalised")]
    for args in (["check"], ["format", "--check"], ["format", "--check", "--isolated"]):
        argv = [sys.executable, "-m", "ruff", *args, str(path)]
        run = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout + run.stderr


def test_a_bn_script_is_laid_out_as_every_script():
    """The template's parts: header, printed, each runtime module (normalised.py after
    network.py), binding; every line counted, no definition of the plain runtime twice."""
    text, opts = ARCHS[1]
    text = codegen.script(derive.derive(spec.parse(text, **opts)))
    counts = codegen.parts(text)
    assert sum(counts.values()) == len(text.splitlines())
    runtime = [k for k in counts if k.startswith("runtime/")]
    assert runtime == [f"runtime/{m}.py" for m in codegen_bn.RUNTIME]
    once = ("def fit(", "def cli_main(", "def check_gradients(", "def load_data(")
    for name in (*once, "class NormNet(Network)"):
        assert text.count(name) == 1, name
    assert "class _Parser" not in text


def test_a_long_step_is_printed_in_place_and_a_negative_term_with_minus():
    """The compact δ of a normalised layer is longer than a line: one in-place operation of
    its SymPy form per line, the fresh array first (no alias of dẐ), `- x` never `+ -x`."""
    text, opts = ARCHS[2]
    source = codegen.script(derive.derive(spec.parse(text, **opts)))
    assert "+ -" not in source and max(len(x) for x in source.splitlines()) <= 100
    for l in (1, 2):
        block = source.split(f"# (eq:batch-delta-{l})\n")[1].split("    # ")[0].split("\n")
        assert block[0] == f"    Delta{l} = N * dZhat{l}"
        assert all(x.startswith(f"    Delta{l} ") for x in block[1:-1]), block


def test_a_bn_script_runs_the_shared_runtime():
    """One loop, one command line, one gradient check: train is runtime/loop.fit (clipping,
    the gradient-norm history), main is cli_main, gradcheck check_gradients; the masks of a
    run come from train's seed."""
    mod = module(*ARCHS[1])
    assert isinstance(mod.NET, mod.Network)
    assert (mod.train.func, mod.main.func, mod.gradcheck.func) == (
        mod.fit,
        mod.cli_main,
        mod.check_gradients,
    )
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)
    data = {"X_train": X, "Y_train": np.eye(3)[y]}
    quiet = {"epochs": 1, "batch_size": 40, "optimizer": "sgd", "log": lambda line: None}

    def run(**options):
        params = mod.init_params(0, dtype=np.float64)
        start = {k: params[k].copy() for k in mod.TRAINABLE}
        history = mod.train(params, data, **(quiet | options))
        moved = np.sqrt(sum(np.sum((params[k] - start[k]) ** 2) for k in mod.TRAINABLE))
        return params, history, moved

    # one SGD step at lr 1 with the global norm clipped to 1e-3: the step is that long
    _, history, moved = run(lr=1.0, clip_norm=1e-3)
    assert history["grad_norm"][0] > 1e-2 and moved == pytest.approx(1e-3, rel=1e-6)
    assert set(history["grad_norms"][0]) >= set(mod.TRAINABLE)
    a, _, _ = run(lr=0.1, seed=1)
    b, _, _ = run(lr=0.1, seed=1)
    c, _, _ = run(lr=0.1, seed=2)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["W1"], c["W1"])  # another seed: other masks and order


BOUND = [
    *ARCHS,
    ("6-5:softplus:bn-4:sigmoid:dropout=0.5-3:softmax", {}),
    ("6-5:relu:bn:dropout=0.5-4:leaky_relu:dropout=0.2-3:softmax", {"l1": 0.01}),
]


@pytest.mark.parametrize("text,opts", BOUND)
def test_the_bound_step_equals_the_printed_passes(text, opts):
    """train()'s step (_passes: the statements lowered into buffers) gives, in float64, the
    numbers of the printed passes it was lowered from, to rounding: the gradients (times
    the scale asked for), the output layer's arrays and the running statistics' update
    (lowering keeps every operation and operand; a sum over the batch is a product with
    ones there, rounded otherwise)."""
    mod, _, params, X, Y, masks = case(text, opts, n=9)
    ws = mod.NET.workspace(len(X), np.float64)
    for k, m in masks.items():
        np.copyto(ws[k], m)
    bound = {k: v.copy() for k, v in params.items()}
    grads = mod._passes(bound, X, Y, ws, 0.5, True)()  # the gradients at scale 0.5
    out = mod._forward(params, X, masks, True)
    mod._running_statistics(params, out)
    want, _ = mod._backward(params, out, Y)
    assert sorted(grads) == sorted(want) == sorted(mod.TRAINABLE)
    close = {"rtol": 1e-10, "atol": 1e-12}
    for k in want:
        np.testing.assert_allclose(grads[k], 0.5 * want[k], **close, err_msg=k)
    for k in mod.NET.output_names():
        np.testing.assert_allclose(ws[k], out[k], **close, err_msg=k)
    for k in params:  # the running statistics updated, the rest untouched
        np.testing.assert_allclose(bound[k], params[k], **close, err_msg=k)


def test_the_bound_step_allocates_no_array():
    """train()'s step writes every operation into the workspace: after the first step, a
    step of 8192 samples allocates less than its smallest array of one row per sample
    (NumPy's own casting buffers are bounded; an (N, 3) float64 array is 196 kB here)."""
    import tracemalloc

    text, opts = BOUND[-1]
    mod, n = module(text, opts), 8192
    params = mod.init_params(0, dtype=np.float64)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((n, 6)), np.eye(3)[rng.integers(0, 3, n)]
    run = mod.NET.for_training(rng).passes(params, X, Y, mod.NET.workspace(n, X.dtype), 1.0)
    run()
    tracemalloc.start()
    for _ in range(3):
        run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < n * 3 * 8, peak


def test_train_steps_as_the_printed_passes_with_the_masks_of_its_seed():
    """One epoch of train() (SGD, float64) is, to rounding, the loop written here from the
    printed passes and masks(): its seed's row order, a fresh mask per step from the same
    generator, the running statistics updated but by the batch of one at the end."""
    text, opts = BOUND[-1]
    mod, _, params, _, _, _ = case(text, opts)
    rng = np.random.default_rng(4)
    X, Y = rng.standard_normal((33, 6)), np.eye(3)[rng.integers(0, 3, 33)]
    want = {k: v.copy() for k, v in params.items()}
    mod.train(
        params, {"X_train": X, "Y_train": Y}, epochs=1, batch_size=16, lr=0.1, l1=0.01,
        optimizer="sgd", seed=7, log=lambda line: None,
    )  # fmt: skip
    rng = np.random.default_rng(7)
    order = rng.permutation(len(X))
    for lo in range(0, len(X), 16):
        at = order[lo : lo + 16]
        masks = mod.masks(len(at), rng)
        out = mod._forward(want, X[at], masks, True)
        if len(at) > 1:
            mod._running_statistics(want, out)
        grads, _ = mod._backward(want, out, Y[at])
        mod._penalty_gradient(want, grads, 0.01, 0.0)
        for k, g in grads.items():
            want[k] -= g * 0.1
    for k, v in want.items():
        np.testing.assert_allclose(params[k], v, rtol=1e-10, atol=1e-12, err_msg=k)


def test_early_stopping_restores_the_running_statistics_with_the_weights():
    """The best epoch's params come back whole: W, gamma, beta and the running mean and
    variance that evaluation used for the validation error that chose it."""
    mod = module(*ARCHS[1])
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 5))
    y = (X[:, 0] + 0.5 * rng.standard_normal(120) > 0).astype(int) + (X[:, 1] > 0.8)
    Y = np.eye(3)[y]
    data = {"X_train": X[:80], "Y_train": Y[:80], "X_val": X[80:], "Y_val": Y[80:]}
    params, seen = mod.init_params(0, dtype=np.float64), []
    history = mod.train(
        params,
        data,
        epochs=8,
        batch_size=16,
        lr=2.0,
        optimizer="sgd",
        patience=0,
        log=lambda line: None,
        callback=lambda epoch, p, h: seen.append({k: v.copy() for k, v in p.items()}) and False,
    )
    best = history["best_epoch"]
    assert 1 < best < 8  # the last epoch's state is not the one kept (seeded run)
    assert all(np.array_equal(params[k], seen[best - 1][k]) for k in params)
    assert not np.array_equal(seen[-1]["mean1"], seen[best - 1]["mean1"])
    assert mod.error(params, data["X_val"], data["Y_val"]) == history["val_error"][best - 1]


def test_digits_with_bn_and_dropout_reach_095(tmp_path):
    """Issue 11's figure: 64-32:relu:bn:dropout=0.2-10:softmax, its defaults, digits."""
    from symfnn import api

    data = tmp_path / "d.npz"
    api.data("digits", data)
    mod = _module("64-32:relu:bn:dropout=0.2-10:softmax", {})
    d = mod.load_data(data)
    params = mod.init_params()
    mod.train(params, d, log=lambda line: None)
    accuracy = 1 - mod.error(params, d["X_test"], d["Y_test"])
    assert accuracy >= 0.95, accuracy


def test_api_module_is_the_bn_script():
    from symfnn import api

    mod = api.derive("4-5:tanh:bn-3:softmax").module()
    assert "gamma1" in mod.TRAINABLE and "mean1" not in mod.TRAINABLE
    assert set(mod.init_params()) == {"W1", "gamma1", "beta1", "mean1", "var1", "W2", "b2"}


def _lowered(groups, shapes, conditional=()):
    """Run `groups` of printed statements lowered (lowering.Lowering) on random arrays of
    `shapes` ("n" = 4), each group in `conditional` skipped; and as printed. Returns the
    names' values, lowered and printed."""
    from symfnn.script import lowering

    low = lowering.Lowering(shapes)
    low.share(*groups)
    setup, body = [], []
    for i, lines in enumerate(groups):
        s, b = low.lower(lines, conditional=i in conditional)
        setup += s
        body += [] if i in conditional else b
    rng = np.random.default_rng(0)
    size = {"n": 4}
    arrays = {k: rng.standard_normal([size.get(d, d) for d in v]) for k, v in shapes.items()}
    ws = {k: np.empty([size.get(d, d) for d in s]) for k, (s, _) in low.buffers.items()}
    printed = {"np": np, "params": {k: v.copy() for k, v in arrays.items()}, "X": arrays["X"]}
    names = {"np": np, "ws": ws, "params": arrays, "X": arrays["X"]}
    exec("\n".join(setup + low.setup() + body), names)  # noqa: S102
    for i, lines in enumerate(groups):
        if i not in conditional:
            exec("\n".join(lines), printed)  # noqa: S102
    return names, printed


def test_lowering_computes_a_repeated_value_once_and_again_after_a_write():
    """A value computed twice is computed once (one subtract for X - m); after an in-place
    write to an operand it is computed again; one computed in a skipped group is not read."""
    shapes = {"X": ("n", 3), "m": (3,)}
    groups = [
        ['m = params["m"]', "A = (X - m) * 2", "B = (X - m) ** 2"],
        ["C = 3 * (X - m) + X"],
        ["m += 1", "D = (X - m) * X"],
        ["E = (X - m) + m * 2"],
    ]
    names, printed = _lowered(groups, shapes, conditional=(1,))
    for k in "ABDE":
        np.testing.assert_allclose(names[k], printed[k], rtol=1e-15, err_msg=k)
    from symfnn.script import lowering

    low = lowering.Lowering(shapes)
    low.share(*groups[:1])
    _, body = low.lower(groups[0])
    assert sum(line.startswith("subtract(") for line in body) == 1, body


def test_a_fused_step_only_on_the_flat_arrays():
    """SGD's fused step (grads at scale lr) on train()'s two flat arrays, where gamma and
    beta are with the biases; on the arrays by name (a network too large for them) the
    plain step, which updates gamma as well (a fused step's biases are b's alone)."""
    mod = module(*ARCHS[0])
    params = mod.init_params(0, dtype=np.float64)
    flat = {"W": np.zeros(3), "b": np.zeros(2)}
    assert mod.NET.optimizer("sgd", flat, 0.1)[1] == 0.1
    step, scale = mod.NET.optimizer("sgd", params, 0.1)
    assert scale is None
    before = params["gamma1"].copy()
    step(params, {k: np.ones_like(params[k]) for k in mod.TRAINABLE})
    np.testing.assert_allclose(params["gamma1"], before - 0.1)
