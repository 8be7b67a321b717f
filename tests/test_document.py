"""The derivation document: golden .tex files, compiled PDFs (en, zh), and write errors.

`SYMFNN_REGEN=1 pytest tests/test_document.py` rewrites generated/*.tex and *.pdf.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from symfnn.documents import document
from symfnn.documents import pdf as latexpdf
from symfnn.documents.prose import strings
from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.engine.verify import verify
from symfnn.errors import RenderError, SymfnnError
from symfnn.render import template_dir

GENERATED = Path(__file__).resolve().parent.parent / "generated"
# name -> (spec, options, language): the article's network, a deep ReLU net, a regression net
EXAMPLES = {
    "article": ("4-5:sigmoid-5:tanh-3:softmax", {"l2": 0.01}, "en"),
    "article-zh": ("4-5:sigmoid-5:tanh-3:softmax", {"l2": 0.01}, "zh"),
    "deep-relu": ("8-16:relu-16:relu-16:relu-16:relu-4:softmax", {}, "en"),
    "regression": ("3-8:tanh-2:identity", {}, "en"),
}
HAVE_TEX = shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None
needs_tex = pytest.mark.skipif(not HAVE_TEX, reason="latexmk/pdflatex not installed")
HAVE_XETEX = HAVE_TEX and shutil.which("xelatex") is not None  # the Chinese documents' engine
needs_xetex = pytest.mark.skipif(not HAVE_XETEX, reason="xelatex not installed")
# each compile costs about a second (pdfLaTeX) or two (XeLaTeX)
COMPILED = [name for name, (*_, lang) in EXAMPLES.items() if lang == "en" or HAVE_XETEX]
# the terminology of 邱锡鹏《神经网络与深度学习》 and of the article
ZH_TERMS = ("前向传播", "反向传播", "误差项", "结构风险", "正则化")  # of the main text
ZH_FLOW_TERMS = ("梯度消失", "梯度爆炸", "梯度截断")  # of the gradient-flow chapter
# English that a Chinese document's text must not hold: LaTeX's default names, prose
NOT_ZH = {"Figure", "Table", "Algorithm", "Section", "Contents", "References", "Input"}
NOT_ZH |= {"Output", "Require", "Ensure", "Proof", "Bibliography", "Appendix"}
ENGLISH = {"the", "of", "for", "and", "with", "by", "to", "is", "are"}
SECTIONS = [
    "sec_notation",
    "sec_forward",
    "sec_loss",
    "sec_backprop",
    "sec_activations",
    "sec_output",
    "sec_summary",
    "sec_layers",
    "sec_batch",
    "sec_worked",
    "sec_algorithm",
    "sec_verify",
    "sec_notes",
]


@pytest.fixture(scope="module")
def derived():
    """name -> (derivation, proof report); the proof runs once per architecture."""
    cache, out = {}, {}
    for name, (text, options, _) in EXAMPLES.items():
        key = (text, tuple(sorted(options.items())))
        if key not in cache:
            d = derive(parse(text, **options))
            cache[key] = (d, verify(d))
        out[name] = cache[key]
    return out


@pytest.fixture(scope="module")
def sources(derived):
    return {
        name: document.tex_source(derived[name][0], lang=EXAMPLES[name][2], report=derived[name][1])
        for name in EXAMPLES
    }


@pytest.fixture(scope="module")
def built(sources, tmp_path_factory):
    """name -> folder holding the compiled name.pdf and name.log."""
    out = {}
    for name in COMPILED:
        folder = tmp_path_factory.mktemp(name)
        latexpdf.compile(sources[name], folder, name)
        out[name] = folder
    return out


@pytest.mark.parametrize("name", EXAMPLES)
def test_golden_tex(name, sources, request):
    golden = GENERATED / f"{name}.tex"
    if os.environ.get("SYMFNN_REGEN"):
        golden.write_text(sources[name], encoding="utf-8")
        built = request.getfixturevalue("built")
        if name in built:
            shutil.copy(built[name] / f"{name}.pdf", GENERATED / f"{name}.pdf")
    assert golden.read_text(encoding="utf-8") == sources[name], (
        f"regenerate with SYMFNN_REGEN=1: {name}"
    )


def test_every_label_and_no_timestamps(derived, sources):
    d = derived["article"][0]
    for label in d.labels:
        assert f"\\label{{eq:{label}}}" in sources["article"]
    for label in ("delta-2", "grad-W-1", "delta-out-3", "batch-delta-1", "batch-grad-W-3"):
        assert f"\\label{{eq:{label}}}" in sources["article"]
    assert "\\today" not in sources["article"] and str(GENERATED.parent) not in sources["article"]


def test_no_math_typed_in_template():
    """The template lays out prepared strings: no math mode, no formula of its own."""
    text = (template_dir() / "derivation.tex.jinja").read_text()
    assert "$" not in text and "\\frac" not in text and "\\odot" not in text


@needs_tex
@pytest.mark.parametrize("name", COMPILED)
def test_pdf_text_fonts_and_log(name, built):
    folder = built[name]
    lang = EXAMPLES[name][2]
    text = subprocess.run(
        ["pdftotext", str(folder / f"{name}.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    for key in SECTIONS:
        assert strings(lang)[key] in text, key
    if lang == "en":
        for word in (
            "Backpropagation",
            "softmax" if "softmax" in EXAMPLES[name][0] else "squared error",
            "proven",
        ):
            assert word in text
    else:
        assert "误差反向传播" in text and "已证明" in text
    fonts = subprocess.run(
        ["pdffonts", str(folder / f"{name}.pdf")], capture_output=True, text=True, check=True
    ).stdout
    assert "Type 3" not in fonts
    log = (folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")
    assert not re.search(r"^! ", log, re.MULTILINE)
    assert "undefined" not in log.lower()
    overfull = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide", log)]
    assert all(w <= 5 for w in overfull), overfull


def pdf_tool(tool: str, pdf: Path) -> str:
    return subprocess.run(
        [tool, str(pdf), *(["-"] if tool == "pdftotext" else [])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_zh_headings_and_captions_are_chinese(sources):
    """Every heading and caption of the Chinese source holds Chinese, and it names its engine."""
    zh = sources["article-zh"]
    assert latexpdf.engine(zh) == "xelatex" and latexpdf.engine(sources["article"]) == "pdflatex"
    titles = re.findall(r"\\(?:(?:sub)*section|paragraph|caption)(?:\[[^\]]*\])?\{(.*)", zh)
    assert len(titles) > 10
    for title in titles:
        assert re.search(r"[\u4e00-\u9fff]", title), title


def test_zh_punctuation_is_full_width(sources):
    """Next to Chinese text, punctuation is full-width (，：；（）), as in a Chinese textbook.

    Math, equation numbers such as (grad-W-3), figures and the references (GB/T 7714
    writes them half-width) are left out.
    """
    body = sources["article-zh"].split("\\begin{document}", 1)[1]
    body = body.split("\\begin{thebibliography}")[0]
    envs = r"\\begin\{(align|equation|tikzpicture)\*?\}.*?\\end\{\1\*?\}"
    body = re.sub(envs, " ", body, flags=re.DOTALL)
    body = re.sub(r"\$[^$]*\$|\([\w-]+\)", "M", body)
    body = re.sub(r"\\[a-zA-Z]+|[{}~]", " ", body)  # command names, braces, ties
    cjk = "[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
    assert not re.findall(rf"{cjk} ?[,;:()!?]|[,;:()!?] ?{cjk}", body)


@needs_xetex
def test_zh_pdf_copies_as_chinese_with_embedded_fonts(built, sources):
    """Latin letters and digits copy out as themselves, terms are searchable, no English."""
    pdf = built["article-zh"] / "article-zh.pdf"
    text = pdf_tool("pdftotext", pdf)
    assert "SymPy" in text and "4-5:sigmoid-5:tanh-3:softmax" in text
    joined = text.replace("\n", "")  # a term may wrap at a line's end
    for term in ZH_TERMS:
        assert term in joined, term
    for term in ZH_FLOW_TERMS:  # searchable wherever the document has them
        assert (term in joined) == (term in sources["article-zh"]), term
    assert not set(re.findall(r"[A-Za-z]+", text)) & NOT_ZH
    prose = text[: text.rfind("参考文献")]  # the bibliography cites English titles
    assert not set(re.findall(r"[A-Za-z]+", prose)) & ENGLISH
    fonts = pdf_tool("pdffonts", pdf).splitlines()[2:]
    assert fonts and all(row.split()[-5] == "yes" for row in fonts), fonts  # embedded
    assert not any("Type 3" in row for row in fonts)
    log = (built["article-zh"] / "article-zh.log").read_text(encoding="utf-8", errors="replace")
    assert "Missing character" not in log  # a glyph the Fandol fonts lack would vanish


def test_repr_latex(derived):
    d = derived["article"][0]
    out = d._repr_latex_()
    assert out.startswith("$$") and out.endswith("$$")
    assert "\\delta^{(1)}" in out and "\\odot" in out and "W^{(2)}" in out
    assert "\\label" not in out


@pytest.fixture(scope="module")
def small():
    d = derive(parse("2-2:softmax"))
    return d, verify(d, points=1)


def test_write_refuses_existing_files(small, tmp_path):
    d, report = small
    tex, out = tmp_path / "d.tex", tmp_path / "d.pdf"
    out.write_bytes(b"old")
    with pytest.raises(RenderError, match="--force"):
        document.write(d, tex=tex, pdf=out, report=report)
    assert not tex.exists() and out.read_bytes() == b"old"  # checked before any work


def test_missing_latexmk_still_writes_tex(small, tmp_path, monkeypatch):
    d, report = small
    monkeypatch.setattr(latexpdf.shutil, "which", lambda tool: None)
    tex, out = tmp_path / "d.tex", tmp_path / "d.pdf"
    with pytest.raises(RenderError) as e:
        document.write(d, tex=tex, pdf=out, report=report)
    assert e.value.exit_code == 2 and "\n" not in str(e.value)
    assert "texlive-latex-base" in str(e.value) and "texlive-lang-chinese" in str(e.value)
    assert tex.read_text(encoding="utf-8") == document.tex_source(d, report=report)
    assert not out.exists()


def test_engine_from_first_line_and_missing_ctex(monkeypatch):
    assert latexpdf.engine("% !TEX program = xelatex\n\\documentclass{article}") == "xelatex"
    assert latexpdf.engine("\\documentclass{article}\n") == "pdflatex"
    with pytest.raises(RenderError, match="unknown TeX engine"):
        latexpdf.engine("% !TEX program = lualatex\n")
    monkeypatch.setattr(latexpdf.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    none = subprocess.CompletedProcess([], 1, "", "")
    monkeypatch.setattr(latexpdf.subprocess, "run", lambda *a, **k: none)
    with pytest.raises(RenderError, match="ctex.sty not found.*texlive-lang-chinese"):
        latexpdf.require_toolchain("xelatex")


@needs_tex
def test_latex_failure_is_one_line_with_log(small, tmp_path, monkeypatch):
    d, report = small
    broken = "\\documentclass{article}\n\\begin{document}\n\\nosuchmacro\n\\end{document}\n"
    monkeypatch.setattr(document, "tex_source", lambda *a, **k: broken)
    out = tmp_path / "d.pdf"
    with pytest.raises(SymfnnError) as e:
        document.write(d, pdf=out, report=report)
    message = str(e.value)
    assert e.value.exit_code == 1 and "\n" not in message
    assert "Undefined control sequence" in message
    log = Path(message.rsplit("log kept at ", 1)[1])
    assert log.is_file() and "nosuchmacro" in log.read_text()
    assert not out.exists()
    shutil.rmtree(log.parent)


@needs_tex
def test_write_builds_pdf_and_force_overwrites(small, tmp_path):
    d, report = small
    tex, out = tmp_path / "d.tex", tmp_path / "d.pdf"
    assert document.write(d, tex=tex, pdf=out, report=report) == [tex, out]
    assert out.read_bytes().startswith(b"%PDF")
    tex.write_text("old")
    document.write(d, tex=tex, report=report, force=True)
    assert tex.read_text() != "old"


def test_flow_chapter_is_laid_out_when_given(small):
    d, report = small
    chapter = {
        "title": "Vanishing and exploding gradients",
        "latex": "\\section{Flow}\\label{sec:flow}\n",
    }
    with_flow = document.tex_source(d, report=report, flow=chapter)
    assert "\\label{sec:flow}" in with_flow
    assert with_flow.index("sec:flow") < with_flow.index("\\label{sec:verify}")
    assert "sec:flow" not in document.tex_source(d, report=report)


# -- issue 10: what the document says, checked on its source -------------------------------


def test_risk_gradient_is_averaged_and_one_sample_gradient_is_of_L(sources):
    """§ every layer: ∂R/∂W is the mean over samples plus λW, never the one-sample δ aᵀ;
    with or without a penalty, a mean over the samples is the risk's gradient, not L's."""
    for name in ("deep-relu", "regression"):
        tex = sources[name]
        layers = tex[tex.index("\\label{sec:layers}") : tex.index("\\label{sec:batch}")]
        means = [line for line in layers.splitlines() if "\\frac{1}{N} \\sum" in line]
        assert means and all(line.startswith("\\frac{\\partial R}") for line in means), name
    tex = sources["article"]
    layers = tex[tex.index("\\label{sec:layers}") : tex.index("\\label{sec:batch}")]
    grads = [line for line in layers.splitlines() if line.startswith("\\frac{\\partial R}")]
    assert len(grads) == 6
    for line in grads:
        assert "\\frac{1}{N} \\sum_{n=1}^{N}" in line, line
    for line in grads[::2]:  # the weight gradients carry the penalty once, outside the mean
        assert "\\lambda_2 W^{(" in line, line


def test_batch_equations_in_execution_order(derived, sources):
    """Forward 1→L, then backward L→1: each Δ is defined before a line uses it."""
    tex, d = sources["article"], derived["article"][0]
    at = lambda label: tex.index(f"\\label{{eq:batch-{label}}}")
    L = d.spec.depth
    forward = [f"forward-{s}-{l}" for l in range(1, L + 1) for s in "za"]
    backward = [d.layers[-1].delta.label] + [f"delta-{l}" for l in range(L - 1, 0, -1)]
    order = [at(x) for x in forward] + [at(x) for x in backward]
    assert order == sorted(order)
    for l in range(1, L + 1):
        delta = d.layers[l - 1].delta.label
        assert at(delta) < at(f"grad-W-{l}") < at(f"grad-b-{l}")


def test_no_code_labels_as_tags_and_no_kronecker_delta_products(sources):
    for tex in sources.values():
        assert "\\tag{grad" not in tex and "\\tag{batch" not in tex and "\\tag{delta" not in tex
        assert "\\delta_{i p}" not in tex and "\\delta_{ip}" not in tex.replace(
            "$\\delta_{ip}$", ""
        )


def test_raw_sympy_forms_are_gone(sources):
    tex = sources["article"]
    assert "\\operatorname{softmax}(z^{(3)})" in tex and "\\operatorname{softmax}(Z^{(3)})" in tex
    assert "\\mathbf{1}_{B}" in tex  # the batch has B rows; N is the training set's size
    assert "- \\sum_{i=1}^{m^{(L)}} y_{i} \\log a^{(L)}_{i}" in tex
    assert "- \\log" not in tex.split("label{sec:output}")[1].split("label{sec:summary}")[0]
    reg = sources["regression"]
    assert "- y_{i} + z" not in reg and "z^{(L)}_{p} - y_{p}" in reg
    assert "\\sigma(z) (1 - \\sigma(z))" in tex  # σ' in terms of σ


def test_every_figure_is_referenced(sources):
    import re as _re

    for tex in sources.values():
        for label in _re.findall(r"\\label\{(fig:[\w-]+)\}", tex):
            assert f"\\ref{{{label}}}" in tex, label


def test_bibliography_and_citations(sources):
    for tex in sources.values():
        for key in ("article", "nielsen", "qiu"):
            assert f"\\bibitem{{{key}}}" in tex and f"\\cite{{{key}}}" in tex
    assert "邱锡鹏" in sources["article-zh"]


def test_worked_example_equals_the_generated_script(derived, sources):
    """The numbers printed in the worked example are the script's forward and backward pass."""
    import numpy as np

    from symfnn.documents.worked import example, shown
    from symfnn.script import codegen

    for name in ("article", "regression"):
        d = derived[name][0]
        w = example(d)
        module = codegen.load(w.derivation)
        given = {ms.name: np.array(v.tolist(), dtype=float) for ms, v in w.given.items()}
        params = {k: (v if k[0] == "W" else v.ravel()) for k, v in given.items() if k[0] in "Wb"}
        X, Y = given["a0"].T, given["y"].T
        activations = module.forward(params, X)
        _, grads, deltas = module.gradients(params, X, Y, return_deltas=True)
        L = w.derivation.spec.depth
        for step, value in w.forward:
            if step.label.startswith("forward-a"):
                l = int(step.label.rsplit("-", 1)[1])
                assert np.allclose(activations[l][0], np.array(value, dtype=float).ravel())
        for step, value in w.backward:
            kind, l = step.label.rsplit("-", 1)
            expected = {"grad-W": grads.get(f"W{l}"), "grad-b": grads.get(f"b{l}")}.get(kind)
            if kind.startswith("delta"):
                expected = deltas[f"Delta{l}"][0]
            got = np.array(value, dtype=float).reshape(np.shape(expected))
            assert np.allclose(got, expected, rtol=1e-9, atol=1e-12), (name, step.label)
            # and the printed (rounded) numbers are in the document
            for x in shown(value):
                assert f"{sp_latex(x)}" in sources[name], (step.label, x)
        assert L == d.spec.depth


