"""The document for batch normalisation and dropout (issue 11): a section deriving the
backward pass, printed from symfnn.engine.batchnorm, in English and Chinese.

The proof (verify_bn, tens of seconds) is replaced by a stated Report where a test is about
the document, not the proof; the proof's own tests are in tests/test_batchnorm.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import sympy as sp

from symfnn import api
from symfnn.cli import main
from symfnn.documents import document, html
from symfnn.documents import pdf as latexpdf
from symfnn.documents.latexprint import latex
from symfnn.documents.prose import fill, strings
from symfnn.engine import batchnorm, verify_bn
from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.engine.verify import Report, verify
from symfnn.errors import RenderError

BN = "3-3:tanh:bn-2:softmax"
DROP = "3-3:elu:dropout=0.25-2:softmax"
BOTH = "3-3:tanh:bn:dropout=0.25-2:softmax"
GENERATED = Path(__file__).resolve().parent.parent / "generated"
HAVE_XETEX = all(shutil.which(x) for x in ("latexmk", "xelatex", "pdftotext"))
# a stated proof: what verify_bn reports, with a status the document must translate
STATED = Report(parse("1-1:tanh:bn-2:softmax"), 3, 7, 2, 1e-62, "numeric only: stated by a test")


@pytest.fixture(scope="module")
def derived() -> dict:
    return {spec: derive(parse(spec)) for spec in (BN, DROP, BOTH)}


def source(d, lang: str = "en") -> str:
    return document.tex_source(d, lang=lang, report=STATED)


def labelled(tex: str, label: str) -> str:
    """The printed line of the equation labelled `label`."""
    (line,) = [x for x in tex.splitlines() if rf"\label{{eq:{label}}}" in x]
    return line


@pytest.fixture
def stated_proof(monkeypatch):
    """verify() of a normalised network answers STATED at once (verify dispatches to it)."""
    calls = []
    monkeypatch.setattr(verify_bn, "verify", lambda d, **kw: calls.append(d) or STATED)
    return calls


def test_the_section_is_there_only_for_bn_or_dropout(derived):
    bn, drop = source(derived[BN]), source(derived[DROP])
    title = r"\section{" + strings("en")["sec_norm"] + "}"
    assert title in bn and title in drop
    assert r"\label{eq:bn-delta}" in bn and r"\label{eq:drop-delta}" not in bn
    assert r"\label{eq:drop-delta}" in drop and r"\label{eq:bn-delta}" not in drop
    both = source(derived[BOTH])
    assert r"\label{eq:bn-delta}" in both and r"\label{eq:drop-delta}" in both
    for name in ("article", "deep-relu", "regression"):  # plain networks: no such section
        assert "sec:norm" not in (GENERATED / f"{name}.tex").read_text(encoding="utf-8")


def test_bn_layers_show_gamma_and_beta_not_b(derived):
    tex = source(derived[BN])
    for label in ("grad-gamma-1", "grad-beta-1", "batch-grad-gamma-1", "batch-bn-affine-1"):
        assert r"\gamma^{(1)}" in labelled(tex, label) or r"\beta^{(1)}" in labelled(tex, label)
    assert "eq:grad-b-1" not in tex and "eq:batch-grad-b-1" not in tex  # β took b's place
    assert "b^{(1)}" not in labelled(tex, "batch-forward-z-1")  # z = A Wᵀ, no bias
    assert "eq:batch-grad-b-2" in tex  # the output layer keeps its bias


def test_the_compact_form_is_printed_from_the_derivation(derived, monkeypatch):
    """Corrupt batchnorm's result (drop the variance's path): the document follows it."""
    us = batchnorm.unit_steps()
    good = labelled(source(derived[BN]), "bn-delta")
    assert r"\hat{z}}_{r} \sum" in good  # the variance's term ẑ_r Σ g_i ẑ_i
    no_var = us.delta.index.replace(
        lambda e: isinstance(e, sp.Sum) and e.has(batchnorm.zhat), lambda e: sp.S.Zero
    )
    assert no_var != us.delta.index
    wrong = replace(us, delta=replace(us.delta, index=no_var))
    monkeypatch.setattr(batchnorm, "unit_steps", lambda: wrong)
    bad = labelled(source(derived[BN]), "bn-delta")
    assert bad != good and r"\hat{z}}_{r}" not in bad


def test_the_mini_batch_forms_are_the_layers_steps(derived):
    """A layer's δ step changed (as a wrong lift would) changes the printed batch form."""
    d = derived[BN]
    layer = d.layers[0]
    y_step, g_step, delta = layer.norm.backward
    doubled = replace(delta, batch=sp.MatMul(2, delta.batch))
    norm = replace(layer.norm, backward=(y_step, g_step, doubled))
    changed = replace(d, layers=(replace(layer, norm=norm, delta=doubled), *d.layers[1:]))
    good, bad = source(d), source(changed)
    assert labelled(good, "batch-delta-1") != labelled(bad, "batch-delta-1")
    assert r"\frac{2}{B}" in labelled(bad, "batch-delta-1")
    assert labelled(good, "delta-1") != labelled(bad, "delta-1")  # the per-layer section


