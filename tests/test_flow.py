"""Gradient flow: the article's numbers derived by SymPy, and measured facts on a fixed seed.

One small `analyze` run (module-scoped) feeds the tests that read its JSON; it measures the
real generated code (`symfnn.codegen.load`), so a broken code generator fails here. The
independent NumPy implementation at the end of this file is only the reference that the
generated gradients are checked against.
"""

from __future__ import annotations

import json
import types
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symfnn import flow, flow_symbolic
from symfnn.errors import RenderError
from symfnn.spec import parse_compact

K = 5  # the chain's depth asked for (the article's is 4)
SMALL = replace(
    flow.QUICK,
    chain_k=K,
    depth=20,
    width=32,
    probe=200,
    speed_depth=3,
    speed_width=16,
    epochs=2,
    clip_depth=6,
    clip_width=32,
    clip_epochs=1,
    samples=8,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("flow")
    lines = []
    result = flow.analyze(None, out, settings=SMALL, progress=lines.append)
    return result, json.loads(result.json_path.read_text()), lines


def value(entry) -> Fraction:
    return Fraction(entry["exact"])


def test_article_numbers_from_the_json(run):
    _, data, _ = run
    art = data["symbolic"]["article"]
    assert art["depth"] == K
    assert value(art["sigmoid_prime_max"]) == Fraction(1, 4)
    assert value(art["sigmoid_prime_argmax"]) == 0
    assert value(art["vanishing"]["factor_bound"]) == Fraction(1, 4)
    assert value(art["vanishing"]["ratio_bound"]) == Fraction(1, 16)
    assert value(art["exploding"]["factor"]) == 25
    assert value(art["exploding"]["growth_depth"]) == 25**K
    assert value(art["exploding"]["grad_b1_over_grad_bk"]) == 25 ** (K - 1)
    assert art["exploding"]["growth_k"]["exact"] == "25**k"
    p = art["p_abs_w_below_1"]
    assert sp.simplify(sp.sympify(p["exact"]) - sp.erf(1 / sp.sqrt(2))) == 0
    assert p["float"] == pytest.approx(0.682689492137, abs=1e-12)


def test_chain_gradient_is_the_product(run):
    _, data, _ = run
    ch = data["symbolic"]["article"]["chain"]
    assert ch["grad_b1_equals_product"]
    assert ch["numeric_check_max_relative_error"] < 1e-20
    # SymPy's quotient is the article's two factors times σ'(z_1)/σ'(z_3)
    assert ch["ratio_article"]["exact"] == "w_2*w_3*sigma'(z_2)*sigma'(z_3)"
    assert ch["ratio_over_article"]["exact"] == "sigma'(z_1)/sigma'(z_3)"


@pytest.mark.parametrize(
    "name, sup, attained",
    [
        ("sigmoid", sp.Rational(1, 4), True),
        ("tanh", 1, True),
        ("relu", 1, True),
        ("softplus", 1, False),
        ("elu", 1, True),
        ("leaky_relu", 1, True),
    ],
)
def test_derivative_maxima(name, sup, attained):
    m = flow_symbolic.derivative_max(name)
    assert m.sup == sup and m.attained == attained


def test_spec_bound_holds_and_estimates_norms(run):
    _, data, _ = run
    for scheme, row in data["spec"]["schemes"].items():
        assert row["bound_holds"], scheme
        # E‖W‖ ≈ s(√m_in + √m_out) for the hidden-to-hidden matrices, within 25 %
        for measured, estimate in zip(row["W_spectral_norm"][1:-1], row["W_norm_estimate"][1:-1]):
            assert measured == pytest.approx(estimate, rel=0.25)


def _run(data, act, init):
    return next(r for r in data["at_init"]["runs"] if (r["activation"], r["init"]) == (act, init))


def test_sigmoid_normal_vanishes(run):
    _, data, _ = run
    assert data["at_init"]["depth"] >= 10
    r = _run(data, "sigmoid", "normal")
    assert r["W"][0] < 1e-2 * r["W"][-1]  # orders of magnitude smaller
    assert r["delta"][0] < 1e-2 * r["delta"][-1]


def test_relu_he_keeps_norms_within_an_order(run):
    _, data, _ = run
    r = _run(data, "relu", "he")
    assert r["spread_orders_W"] <= 1.0


def test_clipping_keeps_the_exploding_run_finite(run):
    _, data, _ = run
    c = data["clipping"]
    assert c["at_init"]["total_norm_before"] > 1e3
    at = c["at_init"]
    # measured after the generated `_clip`: the global norm lands on the threshold and every
    # layer shrinks by the same factor clip_norm / total_norm_before
    assert at["total_norm_after"] == pytest.approx(c["clip_norm"], rel=1e-6)
    factor = c["clip_norm"] / at["total_norm_before"]
    np.testing.assert_allclose(at["W_after"], np.array(at["W_before"]) * factor, rtol=1e-6)
    assert c["runs"]["unclipped"]["diverged"]
    assert not c["runs"]["clipped"]["diverged"]


def test_outputs_and_progress(run):
    result, _data, lines = run
    assert result.report_path.read_text().startswith("# Vanishing and exploding gradients")
    assert len(result.plots) == 2 * len(flow.PLOT_NAMES)
    assert all(p.stat().st_size > 1000 for p in result.plots)
    assert any("at initialisation" in line for line in lines)
    assert result.summary_lines()
    ctx = flow.tex_chapter(result.json_path)
    assert r"\section{Vanishing and exploding gradients}" in ctx["latex"]
    assert len(ctx["plots"]) == len(flow.PLOT_NAMES)
    # the chain's formulas arrive printed by SymPy
    assert r"z_{j} = a_{j-1} w_{j} + b_{j}" in ctx["latex"]
    assert r"\frac{\partial C}{\partial b_{1}} = " in ctx["latex"]
    assert r"\left|{w_{j} \sigma'\!\left(z_{j}\right)}\right| < \frac{1}{4}" in ctx["latex"]


def test_no_math_typed_in_flow_template():
    """The chapter's template lays out prepared strings: no math mode, no formula of its own."""
    text = (Path(flow.__file__).parent.parent / "templates" / "flow.tex.jinja").read_text()
    for typed in ("$", "\\frac", "\\partial", "\\sigma", "\\|", "\\sup", "N(0"):
        assert typed not in text, typed


def test_generated_gradients_match_an_independent_implementation():
    """The analysis measures the generated code; check it against the stand-in's NumPy."""
    from symfnn.derive import derive

    spec = parse_compact("64-8:relu-8:sigmoid-6:tanh-10:softmax")
    ours, theirs = flow.generated(spec), _standin_load(derive(spec))
    params = {k: v.astype(np.float64) for k, v in ours.init_params(seed=3, scheme="he").items()}
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(7, 64)), np.eye(10)[rng.integers(0, 10, 7)]
    (loss_a, grads_a), (loss_b, grads_b) = (
        ours.gradients(params, X, Y),
        theirs.gradients(params, X, Y),
    )
    assert loss_a == pytest.approx(loss_b, rel=1e-12)
    for key in grads_a:
        np.testing.assert_allclose(grads_a[key], grads_b[key], rtol=1e-10, atol=1e-14)


