"""The HTML derivation: the PDF's equations as SymPy-printed MathML, laid out by Chromium.

The browser tests drive Debian's headless `chromium` over the DevTools protocol
(tests/browser.py); they are skipped where it is not installed (`make test` installs it).
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
import sympy as sp
from browser import Browser, chromium

from symfnn import document, htmlmath
from symfnn import html as htmldoc
from symfnn.derive import derive
from symfnn.errors import RenderError
from symfnn.prose import LANGUAGES
from symfnn.spec import parse
from symfnn.verify import verify

SPEC = "4-5:sigmoid-5:tanh-3:softmax"
needs_chromium = pytest.mark.skipif(chromium() is None, reason="chromium is not installed")


@pytest.fixture(scope="module")
def derived():
    d = derive(parse(SPEC, l2=0.01))
    return d, verify(d, points=1, symbolic=False)  # the page shows the report; any will do


@pytest.fixture(scope="module")
def pages(derived, tmp_path_factory):
    d, report = derived
    folder = tmp_path_factory.mktemp("html")
    out = {}
    for lang in LANGUAGES:
        path = folder / f"derivation-{lang}.html"
        path.write_text(htmldoc.html_source(d, lang=lang, report=report), encoding="utf-8")
        out[lang] = path
    return out


def _tokens(mathml: str) -> str:
    """The characters of the token elements in reading order: what a reader sees."""
    root = ET.fromstring(f'<math xmlns="http://www.w3.org/1998/Math/MathML">{mathml}</math>')
    return "".join(e.text or "" for e in root.iter()).replace("\u2062", "")


# -- the printer ------------------------------------------------------------------------


def test_mathml_names_and_matrix_forms_read_as_the_math(derived):
    d, _ = derived
    first, second = d.layers[0], d.layers[1]
    assert _tokens(htmlmath.mathml(first.forward_z.matrix)) == "W(1)a(0)+b(1)"
    assert _tokens(htmlmath.mathml(first.delta.matrix)) == "a(1)⊙(1−a(1))⊙((W(2))⊤δ(2))"
    assert _tokens(htmlmath.mathml(second.delta.matrix)) == "(1−(a(2))⊙2)⊙((W(3))⊤δ(3))"
    assert _tokens(htmlmath.mathml(first.grad_W.batch)) == "1N(Δ(1))⊤A(0)+λ2W(1)"
    assert _tokens(htmlmath.mathml(first.grad_W.index)).endswith("δp(1)")
    assert _tokens(htmlmath.mathml(d.update["W"].matrix)) == "W(l)−α∂R∂W(l)"
    x = sp.Dummy("x")
    iverson = sp.matrices.expressions.applyfunc.ElementwiseApplyFunction(
        sp.Lambda(x, sp.Piecewise((1, x > 0), (0, True))), sp.MatrixSymbol("a2", 3, 1)
    )
    assert _tokens(htmlmath.mathml(iverson)) == "[a(2)>0]"


def test_mathml_follows_the_derivation_not_a_copy(derived):
    """Corrupt one step as a bug in the derivation would: the page's row must show it."""
    d, report = derived
    layer = d.layers[0]
    (W2,) = (m for m in layer.delta.matrix.atoms(sp.MatrixSymbol) if m.name == "W2")
    wrong = layer.delta.matrix.xreplace({W2: sp.MatrixSymbol("W9", *W2.shape)})
    assert wrong != layer.delta.matrix
    bad_layer = replace(layer, delta=replace(layer.delta, matrix=wrong))
    bad = replace(d, layers=(bad_layer, *d.layers[1:]))

    def row(page: str) -> str:
        return re.search(r'<tr id="eq:delta-1">(.*?)</tr>', page).group(1)

    assert "<mn>9</mn>" not in row(htmldoc.html_source(d, report=report))
    assert "<mn>9</mn>" in row(htmldoc.html_source(bad, report=report))