def test_the_three_paths_are_proven_to_add_up(derived, monkeypatch):
    """With an unbiased variance in the definitions the three paths no longer add up to
    SymPy's derivative of ẑ written out (with the biased one): the document refuses."""
    us = batchnorm.unit_steps()
    N = batchnorm.N
    unbiased = replace(us.variance, index=us.variance.index * N / (N - 1))
    monkeypatch.setattr(batchnorm, "unit_steps", lambda: replace(us, variance=unbiased))
    with pytest.raises(RenderError, match="three paths"):
        source(derived[BN])


def test_dropout_keeps_the_mask_as_data(derived):
    tex = source(derived[DROP])
    _, backward = batchnorm.masked_steps("elu", None, False, True)
    line = labelled(tex, "drop-delta")
    assert latex(backward.matrix) in line and "r^{(l)}" in line and r"\frac{1}{1 - q}" in line
    assert "q_{1} = 0.25" in tex  # the spec's rate


def test_verification_table_reports_the_bn_proof(derived, stated_proof):
    for lang, numeric in (("en", "NUMERIC ONLY"), ("zh", "仅数值验证")):
        tex = document.tex_source(derived[BN], lang=lang)  # no report: the proof runs
        table = tex[tex.index(r"\label{sec:verify}") :]
        assert r"\mbox{-1:tanh:bn}" in table and r"\mbox{stated}" in table
        assert rf"\textbf{{{numeric}}}" in table  # the verdict, in the document's language
        assert strings(lang)["v_symbolic_numeric"].split(":")[0].split("：")[0] in table
    assert len(stated_proof) == 2 and stated_proof[0] is derived[BN]


def test_api_and_cli_write_bn_documents(tmp_path, stated_proof, capsys):
    """The 'not yet documented' refusal is lifted for .tex, .pdf's source and .html."""
    tex, page = tmp_path / "bn.tex", tmp_path / "bn.html"
    assert main(["derive", BN, "--tex", str(tex), "--html", str(page)]) == 0
    assert r"\label{sec:norm}" in tex.read_text(encoding="utf-8")
    text = page.read_text(encoding="utf-8")
    assert 'id="sec:norm"' in text and "??" not in text  # every reference resolved
    assert 'id="eq:bn-delta"' in text or "eq:bn-delta" in text
    d = api.derive(DROP)
    assert "drop-delta" in d.to_tex() and 'id="sec:norm"' in d.to_html(lang="zh")
    capsys.readouterr()


def test_html_page_of_a_bn_spec(derived):
    page = html.html_source(derived[BOTH], lang="en", report=STATED)
    assert "<math" in page and strings("en")["sec_norm"] in page


def test_zh_prose_is_chinese_with_full_width_punctuation(derived):
    tex = source(derived[BOTH], "zh")
    start = tex.index(r"\section{" + strings("zh")["sec_norm"])
    body = tex[start : tex.index(r"\section", start + 1)]
    titles = re.findall(r"\\(?:(?:sub)*section|paragraph)\{([^}]*)\}", body)
    assert len(titles) == 4  # the section, batch normalisation, why samples couple, dropout
    assert titles and all(re.search(r"[\u4e00-\u9fff]", t) for t in titles), titles
    assert "批归一化" in body and "丢弃法" in body
    body = re.sub(r"\\begin\{align\}.*?\\end\{align\}", " ", body, flags=re.DOTALL)
    body = re.sub(r"\$[^$]*\$", "M", body)
    body = re.sub(r"\\[a-zA-Z]+|[{}~]", " ", body)
    cjk = "[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
    assert not re.findall(rf"{cjk} ?[,;:()!?.]|[,;:()!?] ?{cjk}", body)
    assert not re.search(r"\b(the|of|and|with|Batch|Dropout)\b", body)