def sp_latex(x) -> str:
    from symfnn.documents.latexprint import latex

    return latex(x)


def test_terminal_text_has_no_internal_names(derived):
    from symfnn.documents.textprint import derivation_text

    out = derivation_text(derived["article"][0])
    assert "m_lm1" not in out and "m_lp1" not in out and "dW_l" not in out
    assert "softmax(z3)" in out and "1_B" in out
    import re as _re

    # a column of ones says how many: 1_B (batch), never a bare 1 that reads as the number
    assert not _re.search(r"(ᵀ|\)) 1(?![_\w])", out) and " 1 b" not in out


def test_a_prose_field_left_unfilled_is_an_error(small):
    """A {field} of the prose without a value would print as a stray word (it did: 'N')."""
    from symfnn.documents.sections import Sections

    sections = Sections(small[0], "en")
    sections.s = dict(sections.s, box_after="averaged over the {N} samples")
    with pytest.raises(RenderError, match="box_after"):
        sections.text("box_after")
    assert "$N$" in sections.text("box_after", N="$N$")["text"]


def test_a_covering_proof_is_said_to_be_one_and_the_worked_example_not_the_proofs():
    """Five sigmoid layers are proven on a three-layer covering instance (verify): the
    verification section says so, with the layers each instance layer stands for read from
    the proof's own report, and the worked example (a full-depth instance) does not claim to
    be the proof's instance; a network that is its own instance keeps the plain wording."""
    d = derive(parse("8-8:sigmoid-8:sigmoid-8:sigmoid-8:sigmoid-8:sigmoid-3:softmax"))
    report = verify(d)
    assert report.instance.depth < d.spec.depth
    for lang, covering, mapping, worked in (
        ("en", "covering instance", r"2--5 $\to$ 2", "the proof's covering instance"),
        ("zh", "覆盖实例", r"2--5 $\to$ 2", "证明所用的覆盖实例更短"),
    ):
        tex = document.tex_source(d, lang=lang, report=report)
        section = tex[tex.index(r"\label{sec:verify}") :]
        assert covering in section and mapping in section
        assert r"\texttt{\mbox{sigmoid>sigmoid}}" in section
        assert "small instance of the same architecture" not in section
        intro = tex[tex.index(r"\label{sec:worked}") :][:400]
        assert worked in intro and "that the proof uses" not in intro
    small = derive(parse("4-5:sigmoid-3:softmax"))
    tex = document.tex_source(small, report=verify(small))
    assert "covering" not in tex and "that the proof uses" in tex
