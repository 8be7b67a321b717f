"""Derivation -> one self-contained HTML page: the PDF's sections, equations and figures.

The page is made from the very context the LaTeX document is rendered from (document.py),
so it cannot show other sections, equations or figures than the PDF:

- every formula is the LaTeX that symfnn's printer (latexprint, after its tidying stage)
  made from the Derivation's SymPy objects, turned into presentation MathML by
  latex2mathml; browsers lay MathML out natively. Converting the printer's output, rather
  than printing the objects a second time, keeps one place that decides how a formula reads;
- the prose's bit of LaTeX markup (`\\paragraph{…}`, `\\ref{…}`, `\\cite{…}`, `\\texttt{…}`,
  `~`) becomes HTML; markup this module does not know is an error, never raw LaTeX on the page;
- the TikZ figures are the PDF's drawings, compiled once and embedded as SVG (htmlfigures).

Equations are numbered as LaTeX numbers them, and \\ref / \\eqref / \\cite resolve to links.
Nothing is fetched from elsewhere: the style is inline, the images are data: URIs.

    Derivation ─document._Doc.context()─▶ dict (LaTeX) ─page()─▶ dict (HTML) ─template─▶ .html
"""

from __future__ import annotations

import html as _html
import re
from pathlib import Path

import jinja2

from .. import fileio
from ..errors import RenderError
from ..render import render, template_dir
from . import htmlfigures
from .document import _Doc
from .latexprint import latex, summary_rows

_HOLE = "\ue000{}\ue001"  # a formula's placeholder in prose (private-use characters)
_HOLE_RE = re.compile("\ue000(\\d+)\ue001")
_BAR = re.compile(r'<mo stretchy="false">(&#x0007C;|&#x02016;)</mo>')
_BOLD_DIGIT = re.compile(r'(?<=<mn) mathvariant="bold">(\d)(?=</mn>)')
# (not the base of a script: sup_z is a 2-child msub, a space would make it 3)
_FUNCTION = re.compile(
    r"(?<!<msub>)(?<!<msup>)(?<!<msubsup>)(?<!<munder>)(?<!<munderover>)"
    r"<m[io]>([A-Za-z]{2,})</m[io]>"
)
_LABEL = re.compile(r"\\label\{([^}]*)\}")
_TAG = re.compile(r"\\tag\*?\{([^}]*)\}")
# algpseudocode's English keywords; the Chinese ones come from the prose table's alg_setup
_KEYWORDS = {"repeat": "repeat", "until": "until", "for": "for", "do": "do", "return": "return"}
# names LaTeX itself supplies (article class; ctex for Chinese), unless the prose table has them
_LATEX_NAMES = {
    "en": {"figure_name": "Figure", "bibliography_name": "References"},
    "zh": {"figure_name": "图", "bibliography_name": "参考文献"},
}
_WORDS = (
    "table_name", "algorithm_name", "require", "ensure", "sec_algorithm", "sec_verify",
    "col_layer", "col_width", "col_activation", "col_W", "col_b", "col_params", "total",
    "table_caption", "figure_name", "bibliography_name",
)  # fmt: skip
# LaTeX-only layout in the context: space kept before a page break, a table's columns
_LAYOUT_KEYS = {"need", "columns", "end"}
# text-mode LaTeX -> HTML, applied after the formulas are set aside
_TEXT = (
    (r"\allowbreak{}", "<wbr>"),
    (r"\allowbreak", "<wbr>"),
    (r"\nopagebreak", ""),
    (r"\_", "_"),
    (r"\%", "%"),
    (r"\&", "&amp;"),
    ("``", "“"),
    ("''", "”"),
    (r"\qquad", "\u2003\u2003"),
    (r"\quad", "\u2003"),
    (r"\ldots", "…"),
    (r"\dots", "…"),
    ("\\\\", "<br>"),
    (r"\,", "\u2009"),
    ("~", "\u00a0"),
    ("---", "—"),
    ("--", "–"),
)