@pytest.mark.skipif(not HAVE_XETEX, reason="latexmk/xelatex/pdftotext not installed")
def test_zh_bn_document_compiles_with_xelatex(derived, tmp_path):
    tex = source(derived[BOTH], "zh")
    assert latexpdf.engine(tex) == "xelatex"
    pdf = latexpdf.compile(tex, tmp_path, "bn-zh")
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "批归一化与丢弃法" in text and "为何" in text.replace("\n", "")
    assert not re.search(r"Batch normalisation|Dropout|Section|Algorithm", text)


@pytest.fixture(scope="module")
def link_status() -> str:
    """verify_bn's own status line of a complete link-by-link proof (a few seconds)."""
    d = derive(parse("3-2:tanh:bn-2:identity", loss="squared_error"))
    return verify_bn._symbolic(d, width=1)


def verification(d, lang: str, report: Report) -> str:
    tex = document.tex_source(d, lang=lang, report=report)
    return tex[tex.index(r"\label{sec:verify}") : tex.index(r"\label{sec:notes}")]


def test_verification_states_the_link_by_link_method_exactly_when_the_report_does(
    derived, link_status
):
    """Report.links (verify_bn) -> the links, their number, the chain rule, and the numeric
    part as a cross-check; without it the whole-risk comparison; the status line itself
    in the document's language (its counts, never verify's English in typewriter type)."""
    n, instance, forward = re.search(
        r"all (\d+) partials of (\S+) .* with (\d+) forward values", link_status
    ).groups()
    linked = replace(STATED, symbolic=link_status, links=4)
    for lang in ("en", "zh"):
        s = strings(lang)
        section = verification(derived[BN], lang, linked)
        opening = s["verify_links"].split("}")[0]  # the run-in title
        assert opening in section and fill(s["verify_intro"], lead=s["verify_lead"]) not in section
        links = fill(s["verify_links"], what=s["v_network"])  # not a covering instance
        before, after = links.split("{links}")
        assert before[-10:] + "4" + after[:4] in section  # the report's number of links
        assert s["verify_links_numeric"] in section and s["verify_links_only"] not in section
        cell = fill(s["v_symbolic_links"], n=n, forward=forward, instance=document.tt(instance))
        assert cell in section, cell
        assert "by cancel per layer" not in section  # verify's own words are translated
        whole = verification(derived[BN], lang, replace(linked, links=0))
        assert fill(s["verify_intro"], lead=s["verify_lead"]) in whole and opening not in whole
        for report, said in ((linked, "intro_checked_links"), (STATED, "intro_checked")):
            tex = document.tex_source(derived[BN], lang=lang, report=report)
            intro = tex[: tex.index(r"\section")]  # the document's opening paragraph
            assert s[said] in intro, (lang, said)
            assert (s["intro_checked_links"] in intro) == (report is linked)
    # the links' part unfinished: the numbers are the evidence, and the text says so
    unfinished = replace(
        linked,
        symbolic="numeric only: the layer-by-layer cancellation did not finish in 7 s "
        "(5 partials and 3 forward values reduced to 0)",
    )
    section = verification(derived[BN], "en", unfinished)
    assert strings("en")["verify_links_only"] in section
    assert "took over 7 s (5 entries and 3 forward values" in section


def test_bn_compact_form_is_two_lines_of_the_one_printed_form(derived):
    """The compact δ, wider than the page on one line, is split after its ⊙: the two
    lines are the one-line print of the same step."""
    from symfnn.documents.tidy import as_batch
    from symfnn.engine.batchnorm import batch_backward

    tex = source(derived[BN])
    delta = batch_backward(derived[BN].layers[0])[2]
    whole = latex(as_batch(delta.batch))
    for label in ("bn-batch-delta", "batch-delta-1", "delta-1"):
        lines = tex.splitlines()
        (n,) = [k for k, x in enumerate(lines) if rf"\label{{eq:{label}}}" in x]
        first, second = lines[n - 1], lines[n]
        assert first.endswith(r"\odot \Bigl( \notag \\*"), first
        head = first.split("&= ", 1)[1].removesuffix(r"\Bigl( \notag \\*")
        body = second.split(r"\qquad ", 1)[1].split(r" \Bigr)")[0]
        assert head + "(" + body + ")" == whole


