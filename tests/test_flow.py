"""Gradient flow: the article's numbers derived by SymPy, and measured facts on a fixed seed.

One small `analyze` run (module-scoped) feeds the tests that read its JSON; it measures the
real generated code (`symfnn.script.codegen.load`), so a broken code generator fails here. The
independent NumPy implementation at the end of this file is only the reference that the
generated gradients are checked against.
"""

from __future__ import annotations

import json
import math
import re
import types
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symfnn.engine import training
from symfnn.engine.spec import parse_compact
from symfnn.errors import RenderError
from symfnn.flow import analyze as flow
from symfnn.flow import symbolic as flow_symbolic
from symfnn.render import template_dir

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
    clip_epochs=3,  # enough for the clipped run to leave chance (0.71 measured at epoch 3)
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


def test_clipping_rescues_the_exploding_run(run):
    _, data, _ = run
    c = data["clipping"]
    at = c["at_init"]
    # measured after the generated `_clip`: the global norm lands on the threshold and every
    # layer shrinks by the same factor clip_norm / total_norm_before
    assert at["total_norm_before"] > c["clip_norm"]
    assert at["total_norm_after"] == pytest.approx(c["clip_norm"], rel=1e-6)
    factor = c["clip_norm"] / at["total_norm_before"]
    np.testing.assert_allclose(at["W_after"], np.array(at["W_before"]) * factor, rtol=1e-6)
    unclipped, clipped = c["runs"]["unclipped"], c["runs"]["clipped"]
    # without clipping the gradient explodes and the run ends at chance, its ReLUs dead
    assert max(v for v in unclipped["grad_norm"] if v is not None) > 1e6
    assert unclipped["val_accuracy"][-1] < c["chance"] + 0.05
    assert unclipped["dead_units"][-1] > 0.5
    # with clipping the same run learns
    assert not clipped["diverged"]
    assert max(clipped["grad_norm"]) < 1e3
    assert clipped["val_accuracy"][-1] > 0.5


def test_l2_shrinks_the_weights_and_the_bound_of_an_exploding_net(run):
    from symfnn.flow.experiments import total_weight_norm

    _, data, _ = run
    r = data["l2"]
    assert (r["activation"], r["init"]) == ("tanh", "normal")
    none, reg = r["none"], r["l2"]
    assert none["delta"][0][0] > none["delta"][0][-1]  # at init the first layer's is larger
    assert total_weight_norm(reg)[-1] < total_weight_norm(none)[-1]
    # every spectral norm (the bound's factors: tanh's largest slope is 1) ends smaller
    assert all(a < b for a, b in zip(reg["spectral"][-1], none["spectral"][-1]))


def test_batchnorm_evens_the_gradients_of_a_deep_sigmoid_net(run):
    _, data, lines = run
    r = data["batchnorm"]
    assert (r["activation"], r["init"]) == ("sigmoid", "normal")
    plain, bn = r["plain"], r["bn"]
    assert ":bn" not in plain["spec"] and plain["spec"].count(":bn") == 0
    assert bn["spec"].count(":bn") == r["hidden"]  # measured on the generated bn script
    hidden = slice(0, r["hidden"])  # the output layer is not normalised
    wp, wb = plain["W_at_init"][hidden], bn["W_at_init"][hidden]
    # sigmoid, N(0,1): the first layer's weight gradient is well below the last hidden one's
    assert plain["first_over_last_hidden_W"] < 0.5
    # batch-normalised: every hidden layer's within a factor 1.5 of the others (0.23 … 0.25)
    assert max(wb) / min(wb) < 1.5 < max(wp) / min(wp)
    assert plain["first_over_last_hidden_W"] == pytest.approx(wp[0] / wp[-1])
    # bn layers have β instead of b: the speed-of-learning norms still cover every layer
    assert len(bn["delta"][0]) == r["hidden"] + 1
    # learning speed: after the same SGD epochs the bn net is more accurate (fixed seed)
    assert bn["val_accuracy"][-1] > plain["val_accuracy"][-1] + 0.1
    assert any("batch norm: bn" in line for line in lines)


