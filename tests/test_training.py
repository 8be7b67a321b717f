"""Training rules (symfnn.engine.training) as the generated script runs them and the document shows them.

The references here are plain NumPy written in this file, independent of the rule table and
of the printer: a table or printing error (Adam without its bias correction, momentum without
its decay, He's scale in fan_out) fails these tests, not only the golden comparison.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from test_hyper import _report, toml

from symfnn.documents import document
from symfnn.engine import training
from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.flow import symbolic as flow_symbolic
from symfnn.script import codegen

# fan_in != fan_out everywhere, far apart: a scale in the wrong fan is off by 2x or more
WIDE = "400-50:tanh-400:tanh-20:softmax"


@pytest.fixture(scope="module")
def script():
    return codegen.load(derive(parse("3-4:tanh-2:softmax")))


def _arrays(seed: int) -> tuple[dict, list[dict]]:
    """Parameters of two shapes and three steps of gradients, float64."""
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(size=(4, 3)), "b1": rng.normal(size=4)}
    grads = [{k: rng.normal(size=p.shape) for k, p in params.items()} for _ in range(3)]
    return params, grads


def _reference(kind: str, params: dict, grads: list[dict], lr: float) -> dict:
    """The textbook updates, by hand: SGD; momentum v = mu v - lr g, theta += v (mu 0.9);
    Adam (Kingma & Ba 2015, Algorithm 1) with beta1 0.9, beta2 0.999, eps 1e-8."""
    theta = {k: p.copy() for k, p in params.items()}
    first = {k: np.zeros_like(p) for k, p in params.items()}
    second = {k: np.zeros_like(p) for k, p in params.items()}
    for t, g in enumerate(grads, start=1):
        for k in params:
            if kind == "sgd":
                theta[k] = theta[k] - lr * g[k]
            elif kind == "momentum":
                first[k] = 0.9 * first[k] - lr * g[k]
                theta[k] = theta[k] + first[k]
            else:
                first[k] = 0.9 * first[k] + 0.1 * g[k]
                second[k] = 0.999 * second[k] + 0.001 * g[k] ** 2
                m_hat = first[k] / (1 - 0.9**t)
                v_hat = second[k] / (1 - 0.999**t)
                theta[k] = theta[k] - lr * m_hat / (np.sqrt(v_hat) + 1e-8)
    return theta


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("steps", [1, 3])
def test_printed_optimizer_matches_a_hand_written_reference(script, kind, steps):
    params, grads = _arrays(seed=steps)
    grads = grads[:steps]
    expected = _reference(kind, params, grads, lr=0.01)
    step = script.OPTIMIZERS[kind](params, 0.01)
    for g in grads:
        step(params, {k: v.copy() for k, v in g.items()})  # the step may use g as scratch
    for k in params:
        np.testing.assert_allclose(params[k], expected[k], rtol=1e-12, atol=1e-15)


def test_optimizer_state_is_allocated_only_for_the_one_in_use(script):
    """Measured with tracemalloc: SGD keeps nothing, momentum one array per parameter (v),
    Adam three (m, v and a scratch array)."""
    import tracemalloc

    params = {"W1": np.zeros((200, 100)), "b1": np.zeros(200)}
    size = sum(p.nbytes for p in params.values())
    held = {}
    for kind in ("sgd", "momentum", "adam"):
        tracemalloc.start()
        step = script.OPTIMIZERS[kind](params, 0.01)
        held[kind] = tracemalloc.get_traced_memory()[0] / size
        tracemalloc.stop()
        del step
    assert held["sgd"] < 0.05
    assert 0.95 < held["momentum"] < 1.1 and 2.95 < held["adam"] < 3.1


def test_train_updates_with_the_table_optimizer(script):
    """train() on one full batch: after each epoch the weights are the hand-written updates
    of the script's own gradients (the shuffle does not change a full batch's mean)."""
    rng = np.random.default_rng(3)
    data = {"X_train": rng.normal(size=(6, 3)), "Y_train": np.eye(2)[rng.integers(0, 2, 6)]}
    for kind in ("sgd", "momentum", "adam"):
        start = script.init_params(1, "xavier", np.float64)
        grads, theta = [], {k: p.copy() for k, p in start.items()}
        seen = []
        for _ in range(3):
            grads.append(script.gradients(theta, data["X_train"], data["Y_train"])[1])
            theta = _reference(kind, start, grads, 0.1)
            seen.append(theta)
        params = {k: p.copy() for k, p in start.items()}
        after: list[dict] = []

        def keep(epoch, p, history, after=after):
            after.append({k: v.copy() for k, v in p.items()})

        script.train(params, data, epochs=3, batch_size=6, lr=0.1, optimizer=kind, patience=0,
                     callback=keep, log=lambda *a: None)  # fmt: skip
        for expected, got in zip(seen, after, strict=True):
            for k in got:
                np.testing.assert_allclose(got[k], expected[k], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("scheme", ["normal", "xavier", "he"])
def test_init_std_measured_on_non_square_layers(scheme):
    module = codegen.load(derive(parse(WIDE)))
    params = module.init_params(seed=0, scheme=scheme, dtype=np.float64)
    widths = [400, 50, 400, 20]
    for l in range(1, 4):
        fan_in, fan_out = widths[l - 1], widths[l]
        expected = {
            "normal": 1.0,
            "xavier": math.sqrt(2.0 / (fan_in + fan_out)),
            "he": math.sqrt(2.0 / fan_in),
        }[scheme]
        W = params[f"W{l}"]
        assert W.shape == (fan_out, fan_in)
        assert np.std(W) == pytest.approx(expected, rel=0.06), (scheme, l)
        assert abs(np.mean(W)) < 0.1 * expected and not params[f"b{l}"].any()


def test_one_init_table_feeds_script_document_and_flow():
    for scheme in training.INITS:
        fan_in, fan_out = sp.Integer(400), sp.Integer(50)
        table = training.init_std(scheme, fan_in, fan_out)
        assert flow_symbolic.init_std(scheme, fan_in, fan_out) == table
        module = codegen.load(derive(parse("4-3:tanh-2:softmax")))
        assert module.INIT_STD[scheme](400, 50) == pytest.approx(float(table), rel=1e-15)


def test_clip_by_value_then_by_norm(script):
    net = script.NET
    grads = {"W1": np.array([[3.0, -4.0], [0.5, -0.1]]), "b1": np.array([10.0, -0.2])}
    squares = {k: float(np.vdot(g, g)) for k, g in grads.items()}
    net.clip(grads, squares, 1.0, None)  # by value: every entry into [-1, 1]
    assert grads["W1"].tolist() == [[1.0, -1.0], [0.5, -0.1]]
    assert grads["b1"].tolist() == [1.0, -0.2]
    squares = {k: float(np.vdot(g, g)) for k, g in grads.items()}
    before = {k: g.copy() for k, g in grads.items()}
    total = math.sqrt(sum(squares.values()))
    net.clip(grads, squares, None, 0.5)  # by norm: the global norm becomes 0.5, directions kept
    after = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    assert after == pytest.approx(0.5, rel=1e-12)
    for k, g in grads.items():
        np.testing.assert_allclose(g, before[k] * 0.5 / total, rtol=1e-12)
    net.clip(grads, {k: float(np.vdot(g, g)) for k, g in grads.items()}, None, 10.0)
    assert math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())) == pytest.approx(0.5)


def _box(tmp_path, optimizer: str, init: str = "he") -> str:
    path = toml(tmp_path, f'optimizer = "{optimizer}"\ninit = "{init}"')
    tex = document.tex_source(derive(parse(str(path))), report=_report())
    start = tex.index(r"\begin{algorithm}")
    return tex[start : tex.index(r"\end{algorithm}", start)]


def test_algorithm_box_shows_adams_update_and_sgd_without_adam(tmp_path):
    adam = _box(tmp_path, "adam")
    for piece in (r"\hat{m}", r"\hat{v}", r"\beta_{1}", r"\beta_{2}", r"\epsilon", "t + 1"):
        assert piece in adam, piece
    assert r"1 - \beta_{1}^{t}" in adam  # the bias correction
    sgd = _box(tmp_path, "sgd")
    assert r"\theta \leftarrow" in sgd and r"\alpha" in sgd and "g" in sgd
    for piece in ("adam", "Adam", r"\beta", r"\hat", r"\epsilon", r"\mu"):
        assert piece not in sgd, piece
    momentum = _box(tmp_path, "momentum")
    assert r"\mu = 0.9" in momentum and r"\theta \leftarrow \theta + v" in momentum


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam"])
def test_algorithm_box_and_printed_update_are_the_same_rule(script, kind):
    """Run the document's assignments (the SymPy pairs the box prints) as scalar arithmetic,
    element by element, and the script's printed step on arrays: the same numbers."""
    doc = document._Doc(derive(parse("3-4:tanh-2:softmax")), "en", None, None)
    _, steps, hyper = doc.update_steps(kind)
    lines, _ = doc.update_rule(kind)
    assert lines[1:] == [
        doc.m(sp.Eq(a, b, evaluate=False), order="none" if a == training.T else None).replace(
            "=", r"\leftarrow", 1
        )
        for a, b in steps
    ]
    values = {sym: float(v) for sym, v in hyper} | {training.ALPHA: 0.01}
    params, grads = _arrays(seed=7)
    by_box = {k: p.copy() for k, p in params.items()}
    envs: dict = {}  # per element: the symbols' values, a state or count 0 before its first set
    for g in grads:
        for k, theta in by_box.items():
            for i in np.ndindex(theta.shape):
                env = envs.setdefault((k, i), {target: 0.0 for target, _ in steps})
                env |= values | {training.THETA: theta[i], training.G: g[k][i]}
                for target, value in steps:
                    env[target] = float(value.xreplace(env))
                theta[i] = env[training.THETA]
    step = script.OPTIMIZERS[kind](params, 0.01)
    for g in grads:
        step(params, {k: v.copy() for k, v in g.items()})
    for k in params:
        np.testing.assert_allclose(params[k], by_box[k], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(
    "scheme, shown",
    [
        ("normal", "= 1$"),
        ("xavier", r"\frac{\sqrt{2}}{\sqrt{m^{(l)} + m^{(l-1)}}}"),
        ("he", r"\frac{\sqrt{2}}{\sqrt{m^{(l-1)}}}"),  # fan_in = m(l-1), never m(l)
    ],
)
def test_algorithm_box_shows_the_init_scheme_of_the_spec(tmp_path, scheme, shown):
    box = _box(tmp_path, "sgd", init=scheme)
    line = next(x for x in box.splitlines() if r"\operatorname{std}" in x)
    assert shown in line and scheme in line