def test_algorithm_box_says_what_training_mode_does(derived):
    """γ, β trained and the running statistics kept for prediction (bn); a fresh mask each
    step and none when predicting (dropout); neither line for a layer without it."""
    for lang in ("en", "zh"):
        s = strings(lang)
        for spec, bn, drop in ((BN, True, False), (DROP, False, True), (BOTH, True, True)):
            tex = source(derived[spec], lang)
            box = tex[tex.index(r"\begin{algorithmic}") : tex.index(r"\end{algorithmic}")]
            keys = (("alg_forward_bn", bn), ("alg_running_bn", bn), ("alg_forward_drop", drop))
            for key, present in keys:
                assert (s[key].split("{")[0] in box) == present, (spec, key)
            assert (r"\gamma^{(l)}" in box.split(r"\State")[0]) == bn  # in the output line
            assert (s["alg_output_drop"] in box) == drop
            assert (s["update_bn"].split("{")[0] in tex) == bn  # γ, β updated like b; R per batch


RUNNING_LINES = (  # PyTorch's running estimates, written out by hand (B: the batch size)
    r"\bar{\mu}^{(l)} \leftarrow (1 - \rho) \bar{\mu}^{(l)} + \rho \mu^{(l)}",
    (
        r"{\bar{\sigma}{}^{(l)}}^{2} \leftarrow (1 - \rho) {\bar{\sigma}{}^{(l)}}^{2}"
        r" + \left(\frac{B \rho}{B - 1}\right) {\sigma^{(l)}}^{2}"
    ),
)


def _box(tex: str) -> str:
    return tex[tex.index(r"\begin{algorithmic}") : tex.index(r"\end{algorithmic}")]


def test_algorithm_box_prints_the_running_statistics_update(derived, monkeypatch):
    """The two assignments and rho = 0.1 under the bn line, en and zh, in the PDF's source
    and the HTML page; printed from batchnorm.RUNNING: a changed entry changes the box."""
    for lang in ("en", "zh"):
        box = _box(source(derived[BN], lang))
        lines = [x.strip() for x in box.splitlines()]
        at = next(n for n, x in enumerate(lines) if r"$\rho = 0.1$" in x)
        assert lines[at + 1 : at + 3] == [rf"\State \qquad ${x}$" for x in RUNNING_LINES]
        assert r"\bar{\mu}^{(l)}" in lines[2]  # the output: the running estimates
    assert r"\bar{\mu}" not in _box(source(derived[DROP]))
    page = html.html_source(derived[BN], lang="en", report=STATED)
    rows = re.findall(r'<li class="indent4">(.*?)</li>', page, re.DOTALL)
    assert len(rows) == 2 and all("<math" in x and "<mover" in x for x in rows), rows
    (mean, mean_value), (var, var_value) = batchnorm.RUNNING
    biased = var_value.subs(batchnorm.N / (batchnorm.N - 1), 1)
    monkeypatch.setattr(batchnorm, "RUNNING", ((mean, mean_value), (var, biased)))
    monkeypatch.setattr(batchnorm, "MOMENTUM_VALUE", sp.Rational(1, 5))
    box = _box(source(derived[BN]))
    assert r"$\rho = 0.2$" in box and RUNNING_LINES[0] in box and r"\frac{B" not in box