def test_out_dir_overwrite_rule(run, tmp_path):
    result, _, _ = run
    with pytest.raises(RenderError, match="--force"):
        flow.analyze(None, result.out_dir, settings=SMALL, progress=lambda line: None)
    (tmp_path / "file").write_text("x")
    with pytest.raises(RenderError, match="not a folder"):
        flow.analyze(None, tmp_path / "file", settings=SMALL, progress=lambda line: None)


# -- the stand-in (same contract as the generated script, symfnn/codegen.py) -------------


def _f(name, Z):
    if name == "sigmoid":
        return (1 + np.tanh(Z / 2)) / 2
    if name == "tanh":
        return np.tanh(Z)
    if name == "relu":
        return np.maximum(Z, 0)
    raise ValueError(name)


def _fprime(name, A):
    return {
        "sigmoid": lambda: A * (1 - A),
        "tanh": lambda: 1 - A * A,
        "relu": lambda: (A > 0) * 1.0,
    }[name]()


def _standin_load(derivation) -> types.ModuleType:
    """An independent NumPy implementation of the generated script's contract (reference only)."""
    spec = derivation.spec
    widths, acts, L, lam2 = spec.widths, [x.activation for x in spec.layers], spec.depth, spec.l2

    def init_params(seed=0, scheme="xavier", dtype=np.float32):
        rng = np.random.default_rng(seed)
        out = {}
        for l in range(1, L + 1):
            m_in, m_out = widths[l - 1], widths[l]
            std = {"normal": 1.0, "xavier": np.sqrt(2 / (m_in + m_out)), "he": np.sqrt(2 / m_in)}[
                scheme
            ]
            out[f"W{l}"] = (rng.normal(size=(m_out, m_in)) * std).astype(dtype)
            out[f"b{l}"] = np.zeros(m_out, dtype)
        return out

    def forward(params, X):
        A = [X]
        for l in range(1, L + 1):
            Z = A[-1] @ params[f"W{l}"].T + params[f"b{l}"]
            if acts[l - 1] == "softmax":
                E = np.exp(Z - Z.max(1, keepdims=True))
                A.append(E / E.sum(1, keepdims=True))
            else:
                A.append(_f(acts[l - 1], Z))
        return A

    def gradients(params, X, Y, l1=0.0, l2=lam2, return_deltas=False):
        A = forward(params, X)
        N = len(X)
        loss = -np.sum(Y * np.log(np.clip(A[-1], 1e-300, None))) / N
        loss += l2 / 2 * sum(np.sum(params[f"W{l}"] ** 2) for l in range(1, L + 1))
        D = A[-1] - Y
        grads, deltas = {}, {}
        for l in range(L, 0, -1):
            deltas[f"Delta{l}"] = D
            grads[f"W{l}"] = D.T @ A[l - 1] / N + l2 * params[f"W{l}"]
            grads[f"b{l}"] = D.sum(0) / N
            if l > 1:
                D = (D @ params[f"W{l}"]) * _fprime(acts[l - 2], A[l - 1])
        return (loss, grads, deltas) if return_deltas else (loss, grads)

    def train(
        params,
        data,
        *,
        epochs=10,
        batch_size=32,
        lr=0.1,
        optimizer="sgd",
        l1=0.0,
        l2=lam2,
        clip_value=None,
        clip_norm=None,
        patience=None,
        seed=0,
        callback=None,
        log=print,
    ):
        rng = np.random.default_rng(seed)
        X, Y = data["X_train"], data["Y_train"]
        hist = {"loss": [], "grad_norm": []}
        for epoch in range(1, epochs + 1):
            order = rng.permutation(len(X))
            losses, norms = [], []
            for s in range(0, len(X) - batch_size + 1, batch_size):
                idx = order[s : s + batch_size]
                loss, g = gradients(params, X[idx], Y[idx], l2=l2)
                total = np.sqrt(sum(np.sum(v * v) for v in g.values()))
                scale = clip_norm / total if clip_norm and total > clip_norm else 1.0
                for k in params:
                    params[k] -= lr * scale * g[k]
                losses.append(loss)
                norms.append(total)
            hist["loss"].append(float(np.mean(losses)))
            hist["grad_norm"].append(float(np.mean(norms)))
            if callback is not None and callback(epoch, params, hist):
                break
        return hist

    mod = types.ModuleType("standin")
    mod.init_params, mod.forward, mod.gradients, mod.train = init_params, forward, gradients, train
    return mod
