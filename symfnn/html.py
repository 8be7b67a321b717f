"""Derivation -> one self-contained HTML page: the PDF's sections, equations and tables.

The page is built from the very section data the LaTeX document is built from: `_HtmlDoc`
is document.py's `_Doc` with its printer swapped, so every formula it meets is printed by
htmlmath (presentation MathML, from the same SymPy objects) instead of latexprint. Formulas
are kept aside as placeholders while the prose's little LaTeX markup (`\\paragraph{…}`,
`\\ref{…}`, `\\texttt{…}`, `~`) is turned into HTML; markup this module does not know is an
error, never raw LaTeX on the page. Nothing is fetched from elsewhere: CSS is inline, the
math is MathML, which current browsers lay out themselves.

    Derivation ─_HtmlDoc.context()─▶ dict (placeholders) ─to_html─▶ template ─▶ .html
"""

from __future__ import annotations

import html as _html
import re
from pathlib import Path

import jinja2
import sympy as sp

from . import fileio
from .document import _Doc
from .errors import RenderError
from .htmlmath import math, mathml
from .latexprint import matrix_lhs
from .render import template_dir

_HOLE = "\ue000{}\ue001"  # a formula's placeholder in prose (private-use characters)
_HOLE_RE = re.compile("\ue000(\\d+)\ue001")
_RELATIONS = {"=": "=", r"\leftarrow": "←", r"\approx": "≈", r"\le": "≤", r"\ge": "≥"}
# algpseudocode's English keywords; the Chinese ones come from the prose table's alg_setup
_KEYWORDS = {"repeat": "repeat", "until": "until", "for": "for", "do": "do", "return": "return"}
# inline LaTeX that is not a printed formula: rule-table names (\sigma, \operatorname{ReLU})
# and the layer table's shapes (5 \times 4)
_TEX_TOKENS = {
    r"\times": ("mo", "×"),
    r"\sigma": ("mi", "σ"),
    r"\tanh": ("mi", "tanh"),
    r"\exp": ("mi", "exp"),
    r"\log": ("mi", "log"),
    r"\ldots": ("mi", "…"),
}