def mathml(tex: str, *, display: bool = False) -> str:
    """A <math> element for one formula printed as LaTeX (`display`: full-size fractions)."""
    from latex2mathml.converter import convert

    tex = tex.strip()
    if not tex:
        return ""
    try:  # "block": sums with limits above and below, full-size fractions
        converted = convert(tex, display="block" if display else "inline")
    except Exception as e:  # noqa: BLE001 -- the converter raises many kinds
        raise RenderError(f"HTML: no MathML for the LaTeX {tex!r}: {e}") from None
    if "<merror" in converted:
        raise RenderError(f"HTML: no MathML for the LaTeX {tex!r}")
    # MathML Core has no mathvariant but "normal": bold digits as Unicode's bold digits
    converted = _BOLD_DIGIT.sub(lambda m: ">" + chr(0x1D7CE + int(m.group(1))), converted)
    # |w| and ‖W‖ as TeX sets them: bars without an operator's space around them
    converted = _BAR.sub(r'<mo stretchy="false" lspace="0" rspace="0">\1</mo>', converted)
    # a named function (log, diag, softmax) is an identifier set upright with a thin space
    converted = _FUNCTION.sub(r'<mi>\1</mi><mspace width="0.1667em"/>', converted)
    # displayed, but in the flow of a table cell: display style without a block of its own
    return re.sub(
        r' display="(inline|block)"', ' displaystyle="true"' if display else "", converted, 1
    )