def test_algorithm_box_gives_the_running_update_a_line_of_its_own(derived):
    """Normalising, then the running statistics' update with ρ over its two assignments:
    one step each, so that neither wraps (it did, before "(momentum ρ = 0.1 …)"), en and zh;
    the box and its caption are ragged right and std(W) is one box with its scheme's name."""
    for lang in ("en", "zh"):
        s = strings(lang)
        box = _box(source(derived[BN], lang))
        lines = [x.strip() for x in box.splitlines()]
        (at,) = [n for n, x in enumerate(lines) if s["alg_forward_bn"].split("{")[0] in x]
        normalise, running, *assignments = lines[at : at + 4]
        mu, var = r"$\mu^{(l)}$", r"${\sigma^{(l)}}^{2}$"
        assert normalise == r"\State \quad " + fill(s["alg_forward_bn"], mu=mu, var=var)
        assert running == r"\State \quad " + fill(s["alg_running_bn"], rho=r"$\rho = 0.1$")
        assert assignments == [rf"\State \qquad ${x}$" for x in RUNNING_LINES]
        assert r"\rho" not in normalise and r"\bar{" not in running
        tex = source(derived[BN], lang)
        float_ = tex[tex.index(r"\begin{algorithm}") : tex.index(r"\begin{algorithmic}")]
        assert float_.rstrip().endswith(r"\raggedright")  # the steps, and the caption:
        assert float_.startswith(r"\begin{algorithm}[H]" + "\n" + r"\caption[")
        assert r"]{\raggedright " in float_.splitlines()[1]
        (init,) = [x for x in lines if x.startswith(r"\State") and r"\operatorname{std}" in x]
        assert init.endswith(
            r"\mbox{$\operatorname{std}(W^{(l)}) = \frac{\sqrt{2}}"
            r"{\sqrt{m^{(l)} + m^{(l-1)}}}$~(\texttt{\mbox{xavier}})}"
        )


def test_terminal_text_of_a_bn_layer_reads_as_the_document(derived):
    """`symfnn derive` of a bn spec: 1/√(σ² + ε) is one parenthesised factor beside 1_B,
    as the document's fraction groups it; never `1_B 1/sqrt((σ² + ε 1ᵀ))`, which reads as
    (1_B 1)/sqrt. The Δ line follows the derivation: a doubled step prints doubled."""
    from symfnn.documents.textprint import derivation_text

    d = derived[BN]
    out = derivation_text(d)
    lines = [x.strip() for x in out.splitlines()]
    root = "1_B (1/√(σ1² + ε 1_m(1)ᵀ))"
    assert f"Ẑ1 = {root} ⊙ (Z1 - 1_B μ1)" in lines
    delta = f"Δ1 = (1/B) ({root} ⊙ (B dẐ1 - 1_B (1_Bᵀ dẐ1) - Ẑ1 ⊙ 1_B (1_Bᵀ (dẐ1 ⊙ Ẑ1))))"
    assert lines.count(delta) == 2  # the layer's lines and the mini-batch form
    assert "ẑ[r] = (z[r] - μ)/√(ε + σ²)" in lines  # the per-unit definition alike
    assert "sqrt" not in out and "1_B 1/" not in out and "√((" not in out
    assert "1_B a column of B ones" in out  # the notation says what 1_B is
    layer = d.layers[0]
    y_step, g_step, step = layer.norm.backward
    doubled = replace(step, batch=sp.MatMul(2, step.batch))
    norm = replace(layer.norm, backward=(y_step, g_step, doubled))
    changed = replace(d, layers=(replace(layer, norm=norm, delta=doubled), *d.layers[1:]))
    assert delta.replace("(1/B)", "(2/B)") in [
        x.strip() for x in derivation_text(changed).splitlines()
    ]


def _unit_section(out: str) -> list[str]:
    """The terminal's per-unit batch-norm section: from its title to the per-layer lines."""
    lines = out.splitlines()
    start = next(n for n, x in enumerate(lines) if x.startswith("Batch normalisation, one unit"))
    return lines[start : lines.index("Every layer")]