class _HtmlDoc(_Doc):
    """document.py's context, with every formula printed as MathML and prose made HTML."""

    def __init__(self, d, lang: str, report=None):
        super().__init__(d, lang, report, None)
        self.maths: list[str] = []
        self.tags: dict[str, str] = {}  # eq:label -> its number or name, for \eqref
        self.numbers: dict[str, str] = {}  # sec:label -> its number, for \ref
        self._count = 0
        self.otherwise = re.sub(r"\\text\{(.*)\}", r"\1", self.s["otherwise"])

    # -- formulas: printed once, kept as placeholders ---------------------------------------
    def keep(self, inner: str, display: bool = False) -> str:
        self.maths.append(math(inner, display=display))
        return _HOLE.format(len(self.maths) - 1)

    def mathml(self, expr, order: str | None = None) -> str:
        return mathml(expr, otherwise=self.otherwise, order=order)

    def m(self, expr, **kw) -> str:
        return self.keep(self.mathml(expr, kw.get("order")))

    def tex(self, expr, **kw) -> str:
        return self.keep(self.mathml(expr, kw.get("order")), display=True)

    def in_reals(self, ms: sp.MatrixSymbol) -> str:
        r, c = ms.shape
        dims = self.mathml(r) if c == 1 else f"{self.mathml(r)}<mo>×</mo>{self.mathml(c)}"
        reals = f"<msup><mi>ℝ</mi><mrow>{dims}</mrow></msup>"
        return self.keep(f"<mrow>{self.mathml(ms)}<mo>∈</mo>{reals}</mrow>")

    def eq(self, *lines, named: bool = False) -> dict:
        """Equation rows: lhs, relation, rhs and the tag LaTeX would show (a number, or
        the label itself when `named`); a str line is prose set between the rows."""
        out = []
        for line in lines:
            if isinstance(line, str):
                out.append({"intertext": line})
                continue
            lhs, rel, rhs, label = line
            tag = ""
            if label:
                if not named:
                    self._count += 1
                tag = label if named else str(self._count)
                self.tags[f"eq:{label}"] = tag
            if rel not in _RELATIONS:
                raise RenderError(f"HTML: no MathML for the relation {rel!r}")
            out.append(
                {
                    "intertext": "",
                    "lhs": lhs if isinstance(lhs, str) else self.tex(lhs),
                    "rel": self.keep(f"<mo>{_RELATIONS[rel]}</mo>", display=True),
                    "rhs": rhs if isinstance(rhs, str) else self.tex(rhs),
                    "tag": tag,
                    "id": f"eq:{label}" if label else "",
                }
            )
        return {"kind": "equations", "lines": out}

    def algorithm(self, arch: str) -> dict:
        """The algorithm box; its update lines as W ← W − α ∂R/∂W, from the same steps."""
        box = super().algorithm(arch)
        box["updates"] = [
            self.keep(
                f"<mrow>{self.mathml(st.matrix_lhs)}<mo>←</mo>{self.mathml(st.matrix)}</mrow>"
            )
            for st in self.d.update.values()
        ]
        words = dict(_KEYWORDS)
        for key, word in re.findall(
            r"\\algorithmic(\w+)\{\\textbf\{([^{}]*)\}\}", self.s["alg_setup"]
        ):
            words[key] = word
        box["words"] = words
        return box

    # -- the page ---------------------------------------------------------------------------
    def page(self) -> dict:
        ctx = self.context()
        labels = [sec["label"] for sec in ctx["sections"]] + ["sec:algorithm", "sec:verify"]
        self.numbers = {label: str(n) for n, label in enumerate(labels, 1)}
        for n, sec in enumerate(ctx["sections"], 1):
            sec["number"] = str(n)
        s = self.s
        words = {
            key: s[key]
            for key in (
                "table_name", "algorithm_name", "require", "ensure", "sec_algorithm",
                "sec_verify", "col_layer", "col_width", "col_activation", "col_W", "col_b",
                "col_params", "total", "table_caption",
            )
        }  # fmt: skip
        out = {
            "lang": self.lang,
            "s": words,
            "title": ctx["title"],
            "author": ctx["author"],
            "intro": ctx["intro"],
            "table": ctx["table"],
            "sections": ctx["sections"],
            "algorithm": ctx["algorithm"],
            "verification": ctx["verification"],
            "numbers": {
                "algorithm": self.numbers["sec:algorithm"],
                "verify": self.numbers["sec:verify"],
            },
        }
        converted = _walk(out, self.prose)
        converted["plain_title"] = _html.escape(self._plain(ctx["title"]))
        return converted

    def prose(self, text: str) -> str:
        """Prose with LaTeX markup and formula placeholders -> HTML."""
        out = _html.escape(text, quote=False)
        out = re.sub(r"\$([^$]*)\$", lambda mt: self.keep(_inline_tex(mt.group(1))), out)
        out = out.replace(r"\allowbreak{}", "<wbr>").replace(r"\_", "_")
        previous = None
        while previous != out:  # innermost commands first: \textbf{\texttt{…}}
            previous = out
            out = re.sub(r"\\([a-z]+)\{([^{}\\]*)\}", self._command, out)
        out = out.replace("\\\\", "<br>").replace(r"\,", "\u2009").replace("~", "\u00a0")
        out = out.replace("--", "–")
        if "\\" in out or "{" in out or "}" in out:
            raise RenderError(f"HTML: LaTeX markup not converted in {text!r}")
        return _HOLE_RE.sub(lambda mt: self.maths[int(mt.group(1))], out)

    def _command(self, mt: re.Match) -> str:
        name, arg = mt.groups()
        if name == "paragraph":
            return f'<strong class="run-in">{arg}</strong>'
        if name == "textbf":
            return f"<strong>{arg}</strong>"
        if name == "texttt":
            return f"<code>{arg}</code>"
        if name in ("emph", "textit"):
            return f"<em>{arg}</em>"
        if name == "text":
            return arg
        if name == "ref":
            return f'<a href="#{arg}">{self._lookup(self.numbers, arg)}</a>'
        if name == "eqref":
            return f'(<a href="#{arg}">{self._lookup(self.tags, arg)}</a>)'
        return mt.group(0)  # left for the check in prose(): unknown markup is an error

    @staticmethod
    def _lookup(table: dict, label: str) -> str:
        if label not in table:
            raise RenderError(f"HTML: reference to an unknown label {label}")
        return table[label]

    def _plain(self, text: str) -> str:
        """The title as plain text, for <title>."""
        text = re.sub(r"\\[a-z]+\{([^{}]*)\}", r"\1", text.replace(r"\allowbreak{}", ""))
        return text.replace("\\\\", " ").replace(r"\_", "_").strip()