def test_batchnorm_makes_the_weight_gradient_scale_inversely_with_the_weights():
    """Why bn evens the flow: a normalised layer's output does not depend on the scale of its
    W, so ∂R/∂(cW) = ∂R/∂W / c (up to ε); a plain layer has no such property."""
    from symfnn.flow.experiments import _params, deep_spec, digits, generated

    data = digits(0)
    X, Y = data.X[:64], data.Y[:64]
    for bn, expect in ((True, 0.5), (False, None)):
        module = generated(deep_spec("sigmoid", 2, 8, bn=bn))
        params = _params(module, "normal", 0)
        _, g1 = module.gradients(params, X, Y)
        scaled = dict(params, W2=2 * params["W2"])
        _, g2 = module.gradients(scaled, X, Y)
        ratio = np.linalg.norm(g2["W2"]) / np.linalg.norm(g1["W2"])
        if expect is None:
            assert abs(ratio - 0.5) > 0.05
        else:
            assert ratio == pytest.approx(expect, rel=1e-3)
            np.testing.assert_allclose(g2["W2"], g1["W2"] / 2, rtol=5e-3, atol=1e-6)  # ε


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
    text = (template_dir() / "flow.tex.jinja").read_text()
    for typed in ("$", "\\frac", "\\partial", "\\sigma", "\\|", "\\sup", "N(0"):
        assert typed not in text, typed


def test_generated_gradients_match_an_independent_implementation():
    """The analysis measures the generated code; check it against the stand-in's NumPy."""
    from symfnn.engine.derive import derive

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


# -- the chapter: an argument whose numbers are its equations' ------------------------------


@pytest.fixture(scope="module")
def chapters(run):
    result, _, _ = run
    return {lang: flow.tex_chapter(result, lang=lang, graphics_dir="doc-flow") for lang in LANGS}


LANGS = ("en", "zh")


def test_exploding_quotient_is_the_printed_equation(run, chapters):
    """∂C/∂b1 / ∂C/∂bk: the printed quotient, evaluated at w = 100, z = 0, is the quoted number."""
    _, data, _ = run
    ex = data["symbolic"]["article"]["exploding"]
    quotient = sp.sympify(ex["quotient_first_last"]["exact"].replace("sigma'", "sp_"))
    at = {s: 100 for s in quotient.free_symbols if s.name.startswith("w_")}
    at |= {s: 0 for s in quotient.free_symbols if s.name.startswith("z_")}
    value = quotient.replace(sp.Function("sp_"), sp.Lambda(sp.Symbol("x"), sp.Rational(1, 4)))
    assert value.subs(at) == 25 ** (K - 1) == int(ex["grad_b1_over_grad_bk"]["exact"])
    assert ex["first_last_power"]["exact"] == f"25**{K - 1}"
    latex = chapters["en"]["latex"]
    assert rf"25^{{{K - 1}}} = {25 ** (K - 1)}" in latex
    assert str(25**K) not in latex  # the input gain ∂C/∂x is not what the equation shows


def test_bound_is_the_unrolled_recurrence():
    from symfnn.flow import bound as fb

    rb = fb.recurrence_bound()
    assert rb["checked_depths"][-1] >= 5
    # the product the chapter prints, evaluated: every slope 1/4, every norm 2 → (1/2)^(L-l)
    slopes, norms = {t: sp.Rational(1, 4) for t in range(1, 5)}, {t: 2 for t in range(2, 6)}
    assert fb.product_value(1, 5, slopes, norms) == sp.Rational(1, 16)
    assert fb.product_value(5, 5, slopes, norms) == 1
    # a wrong unrolling (one layer's factor dropped) is not the product
    wrong = fb.unrolled(1, 4).xreplace({fb.SupSlope(2): 1})
    closed = fb.product().subs({fb.l: 1, fb.L: 4}).doit() * fb.Norm(fb.delta(4))
    assert sp.simplify(wrong - closed) != 0
    assert sp.simplify(fb.unrolled(1, 4) - closed) == 0


def test_orders_spanned_is_defined_and_computed_as_defined(run, chapters):
    from symfnn.flow import bound as fb

    _, data, _ = run
    for r in data["at_init"]["runs"]:
        if r["spread_orders_W"] is not None:
            expected = math.log10(max(r["W"]) / min(r["W"]))
            assert r["spread_orders_W"] == pytest.approx(expected)
    assert fb.orders_definition() in chapters["en"]["latex"]
    assert r"\log_{10}" in fb.orders_definition()


def test_chapter_links_back_to_the_delta_recurrence(chapters):
    for lang, ch in chapters.items():
        assert r"\eqref{eq:delta}" in ch["latex"], lang


@pytest.mark.parametrize("lang", LANGS)
def test_every_figure_is_referenced_and_interpreted(chapters, lang):
    latex = chapters[lang]["latex"]
    labels = re.findall(r"\\label\{(fig:[^}]*)\}", latex)
    assert len(labels) == len(flow.PLOT_NAMES)
    for label in labels:
        refs = [m.start() for m in re.finditer(rf"\\ref\{{{re.escape(label)}\}}", latex)]
        assert refs, f"{label} has no \\ref in the chapter"
    assert set(re.findall(r"\\ref\{(fig:[^}]*)\}", latex)) <= set(labels)