def test_terminal_bn_unit_section_shows_the_documents_stages_in_short_lines(derived, monkeypatch):
    """`symfnn derive` of a bn spec: of SymPy's stages of the error term, the per-unit section
    prints those the document prints (found by marking each stage, not by their text), and no
    line wider than textprint_bn.WIDTH (SymPy's raw derivative alone is 300 characters)."""
    from symfnn.documents import textprint_bn
    from symfnn.documents.textprint import derivation_text, text
    from symfnn.documents.tidy import as_batch

    d = derived[BN]
    section = _unit_section(derivation_text(d))
    assert textprint_bn.WIDTH <= 100
    assert max(len(x) for x in section) <= textprint_bn.WIDTH, max(section, key=len)
    us = batchnorm.unit_steps()
    # written out and compact: both print them (their markers would break the document's proof)
    assert any(x.endswith(text(as_batch(us.delta.index))) for x in section)
    assert any(x.endswith(text(as_batch(us.delta.differentiated))) for x in section)
    # the other stages and the raw derivative, each a marker symbol: which does each print?
    keys = ["raw", *(name for name, _ in us.delta.stages)]
    mark = {key: sp.Symbol("mark" + "abcdefgh"[n], real=True) for n, key in enumerate(keys)}
    stages = tuple((name, mark[name]) for name, _ in us.delta.stages)
    marked = replace(us, delta=replace(us.delta, raw=mark["raw"], stages=stages))
    monkeypatch.setattr(batchnorm, "unit_steps", lambda: marked)
    tex, out = source(d), "\n".join(_unit_section(derivation_text(d)))
    in_document = {key for key, m in mark.items() if latex(m) in tex}
    in_terminal = {key for key, m in mark.items() if text(m) in out}
    assert in_document and in_terminal == in_document, (in_terminal, in_document)
    assert "raw" not in in_terminal


def test_terminal_square_roots_are_printed_with_the_radical_sign():
    """The text printer's rule, on expressions built here: √ with one pair of parentheses
    (none around a single symbol or number); an element-wise 1/√ as a factor in parentheses."""
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

    from symfnn.documents.textprint import text

    x, y, B, m = sp.symbols("x y B m", positive=True)
    assert text(sp.sqrt(2)) == "√2" and text(sp.sqrt(x)) == "√x"
    assert text(1 / sp.sqrt(x + y)) == "1/√(x + y)" and text(y / sp.sqrt(x + y)) == "y/√(x + y)"
    t = sp.Dummy("t")
    row = sp.MatrixSymbol("v", 1, m)
    root = ElementwiseApplyFunction(
        sp.Lambda(t, 1 / sp.sqrt(t)), sp.MatAdd(row, x * sp.OneMatrix(1, m))
    )
    assert text(sp.MatMul(sp.OneMatrix(B, 1), root)) == "1_B (1/√(v + x 1_mᵀ))"


def test_epsilon_is_a_power_of_ten_and_batch_norms_own(derived):
    """ε = 10^-5 is batch norm's; the optimiser's (Adam's 10^-8) is named apart from it."""
    tex = source(derived[BN])
    assert r"$\epsilon = 10^{-5}$" in tex and r"1.0 \cdot 10^{-5}" not in tex
    box = tex[tex.index(r"\begin{algorithmic}") : tex.index(r"\end{algorithmic}")]
    assert r"\epsilon_{\mathrm{adam}} = 10^{-8}" in box and r"\epsilon =" not in box
    assert r"+ \epsilon_{\mathrm{adam}}}" in box  # in the update too
    plain = (GENERATED / "article.tex").read_text(encoding="utf-8")
    assert r"$\epsilon = 10^{-8}$" in plain  # no batch norm: Adam's ε is the only one


@pytest.mark.parametrize(
    "text, said, unsaid",
    [
        # three tanh:bn layers: a shorter covering instance, cut into its own links
        (
            "4-4:tanh:bn-4:tanh:bn-4:tanh:bn-3:softmax",
            ["The proof ran on a covering instance", "The instance was cut at its net inputs"],
            ["The network was cut"],
        ),
        # the walk passes two pairs twice: those links are their first pass renamed, and the
        # status must not say cancel reduced their entries
        (
            "4-4:tanh:bn-4:sigmoid:bn-4:relu:bn-4:tanh:bn-4:sigmoid:bn-4:relu:bn-3:softmax",
            ["The network was cut", "are those of links that repeat an earlier one"],
            ["covering instance", "reduces the difference to 0 for all"],
        ),
    ],
)
def test_the_verification_section_says_how_a_deep_bn_network_was_proven(text, said, unsaid):
    d = derive(parse(text))
    report = verify(d)
    assert report.proven, report.symbolic
    tex = document.tex_source(d, report=report)
    section = tex[tex.index(r"\label{sec:verify}") :]
    for words in said:
        assert words in section, words
    for words in unsaid:
        assert words not in section, words
