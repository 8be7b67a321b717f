"""The HTML derivation: the PDF's equations as SymPy-printed MathML, laid out by Chromium.

The browser tests drive Debian's headless `chromium` over the DevTools protocol
(tests/browser.py); they are skipped where it is not installed (`make test` installs it).
"""

from __future__ import annotations

import io
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
import sympy as sp
from browser import Browser, chromium

from symfnn.documents import document
from symfnn.documents import html as htmldoc
from symfnn.documents.prose import LANGUAGES
from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.engine.verify import verify
from symfnn.errors import RenderError

SPEC = "4-5:sigmoid-5:tanh-3:softmax"
HAVE_TEX = shutil.which("latexmk") is not None and shutil.which("pdftocairo") is not None
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
    root = ET.fromstring(mathml)
    return "".join(e.text or "" for e in root.iter()).replace("\u2062", "").replace(" ", "")


def _row(page: str, label: str) -> str:
    """An equation row of the page, as the text of its formulas."""
    row = re.search(rf'<tr id="{label}">(.*?)</tr>', page).group(1)
    return "".join(_tokens(m) for m in re.findall(r"<math\b.*?</math>", row))


# -- formulas ---------------------------------------------------------------------------


def test_mathml_from_latex_reads_as_the_math():
    assert _tokens(htmldoc.mathml(r"\mathbf{1}_{N}")) == "𝟏N"  # bold as Unicode, not mathvariant
    sums = htmldoc.mathml(r"\sum_{i=1}^{m} x_{i}", display=True)
    assert "<munderover>" in sums and 'displaystyle="true"' in sums and "display=" not in sums
    assert "<msubsup>" in htmldoc.mathml(r"\sum_{i=1}^{m} x_{i}")  # inline: limits aside
    assert "<mi>diag</mi>" in htmldoc.mathml(r"\operatorname{diag}(x)")
    with pytest.raises(RenderError, match="no MathML"):
        htmldoc.mathml(r"\frac{1}{")


def test_page_equations_are_the_derivations(pages):
    page = pages["en"].read_text(encoding="utf-8")
    delta = _row(page, "eq:delta-1")
    assert delta.startswith("δ(1)=") and "⊙" in delta and "⊤" in delta and "W(2)" in delta
    assert _row(page, "eq:delta-out-3").startswith("δ(3)=a(3)−y")


def test_page_follows_the_derivation_not_a_copy(derived):
    """Corrupt one step as a bug in the derivation would: the page's row must show it."""
    d, report = derived
    layer = d.layers[0]
    (W2,) = (m for m in layer.delta.matrix.atoms(sp.MatrixSymbol) if m.name == "W2")
    wrong = layer.delta.matrix.xreplace({W2: sp.MatrixSymbol("W9", *W2.shape)})
    bad_layer = replace(layer, delta=replace(layer.delta, matrix=wrong))
    bad = replace(d, layers=(bad_layer, *d.layers[1:]))
    assert "W(9)" not in _row(htmldoc.html_source(d, report=report), "eq:delta-1")
    assert "W(9)" in _row(htmldoc.html_source(bad, report=report), "eq:delta-1")


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
    # the PDF's drawings, as SVG images (where TeX is installed), or a note where they would be
    pictures = tex.count(r"\begin{tikzpicture}")
    drawn = page.count('<img src="data:image/svg+xml;base64,')
    assert drawn == (pictures if HAVE_TEX else 0)
    assert page.count("<figure ") == pictures


@pytest.mark.skipif(not HAVE_TEX, reason="latexmk not installed")
def test_numbers_are_the_pdfs(derived, pages, tmp_path):
    """Every equation, section and figure number on the page is the one LaTeX gave it."""
    from symfnn.documents import pdf

    d, report = derived
    pdf.compile(document.tex_source(d, report=report), tmp_path)
    aux = (tmp_path / "derivation.aux").read_text(encoding="utf-8")
    latex = dict(re.findall(r"\\newlabel\{((?:eq|sec|fig):[^}]*)\}\{\{([^}]*)\}", aux))
    page = pages["en"].read_text(encoding="utf-8")
    shown = dict(re.findall(r'<tr id="(eq:[^"]+)">.*?<td class="tag">\((.*?)\)</td></tr>', page))
    shown |= dict(re.findall(r'<section id="(sec:[^"]+)">\s*<h2><span class="number">(\d+)', page))
    shown |= dict(
        re.findall(r'<figure id="(fig:[^"]+)">.*?<figcaption>\w+ (\d+):', page, re.DOTALL)
    )
    assert len(latex) > 50 and shown == latex


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_page_is_self_contained_and_free_of_latex(pages, lang):
    page = pages[lang].read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["'](?!#|data:)""", page), "a link outside the page"
    assert "<script" not in page and "<link" not in page and "@import" not in page
    text = re.sub(r"<[^>]+>", "", page)
    assert "\\" not in text and "$" not in text, "LaTeX left on the page"
    assert "??" not in text, "a reference to a label the page lacks"
    # every MathML fragment is well-formed XML
    for fragment in re.findall(r"<math\b.*?</math>", page, flags=re.DOTALL):
        ET.fromstring(fragment)