def _walk(obj, convert):
    """Convert every string of a nested context (dicts, lists) with `convert`."""
    if isinstance(obj, dict):
        return {k: _walk(v, convert) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_walk(v, convert) for v in obj]
    if isinstance(obj, str):
        return convert(obj)
    return obj


def _inline_tex(tex: str) -> str:
    """MathML for the few LaTeX names and shapes typed outside the printer (see _TEX_TOKENS)."""
    out = []
    for tok in re.findall(r"\\operatorname\{\w+\}|\\[A-Za-z]+|\d+|[A-Za-z]+|\S", tex):
        if tok.startswith(r"\operatorname"):
            out.append(f"<mi>{tok[14:-1]}</mi>")
        elif tok in _TEX_TOKENS:
            tag, text = _TEX_TOKENS[tok]
            out.append(f"<{tag}>{text}</{tag}>")
        elif tok.isdigit():
            out.append(f"<mn>{tok}</mn>")
        elif tok.isalpha():
            out.append(f"<mi>{tok}</mi>")
        elif tok in "+-=(),":
            out.append(f"<mo>{tok}</mo>")
        else:
            raise RenderError(f"HTML: no MathML for the LaTeX {tex!r}")
    return out[0] if len(out) == 1 else "<mrow>" + "".join(out) + "</mrow>"


def _environment() -> jinja2.Environment:
    # The context is HTML already (escaped prose, printed MathML): no autoescape.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def html_source(derivation, *, lang: str = "en", report=None) -> str:
    """The whole page (deterministic: no dates, no paths)."""
    context = _HtmlDoc(derivation, lang, report).page()
    try:
        return _environment().get_template("derivation.html.jinja").render(**context)
    except jinja2.TemplateError as e:
        raise RenderError(f"template derivation.html.jinja: {e}") from None


def write(derivation, path, *, lang: str = "en", force: bool = False, report=None) -> Path:
    """Write the page atomically; refuses an existing file without `force`."""
    fileio.check_writable(path, force)
    return fileio.write_atomic(path, html_source(derivation, lang=lang, report=report), force)


def summary_html(derivation) -> str:
    """For Jupyter: the forward pass, δ recurrence and gradients of every layer (MathML)."""
    rows = []
    for layer in derivation.layers:
        rows += [(st.matrix_lhs, st.matrix) for st in (layer.forward_z, layer.forward_a)]
    for layer in reversed(derivation.layers):
        rows.append((layer.delta.matrix_lhs, layer.delta.matrix))
        rows += [(matrix_lhs(st), st.matrix) for st in (layer.grad_W, layer.grad_b)]
    cells = "".join(
        f'<mtr><mtd style="text-align: right">{mathml(lhs)}</mtd>'
        f'<mtd style="text-align: left"><mrow><mo>=</mo>{mathml(rhs)}</mrow></mtd></mtr>'
        for lhs, rhs in rows
    )
    title = _html.escape(derivation.spec.describe())
    table = math(f"<mtable>{cells}</mtable>", block=True)
    return f'<div class="symfnn"><p><strong>{title}</strong></p>{table}</div>'