def test_clipping_numbers_in_the_text_come_from_the_run(run, chapters):
    _, data, _ = run
    c = data["clipping"]["runs"]
    latex = chapters["en"]["latex"]
    for name in ("unclipped", "clipped"):
        acc = sp.latex(sp.Float(c[name]["val_accuracy"][-1], 3))
        assert f"${acc}$" in latex, name


def test_plot_paths_are_relative_to_the_tex(chapters, run):
    result, _, _ = run
    latex = chapters["en"]["latex"]
    paths = re.findall(r"\\includegraphics\[width=([0-9.]+)in\]\{([^}]*)\}", latex)
    assert len(paths) == len(flow.PLOT_NAMES)
    for width, path in paths:
        assert path.startswith("doc-flow/") and (result.out_dir / Path(path).name).is_file()
        # included at the width it was drawn at: the 8 pt text stays 8 pt on paper
        assert float(width) == pytest.approx(result.data["plot_text"][Path(path).stem]["inches"][0])


def test_figures_are_legible_at_print_size(run):
    from symfnn.flow import plots as flow_plots

    result, _, _ = run
    for name, text in result.data["plot_text"].items():
        assert text["min_points"] >= 8, name
        assert text["inches"][0] == pytest.approx(flow_plots.WIDTH_IN), name


def test_place_plots_copies_next_to_the_compiled_tex(chapters, tmp_path):
    flow.place_plots(chapters["en"], tmp_path)
    for plot in chapters["en"]["plots"]:
        assert (tmp_path / plot["path"]).stat().st_size > 1000


def test_document_chapter_puts_the_analysis_beside_the_tex(run, tmp_path, monkeypatch):
    """derive --tex doc.tex --flow: plots in doc-flow/, named relative to doc.tex."""
    result, _, _ = run
    seen = {}

    def fake_analyze(spec, out, **options):
        seen.update(options, out=Path(out))
        return result

    monkeypatch.setattr(flow, "analyze", fake_analyze)
    spec = parse_compact("64-8:sigmoid-10:softmax")
    ch = flow.document_chapter(spec, tmp_path / "work", tex=tmp_path / "doc.tex", lang="zh")
    assert seen["out"] == tmp_path / "doc-flow" and seen["lang"] == "zh" and seen["quick"]
    assert all(p["path"].startswith("doc-flow/") for p in ch["plots"])
    assert r"\eqref{eq:delta}" in ch["latex"] and "梯度消失" in ch["latex"]
    flow.document_chapter(spec, tmp_path / "work", lang="en")  # a PDF only: the work folder
    assert seen["out"] == tmp_path / "work" / "flow"


# words the Chinese chapter may keep in Latin letters: names, code, units of the figures
LATIN_OK = {"SymPy", "Nielsen", "Xavier", "He", "ReLU", "relu", "tanh", "sigmoid", "softmax"}
LATIN_OK |= {"digits", "Hadamard", "L2", "N"}


def test_chinese_chapter_is_chinese(chapters):
    from symfnn.flow.prose import EN

    latex = chapters["zh"]["latex"]
    for term in ("梯度消失", "梯度爆炸", "梯度截断", "正则化", "误差项", "图"):
        assert term in latex, term
    for key in ("title", "h_chain", "h_bound", "h_init", "h_clip", "h_l2", "cap_clipping"):
        assert EN[key] not in latex, key
    assert not re.findall(r"\\text\{[A-Za-z ]+\}", latex)  # words inside formulas too
    # no English words outside math, commands and code
    prose = re.sub(r"\\begin\{(equation|align\*)\}.*?\\end\{\1\}", " ", latex, flags=re.DOTALL)
    prose = re.sub(r"\$[^$]*\$", " ", prose)
    # arguments that are names, not words; then every command's name (headings stay)
    names = r"ref|eqref|label|includegraphics|texttt|renewcommand|begin|end"
    prose = re.sub(rf"\\({names})(\[[^]]*\])?\{{[^}}]*\}}(\{{[lrc]+\}}|\[[a-z!]+\])?", " ", prose)
    prose = re.sub(r"\\[a-zA-Z]+\*?", " ", prose)
    words = set(re.findall(r"[A-Za-z][A-Za-z']+", prose)) - LATIN_OK
    assert not words, sorted(words)


def test_prose_tables_match():
    from symfnn.flow import prose as flow_prose

    assert flow_prose.EN.keys() == flow_prose.ZH.keys()
    for key, text in flow_prose.EN.items():
        assert flow_prose.placeholders(text) == flow_prose.placeholders(flow_prose.ZH[key]), key


# -- the stand-in (same contract as the generated script, symfnn/script/codegen.py) -------------


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
            std = float(training.init_std(scheme, m_in, m_out))  # the one init table
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
