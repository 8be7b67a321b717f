"""The public API (symfnn/api.py): each stage alone, the pipeline, and the README's example."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import symfnn
from symfnn import api
from symfnn.errors import RenderError, SpecError

SPEC = "4-5:sigmoid-3:softmax"
ROOT = Path(__file__).resolve().parent.parent
HAVE_TEX = shutil.which("latexmk") is not None


@pytest.fixture(scope="module")
def d() -> api.Derivation:
    return symfnn.derive(SPEC, l2=0.01)


@pytest.fixture(scope="module")
def report(d):
    return d.verify()


# -- import and names -----------------------------------------------------------------------


def test_import_does_not_load_sympy():
    code = "import sys, symfnn; print(symfnn.__version__); assert 'sympy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_symfnn_derive_is_the_function_and_still_the_module(d):
    from symfnn.engine import derive as engine
    from symfnn.engine.derive import Step

    assert isinstance(d, api.Derivation) and isinstance(d, engine.Derivation)
    assert symfnn.engine.derive.Step is Step and engine is symfnn.engine.derive
    assert symfnn.Derivation is api.Derivation and symfnn.Config is api.Config
    with pytest.raises(AttributeError):
        symfnn.no_such_name  # noqa: B018


# -- stage: spec ----------------------------------------------------------------------------


def test_spec_from_text_toml_and_networkspec_agree(tmp_path):
    toml = tmp_path / "net.toml"
    toml.write_text(
        'input = 4\nl2 = 0.01\n[[layers]]\nwidth = 5\nactivation = "sigmoid"\n'
        '[[layers]]\nwidth = 3\nactivation = "softmax"\n'
    )
    from_text = api.load_spec(SPEC, l2=0.01)
    assert api.load_spec(toml) == from_text
    assert api.load_spec(str(toml)) == from_text
    assert api.load_spec(api.load_spec(SPEC), l2=0.01) == from_text
    assert api.load_spec(from_text, loss="mse").loss == "squared_error"


@pytest.mark.parametrize("as_spec", [False, True])
@pytest.mark.parametrize(("options", "message"), [({"l2": -1}, "l2"), ({"loss": "hinge"}, "loss")])
def test_bad_options_are_spec_errors(as_spec, options, message):
    spec = api.load_spec(SPEC) if as_spec else SPEC
    with pytest.raises(SpecError, match=message):
        api.load_spec(spec, **options)


def test_a_spec_is_text_a_path_or_a_networkspec():
    with pytest.raises(SpecError, match="spec is text"):
        api.load_spec(42)


# -- stage: derivation and proof ------------------------------------------------------------


def test_derivation_matches_the_engine(d):
    from symfnn.engine.derive import derive as engine_derive

    plain = engine_derive(api.load_spec(SPEC, l2=0.01))
    assert d.labels == plain.labels
    assert [layer.delta.matrix for layer in d.layers] == [
        layer.delta.matrix for layer in plain.layers
    ]


def test_verify_is_truthy_when_proven_and_runs_once(d, report):
    assert report and report.ok
    assert d.verify() is report  # cached: documents reuse it
    assert not replace(report, mismatches=["d R / d w: brute force 1, derivation 2"])


# -- stage: documents -----------------------------------------------------------------------


def test_to_tex_returns_the_text_and_writes_it(d, report, tmp_path):
    text = d.to_tex()
    assert text.startswith(r"\documentclass") and r"\end{document}" in text
    target = tmp_path / "d.tex"
    assert d.to_tex(target) == text == target.read_text(encoding="utf-8")
    with pytest.raises(RenderError, match="exists"):
        d.to_tex(target)
    assert "\\begin{CJK}" in d.to_tex(lang="zh") or "ctex" in d.to_tex(lang="zh")


def test_to_html_returns_the_page_and_writes_it(d, report, tmp_path):
    target = tmp_path / "d.html"
    page = d.to_html(target)
    assert page.startswith("<!DOCTYPE html>") and page.count("<math") > 100
    assert page == target.read_text(encoding="utf-8")
    with pytest.raises(RenderError, match="exists"):
        d.to_html(target, lang="zh")


@pytest.mark.skipif(not HAVE_TEX, reason="latexmk not installed")
def test_to_pdf_writes_a_pdf(d, report, tmp_path):
    path = d.to_pdf(tmp_path / "d.pdf")
    assert path.read_bytes().startswith(b"%PDF")
    with pytest.raises(RenderError, match="exists"):
        d.to_pdf(path)


def test_notebook_display_shows_forward_pass_and_gradients(d):
    shown = html.unescape(d._repr_html_())
    assert shown.count("<tr>") == 5 * len(d.layers)  # z, a, δ, ∂R/∂W, ∂R/∂b per layer
    assert "⊙" in shown and "∂" in shown
    latex = d._repr_latex_()
    assert latex.startswith("$$") and r"\odot" in latex


def test_notebook_display_shows_the_batch_norm_steps():
    """A bn layer's rows are its mini-batch steps from symfnn.engine.batchnorm (no "None = None"):
    forward z, μ, σ², ẑ, y, a; backward δ^y, dẐ, δ (both the mean's and the variance's path),
    ∂R/∂W, ∂R/∂γ, ∂R/∂β; the plain output layer keeps its five rows."""
    from symfnn.documents.latexprint import latex, summary_rows
    from symfnn.documents.tidy import as_batch
    from symfnn.engine.batchnorm import batch_backward, batch_forward

    bn = symfnn.derive("4-5:tanh:bn:dropout=0.2-3:softmax")
    rows = summary_rows(bn)
    first = bn.layers[0]
    steps = [*batch_forward(first), *batch_backward(first)]
    want = [(as_batch(st.batch_lhs), as_batch(st.batch)) for st in steps]
    assert len(steps) == 12 and all(rhs is not None for _, rhs in want)
    assert rows[:6] == want[:6] and rows[-6:] == want[6:] and len(rows) == 12 + 5
    shown = html.unescape(bn._repr_html_())
    assert shown.count("<tr>") == 17 and "None" not in shown
    assert all(x in shown for x in ("μ", "σ", "γ", "β", "ϵ", "Δ"))
    tex = bn._repr_latex_()
    assert "None" not in tex and tex.count("&=") == 17
    delta = latex(want[8][1])
    mean_path = r"\mathbf{1}_{B}^{\top} d\hat{Z}^{(1)}"
    variance_path = r"\hat{Z}^{(1)} \odot (\mathbf{1}_{B} \mathbf{1}_{B}^{\top} (d\hat{Z}^{(1)}"
    assert mean_path in delta and variance_path in delta and delta in tex
    assert r"M^{(1)}" in tex  # the dropout mask


# -- stage: script and check ----------------------------------------------------------------


def test_script_and_module_leave_no_files(d, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    source = d.script()
    compile(source, "train.py", "exec")
    m = d.module()
    assert list(tmp_path.iterdir()) == []
    params = m.init_params(seed=0)
    X = np.random.default_rng(0).normal(size=(6, 4))
    Y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    R, grads = m.gradients(params, X, Y)
    assert set(grads) == set(params) and np.isfinite(R)


def test_check_returns_the_gradient_check(d):
    result = d.check()
    assert result.ok and {row.name for row in result.rows} == {"W1", "b1", "W2", "b2"}


# -- the pipeline ---------------------------------------------------------------------------


def test_pipeline_keeps_every_stage(tmp_path):
    config = api.Config(
        l2=0.01, tex=tmp_path / "d.tex", html=tmp_path / "d.html", script=tmp_path / "train.py"
    )
    out = api.pipeline(SPEC, config)
    assert out.spec == api.load_spec(SPEC, l2=0.01)
    assert out.derivation.spec == out.spec
    assert out.report and out.ok
    assert out.tex == (tmp_path / "d.tex").read_text(encoding="utf-8")
    assert out.html == (tmp_path / "d.html").read_text(encoding="utf-8")
    assert out.script == (tmp_path / "train.py").read_text(encoding="utf-8")
    assert out.check is None and out.flow is None
    assert sorted(p.name for p in out.written) == ["d.html", "d.tex", "train.py"]


def test_pipeline_refuses_before_any_work(tmp_path, monkeypatch):
    taken = tmp_path / "d.html"
    taken.write_text("mine")

    def never(*args, **kwargs):
        raise AssertionError("derived although the target was taken")

    monkeypatch.setattr(api, "derive", never)
    with pytest.raises(RenderError, match="exists"):
        api.pipeline(SPEC, api.Config(html=taken))
    assert taken.read_text() == "mine"


def test_pipeline_refuses_two_outputs_naming_one_file(tmp_path):
    same = tmp_path / "d.out"
    with pytest.raises(SpecError, match="same file"):
        api.pipeline(SPEC, api.Config(tex=same, html=tmp_path / "." / "d.out"))


def test_analyze_passes_the_spec_to_the_flow_analysis(monkeypatch, tmp_path):
    from symfnn.flow import analyze as flow

    seen = {}
    monkeypatch.setattr(flow, "analyze", lambda spec, out, **kw: seen.update(spec=spec, **kw))
    symfnn.analyze(SPEC, tmp_path, l2=0.01, quick=True)
    assert seen["spec"] == api.load_spec(SPEC, l2=0.01) and seen["quick"] is True


# -- the README -----------------------------------------------------------------------------


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "README has no ```python example"
    return blocks[0]


def test_readme_example_runs(tmp_path):
    code = _readme_example()
    if not HAVE_TEX:
        code = code.replace("d.to_pdf(", "(lambda *a, **k: None)(")
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "True" in done.stdout