# -- the page ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_page_has_the_documents_sections_and_equations(derived, pages, lang):
    d, report = derived
    page = pages[lang].read_text(encoding="utf-8")
    tex = document.tex_source(d, lang=lang, report=report)
    # every numbered or named equation of the LaTeX document, under the same label
    assert set(re.findall(r"\\label\{(eq:[^}]+)\}", tex)) == set(
        re.findall(r'id="(eq:[^"]+)"', page)
    )
    # the same section titles, in the same order
    assert re.findall(r"\\section\{([^}]*)\}", tex) == re.findall(
        r'<h2><span class="number">\d+</span>([^<]*)</h2>', page
    )
    assert f'<html lang="{lang}">' in page


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_page_is_self_contained_and_free_of_latex(pages, lang):
    page = pages[lang].read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["'](?!#)""", page), "a link or source outside the page"
    assert "<script" not in page and "<link" not in page and "@import" not in page
    text = re.sub(r"<[^>]+>", "", page)
    assert "\\" not in text and "$" not in text, "LaTeX left on the page"
    # every MathML fragment is well-formed XML
    for fragment in re.findall(r"<math\b.*?</math>", page, flags=re.DOTALL):
        ET.fromstring(fragment)


def test_unknown_latex_markup_is_an_error_not_raw_text(derived, monkeypatch):
    d, report = derived
    monkeypatch.setitem(LANGUAGES["en"], "forward_layers", r"\unknowncommand{x} layer by layer:")
    with pytest.raises(RenderError, match="LaTeX markup"):
        htmldoc.html_source(d, report=report)


def test_write_refuses_to_overwrite(derived, tmp_path):
    d, report = derived
    target = tmp_path / "d.html"
    target.write_text("mine")
    with pytest.raises(RenderError, match="exists"):
        htmldoc.write(d, target, report=report)
    assert target.read_text() == "mine"
    htmldoc.write(d, target, report=report, force=True)
    assert target.read_text().startswith("<!DOCTYPE html>")


# -- in Chromium ------------------------------------------------------------------------

_LAYOUT = """(() => {
  const maths = Array.from(document.querySelectorAll('math'));
  const boxes = maths.map(m => m.getBoundingClientRect());
  const fracs = Array.from(document.querySelectorAll('mfrac')).map(f => {
    const [num, den] = Array.from(f.children).map(c => c.getBoundingClientRect());
    return num.bottom <= den.top + 1;
  });
  return {
    count: maths.length,
    display: Array.from(new Set(maths.map(m => getComputedStyle(m).display))),
    empty: boxes.filter(b => !(b.width > 0 && b.height > 0)).length,
    fractions: fracs.length,
    stacked: fracs.filter(Boolean).length,
    tall: boxes.filter(b => b.height > 30).length,
    text: document.body.innerText,
  };
})()"""


def _ink(png: bytes) -> float:
    """The fraction of pixels that are not (near) white."""
    from PIL import Image

    gray = Image.open(io.BytesIO(png)).convert("L")
    histogram = gray.histogram()
    return sum(histogram[:200]) / (gray.width * gray.height)


@needs_chromium
def test_every_equation_is_laid_out_in_chromium(pages):
    with Browser() as browser:
        browser.record_network()
        for lang, path in pages.items():
            browser.open(path)
            layout = browser.evaluate(_LAYOUT)
            assert layout["count"] > 200
            # MathML Core boxes: 'math' / 'block math', not an unknown inline element
            assert set(layout["display"]) <= {"math", "block math"}, layout["display"]
            assert layout["empty"] == 0, f"{layout['empty']} formulas without a box ({lang})"
            assert layout["fractions"] > 20 and layout["stacked"] == layout["fractions"]
            assert layout["tall"] > 20  # sums and fractions at display size
            assert browser.errors() == []
            assert browser.requests() == [path.resolve().as_uri()]  # nothing else fetched
            if lang == "zh":
                assert "反向传播" in layout["text"]
            shot = browser.screenshot()
            assert shot.startswith(b"\x89PNG")
            assert 0.01 < _ink(shot) < 0.5, "the screenshot is blank (or all ink)"


@needs_chromium
def test_page_prints(pages):
    with Browser() as browser:
        browser.open(pages["en"])
        browser.call("Emulation.setEmulatedMedia", media="print")
        layout = browser.evaluate(_LAYOUT)
        assert layout["empty"] == 0 and layout["stacked"] == layout["fractions"]
        pdf = browser.call("Page.printToPDF", paperWidth=8.27, paperHeight=11.69)["data"]
        assert len(pdf) > 10_000