class _HtmlDoc:
    """The LaTeX document's context, converted to HTML: math, markup, numbers, figures."""

    def __init__(self, d, lang: str, report=None, flow: dict | None = None):
        self.doc = _Doc(d, lang, report, None)
        self.lang, self.flow = lang, flow  # flow: flow.tex_chapter(…), the --flow chapter
        self.maths: list[str] = []
        self.refs: dict[str, str] = {}  # sec:…, fig:…, eq:… -> the number LaTeX shows
        self.cites: dict[str, str] = {}  # bibliography key -> its number

    def page(self) -> dict:
        ctx = self.doc.context()
        self.source = render("latex", "derivation.tex.jinja", **ctx)  # for the figures
        s = _LATEX_NAMES.get(self.lang, _LATEX_NAMES["en"]) | self.doc.s
        sections, closing = ctx["sections"], ctx.get("closing", [])
        bibliography = ctx.get("bibliography", [])
        flow = _flow_chapter(self.flow) if self.flow else None
        # numbers, in the template's order: sections, algorithm, flow, verification, notes
        labels = [x["label"] for x in sections] + ["sec:algorithm"]
        labels += [flow["label"]] if flow else []
        labels += ["sec:verify"] + [x["label"] for x in closing]
        self.refs |= {label: str(n) for n, label in enumerate(labels, 1)}
        self.refs["tab:layers"] = "1"  # the one table float: the layers
        self.refs["alg:training"] = "1"  # the one algorithm float (the template's "Algorithm 1")
        for section in [*sections, *closing, *([flow] if flow else [])]:
            section["number"] = self.refs[section["label"]]
        self.cites = {entry["key"]: str(n) for n, entry in enumerate(bibliography, 1)}
        parts = [ctx.get("network"), sections, flow, closing]  # in document order
        self._equations(parts)
        self._figures(parts)
        for block in _blocks(parts, "numbers"):  # LaTeX table rows: cells split at &
            block |= {
                "kind": "grid",
                "header": block["header"].split("&"),
                "rows": [row.split("&") for row in block["rows"]],
            }
        algorithm = ctx["algorithm"]
        words = dict(_KEYWORDS)
        setup = s.get("alg_setup", "")
        for key, word in re.findall(r"\\algorithmic(\w+)\{\\textbf\{([^{}]*)\}\}", setup):
            words[key] = word
        algorithm["words"] = words
        out = {
            "lang": self.lang,
            "s": {key: s[key] for key in _WORDS},
            "title": ctx["title"],
            "author": ctx["author"],
            "intro": ctx["intro"],
            "table": ctx["table"],
            "network": ctx.get("network"),
            "sections": sections,
            "flow": flow,
            "closing": closing,
            "bibliography": bibliography,
            "algorithm": algorithm,
            "verification": ctx["verification"],
            "numbers": {"algorithm": self.refs["sec:algorithm"], "verify": self.refs["sec:verify"]},
        }
        converted = self._walk(out)
        converted["plain_title"] = _html.escape(_plain(ctx["title"]))
        return converted

    # -- numbering -------------------------------------------------------------------------
    def _equations(self, parts) -> None:
        """Number equation lines as `align` does: each line with a \\label, unless \\tag'd."""
        count = 0
        for block in _blocks(parts, "equations"):
            for line in block["lines"]:
                tag = line.pop("tag", "") or ""
                label, named = _LABEL.search(tag), _TAG.search(tag)
                line["id"] = label.group(1) if label else ""
                if named:
                    line["number"] = named.group(1)
                elif label:
                    count += 1
                    line["number"] = str(count)
                else:
                    line["number"] = ""
                if label:
                    self.refs[label.group(1)] = line["number"]

    def _figures(self, parts) -> None:
        """Each figure gets its number and the PDF's image: a TikZ drawing as SVG, a plot
        of the flow chapter as its PNG, both as data: URIs."""
        figures = list(_blocks(parts, "figure"))
        for n, figure in enumerate(figures, 1):
            self.refs[figure["label"]] = str(n)
            figure |= {"number": str(n), "missing": ""}
        drawn = [f for f in figures if "tikz" in f]
        if drawn:
            try:
                images = htmlfigures.svgs([f.pop("tikz") for f in drawn], self._preamble())
            except RenderError as e:  # no TeX here: the page says so where they would be
                images = [""] * len(drawn)
                for f in drawn:
                    f["missing"] = f"(not drawn: {e})"
            for figure, image in zip(drawn, images, strict=True):
                figure["image"] = image

    def _preamble(self) -> str:
        """The LaTeX document's preamble: the figures are drawn with its packages."""
        return self.source.split(r"\begin{document}", 1)[0]

    # -- conversion ------------------------------------------------------------------------
    def _walk(self, obj, key: str = ""):
        """Every string of the context to HTML: an equation's sides and relation are
        formulas, every other string is prose."""
        if isinstance(obj, dict):
            return {k: self._walk(v, k) for k, v in obj.items() if k not in _LAYOUT_KEYS}
        if isinstance(obj, (list, tuple)):
            return [self._walk(v, key) for v in obj]
        if not isinstance(obj, str):
            return obj
        if key in ("lhs", "rel", "rhs"):
            return mathml(obj, display=True)
        if key in ("id", "label", "kind", "image", "number", "lang"):
            return obj
        return self.prose(obj)

    def prose(self, text: str) -> str:
        """Prose with LaTeX markup and inline formulas ($…$) -> HTML."""
        out = re.sub(r"\$([^$]*)\$", lambda m: self._keep(mathml(m.group(1))), text)
        out = _html.escape(out, quote=False)
        for tex, html in _TEXT:
            out = out.replace(tex, html)
        previous = None
        while previous != out:  # innermost commands first: \textbf{\texttt{…}}
            previous = out
            out = re.sub(r"\\([a-z]+)\{([^{}\\]*)\}", self._command, out)
            out = re.sub(r"(?<![A-Za-z\\])\{([^{}\\]*)\}", r"\1", out)  # a TeX group
        if "\\" in out or "{" in out or "}" in out:
            raise RenderError(f"HTML: LaTeX markup not converted in {text!r}")
        return _HOLE_RE.sub(lambda m: self.maths[int(m.group(1))], out)

    def _keep(self, math: str) -> str:
        self.maths.append(math)
        return _HOLE.format(len(self.maths) - 1)

    def _command(self, m: re.Match) -> str:
        name, arg = m.groups()
        simple = {
            "paragraph": '<strong class="run-in">{}</strong>',
            "textbf": "<strong>{}</strong>",
            "texttt": "<code>{}</code>",
            "emph": "<em>{}</em>",
            "textit": "<em>{}</em>",
            "text": "{}",
            "mbox": "{}",
        }
        if name in simple:
            return simple[name].format(arg)
        if name == "ref":
            return f'<a href="#{arg}">{_lookup(self.refs, arg)}</a>'
        if name == "eqref":
            return f'(<a href="#{arg}">{_lookup(self.refs, arg)}</a>)'
        if name == "cite":
            return f'[<a href="#bib:{arg}">{_lookup(self.cites, arg)}</a>]'
        return m.group(0)  # left for the check in prose(): unknown markup is an error