def test_flow_chapter_joins_the_page(derived, tmp_path):
    """--flow: the analysis chapter's blocks (flow.chapter) as sections, numbers, a plot."""
    from PIL import Image

    d, report = derived
    Image.new("RGB", (40, 30), "red").save(tmp_path / "plot.png")
    figure = {"kind": "figure", "path": "f/plot.pdf", "width": "5in", "caption": "A plot"}
    blocks = [
        {"kind": "text", "text": r"See Figure~\ref{fig:flow-plot} and $x^{2}$.", "par": True},
        {"kind": "equation", "tex": r"\|\delta\| \leq 1", "label": "eq:flow-bound", "punct": ""},
        {"kind": "align", "lines": [("a", "=", "b"), ("", r"\leq", "c")], "punct": r"\,."},
        {"kind": "table", "columns": "ll", "header": ["h", "$h_2$"], "rows": [["1", "$2$"]]},
        figure | {"label": "fig:flow-plot"},
    ]
    chapter = {
        "title": "Gradient flow",
        "label": "sec:flow",
        "intro": r"The bound \eqref{eq:flow-bound} follows.",
        "sections": [{"title": "Bound", "blocks": blocks}],
        "plots": [{"path": "f/plot.pdf", "file": str(tmp_path / "plot.pdf")}],
    }
    page = htmldoc.html_source(d, report=report, flow=chapter)

    def number(label: str) -> int:
        found = re.search(rf'<section id="{label}">\s*<h2><span class="number">(\d+)', page)
        return int(found.group(1))

    assert number("sec:flow") == number("sec:algorithm") + 1  # where the PDF has it
    bound = re.search(r'<tr id="eq:flow-bound">.*?\((\d+)\)</td></tr>', page).group(1)
    assert f'<a href="#eq:flow-bound">{bound}</a>' in page
    assert page.count("data:image/png;base64,") == 1 and '<a href="#fig:flow-plot">' in page


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


def test_cli_writes_the_page_and_refuses_to_overwrite(tmp_path, capsys):
    from symfnn.cli import main

    target = tmp_path / "d.html"
    assert main(["derive", "3-2:softmax", "--html", str(target), "--lang", "zh"]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    page = target.read_text(encoding="utf-8")
    assert '<html lang="zh">' in page and page.count("<math") > 50
    assert main(["derive", "3-2:softmax", "--html", str(target)]) == 2
    assert "exists" in capsys.readouterr().err and target.read_text(encoding="utf-8") == page


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
    images: Array.from(document.images).map(i => i.complete && i.naturalWidth > 0),
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
            assert all(layout["images"])  # every figure decoded
            fetched = [url for url in browser.requests() if not url.startswith("data:")]
            assert fetched == [path.resolve().as_uri()]  # nothing fetched from elsewhere
            if lang == "zh":
                assert "反向传播" in layout["text"]
            shot = browser.screenshot()
            assert shot.startswith(b"\x89PNG")
            assert 0.01 < _ink(shot) < 0.5, "the screenshot is blank (or all ink)"


@needs_chromium
def test_notebook_display_is_laid_out(derived, tmp_path):
    """What Jupyter shows for a Derivation (_repr_html_), in a page of its own."""
    d, _ = derived
    cell = tmp_path / "cell.html"
    cell.write_text(f'<!DOCTYPE html><meta charset="utf-8">{htmldoc.summary_html(d)}')
    with Browser() as browser:
        browser.open(cell)
        layout = browser.evaluate(_LAYOUT)
        assert layout["count"] == 3 * 5 * len(d.layers) and layout["empty"] == 0
        assert layout["stacked"] == layout["fractions"] > 0 and browser.errors() == []


@needs_chromium
def test_page_prints(pages):
    with Browser() as browser:
        browser.open(pages["en"])
        browser.call("Emulation.setEmulatedMedia", media="print")
        layout = browser.evaluate(_LAYOUT)
        assert layout["empty"] == 0 and layout["stacked"] == layout["fractions"]
        pdf = browser.call("Page.printToPDF", paperWidth=8.27, paperHeight=11.69, pageRanges="1-2")[
            "data"
        ]
        assert len(pdf) > 10_000
