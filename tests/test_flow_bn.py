"""analyze of a spec with batch normalisation or dropout (issue 11): one mini-batch, training mode.

A batch of one sample has no variance to normalise by, so the user's-spec measurement of a
normalised network reads per-sample δ's as the rows of one mini-batch's Δ. The reference
here is independent of the generated code: the batch risk written in NumPy from the
definitions, differentiated by central differences in Z^(1).
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from symfnn import api
from symfnn.engine.spec import parse_compact
from symfnn.flow import analyze as flow
from symfnn.flow import experiments, symbolic
from symfnn.flow.report import tex_chapter

BN2 = "64-8:sigmoid:bn-6:tanh:bn-10:softmax"
BN_DROP = "64-8:sigmoid:bn-6:tanh:dropout=0.25-10:softmax"
SETTINGS = replace(flow.QUICK, samples=16, seed=3)


def _data(samples: int) -> experiments.Data:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(samples, 64))
    Y = np.eye(10)[rng.integers(0, 10, samples)]
    return experiments.Data(X, Y, X[:2], np.zeros(2, dtype=int))


def _measure(spec: str, samples: int = 16):
    net = parse_compact(spec)
    sym = symbolic.spec_bounds(net)
    data = _data(samples)
    out = experiments.user_spec(net, sym, replace(SETTINGS, samples=samples), data, lambda _: 0)
    return net, data, out


def _bn(Z: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mu, var = Z.mean(axis=0), Z.var(axis=0)  # biased variance, ε = 1e-5
    return gamma.ravel() * (Z - mu) / np.sqrt(var + 1e-5) + beta.ravel()


def _output(Z1: np.ndarray, p: dict) -> np.ndarray:
    """BN2's softmax output of the batch from Z^(1) on, from the definitions."""
    A1 = 1 / (1 + np.exp(-_bn(Z1, p["gamma1"], p["beta1"])))
    A2 = np.tanh(_bn(A1 @ p["W2"].T, p["gamma2"], p["beta2"]))
    Z3 = A2 @ p["W3"].T + p["b3"].ravel()
    e = np.exp(Z3 - Z3.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _risk(Z1: np.ndarray, p: dict, Y: np.ndarray) -> float:
    return float(-(Y * np.log(_output(Z1, p))).sum() / len(Y))


def test_per_sample_deltas_are_a_mini_batch_s_rows():
    """max_n ‖δ_n^(1)‖/‖δ_n^(L)‖ equals the reference's, δ = N ∂R/∂Z by central differences.

    (With batches of one, as for a plain network, layer 1's δ would be 0: ẑ = 0 and the
    compact δ vanishes.)"""
    net, data, out = _measure(BN2)
    assert out["mini_batch"] and out["coupled_layers"] == 2
    X, Y = data.X[:16], data.Y[:16]
    N, h = len(X), 1e-6
    for scheme, row in out["schemes"].items():
        p = experiments._params(experiments.generated(net), scheme, SETTINGS.seed)
        Z1 = X @ p["W1"].T
        delta1 = np.zeros_like(Z1)
        for n in range(N):
            for j in range(Z1.shape[1]):
                E = np.zeros_like(Z1)
                E[n, j] = h
                delta1[n, j] = N * (_risk(Z1 + E, p, Y) - _risk(Z1 - E, p, Y)) / (2 * h)
        # δ^(L) = N ∂R/∂Z^(L) = A^(L) − Y for softmax with cross-entropy
        ratio = np.linalg.norm(delta1, axis=1) / np.linalg.norm(_output(Z1, p) - Y, axis=1)
        assert row["measured_max_ratio"][0] == pytest.approx(ratio.max(), rel=1e-5), scheme
        assert row["measured_max_ratio"][0] > 1e-3  # not the vanished δ of a batch of one
        # no per-sample bound at or below a normalised layer; the output layer's is 1
        assert row["bound_delta_l_over_delta_L"] == [None, None, 1.0]


def test_a_dropout_layer_s_bound_has_the_keep_scale_and_holds():
    """Above the last bn layer the product bound applies, with 1/(1 − q) for dropout."""
    _, _, out = _measure(BN_DROP)
    assert out["coupled_layers"] == 1 and out["dropout"]
    for row in out["schemes"].values():
        W3 = row["W_spectral_norm"][2]
        # sup tanh' = 1, q = 0.25: ‖δ^(2)‖ ≤ 1 · (4/3) · ‖W^(3)‖₂ ‖δ^(3)‖
        assert row["bound_delta_l_over_delta_L"][1] == pytest.approx(4 / 3 * W3, rel=1e-12)
        assert row["bound_delta_l_over_delta_L"][0] is None
        assert 0 < row["measured_max_ratio"][1] <= row["bound_delta_l_over_delta_L"][1]
        assert row["bound_holds"]


def test_spec_bounds_have_no_factor_for_a_normalised_layer():
    plain = symbolic.spec_bounds(parse_compact("64-8:sigmoid-6:tanh-10:softmax"))
    normed = symbolic.spec_bounds(parse_compact(BN_DROP))
    assert normed["normalised_layers"] == [1] and normed["dropout_layers"] == [2]
    for scheme, v in normed["schemes"].items():
        first, second = v["layers"]
        assert first["factor_bound"] is None and v["product"] is None
        plain_second = plain["schemes"][scheme]["layers"][1]["factor_bound"]["float"]
        assert second["factor_bound"]["float"] == pytest.approx(plain_second * 4 / 3)
    assert plain["schemes"]["xavier"]["product"] is not None


def _text(chapter) -> str:
    """Every string in a chapter's data (the template's fields), joined."""
    if isinstance(chapter, dict):
        return "\n".join(_text(v) for v in chapter.values())
    if isinstance(chapter, (list, tuple)):
        return "\n".join(_text(v) for v in chapter)
    return chapter if isinstance(chapter, str) else ""


SMALL = replace(
    flow.QUICK,
    depth=6,
    width=16,
    probe=100,
    speed_depth=2,
    speed_width=16,
    epochs=1,
    clip_epochs=1,
    bn_depth=2,
    samples=16,
)


def test_analyze_of_a_bn_spec_writes_its_report_and_chapters(tmp_path):
    """api.analyze no longer refuses bn/dropout; the report and both chapters say how."""
    result = api.analyze(
        "64-16:sigmoid:bn-16:tanh:dropout=0.25-10:softmax",
        tmp_path / "flow",
        settings=SMALL,
        progress=lambda _: None,
    )
    data = json.loads(result.json_path.read_text())
    assert data["spec"]["mini_batch"] and data["spec"]["coupled_layers"] == 1
    assert {p.name for p in result.plots} >= {"spec_bound.png", "spec_bound.pdf"}
    report = result.report_path.read_text()
    assert "one mini-batch, in training mode" in report and "none (bn)" in report
    assert "1/(1 − q)" in report
    en, zh = (
        _text(tex_chapter(result, lang=lang, graphics_dir="flow", recurrence_label="eq:x"))
        for lang in ("en", "zh")
    )
    for tex, words in ((en, "one mini-batch in training mode"), (zh, "训练模式下的一个小批量")):
        assert words in tex
        assert r"\frac{1}{1 - q}" in tex  # the keep scale, printed by SymPy