def _flow_chapter(chapter: dict) -> dict:
    """The --flow chapter's blocks (symfnn.flow.chapter) as this page's blocks."""
    plots = {p["path"]: Path(p["file"]).with_suffix(".png") for p in chapter.get("plots", [])}

    def block(b: dict) -> dict:
        kind = b["kind"]
        if kind == "equation":
            tag = rf"\label{{{b['label']}}}" if b.get("label") else ""
            rhs = b["tex"] + (b.get("punct") or "")
            line = {"intertext": "", "lhs": "", "rel": "", "rhs": rhs, "tag": tag}
            return {"kind": "equations", "lines": [line]}
        if kind == "align":
            lines = [
                {"intertext": "", "lhs": lhs, "rel": rel, "rhs": rhs, "tag": ""}
                for lhs, rel, rhs in b["lines"]
            ]
            lines[-1]["rhs"] += b.get("punct") or ""
            return {"kind": "equations", "lines": lines}
        if kind == "table":
            return {
                "kind": "grid",
                "header": list(b["header"]),
                "rows": [list(r) for r in b["rows"]],
            }
        if kind == "figure":
            png = plots.get(b["path"])
            image = _data_uri(png, "image/png") if png is not None and png.is_file() else ""
            return {"kind": "figure", "caption": b["caption"], "label": b["label"], "image": image}
        return {"kind": "text", "text": b["text"]}

    return {
        "title": chapter["title"],
        "label": chapter["label"],
        "intro": chapter["intro"],
        "sections": [
            {"title": sec["title"], "blocks": [block(b) for b in sec["blocks"]]}
            for sec in chapter["sections"]
        ],
    }


def _data_uri(path: Path, mime: str) -> str:
    import base64

    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _lookup(table: dict, label: str) -> str:
    """A reference's number; "??" for a label the page lacks, as LaTeX shows it."""
    return table.get(label, "??")


def _blocks(obj, kind: str):
    """Every block of `kind` in a nested context, in document order."""
    if isinstance(obj, dict):
        if obj.get("kind") == kind:
            yield obj
        for value in obj.values():
            yield from _blocks(value, kind)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _blocks(value, kind)


def _plain(text: str) -> str:
    """The title as plain text, for <title>."""
    text = text.replace(r"\allowbreak{}", "").replace(r"\allowbreak", "")
    previous = None
    while previous != text:
        previous = text
        text = re.sub(r"\\[a-z]+\{([^{}]*)\}", r"\1", text)
    return " ".join(text.replace("\\\\", " ").replace(r"\_", "_").split())


def _environment() -> jinja2.Environment:
    # The context is HTML already (escaped prose, converted MathML): no autoescape.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def html_source(derivation, *, lang: str = "en", report=None, flow: dict | None = None) -> str:
    """The whole page (deterministic: no dates, no paths); `flow`: flow.tex_chapter(…)."""
    context = _HtmlDoc(derivation, lang, report, flow).page()
    try:
        return _environment().get_template("derivation.html.jinja").render(**context)
    except jinja2.TemplateError as e:
        raise RenderError(f"template derivation.html.jinja: {e}") from None


def write(
    derivation, path, *, lang: str = "en", force: bool = False, report=None, flow=None
) -> Path:
    """Write the page atomically; refuses an existing file without `force`."""
    fileio.check_writable(path, force)
    page = html_source(derivation, lang=lang, report=report, flow=flow)
    return fileio.write_atomic(path, page, force)


def summary_html(derivation) -> str:
    """For Jupyter: the forward pass, δ recurrence and gradients of every layer (MathML)."""
    rows = summary_rows(derivation)  # bn layers: their mini-batch steps (issue 11)
    cells = "".join(
        f'<tr><td style="text-align: right">{mathml(latex(lhs), display=True)}</td>'
        f"<td>{mathml('=')}</td>"
        f'<td style="text-align: left">{mathml(latex(rhs), display=True)}</td></tr>'
        for lhs, rhs in rows
    )
    title = _html.escape(derivation.spec.describe())
    return f'<div class="symfnn"><p><strong>{title}</strong></p><table>{cells}</table></div>'
