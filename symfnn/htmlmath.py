"""Presentation MathML for the Derivation's SymPy objects, in the document's notation.

The HTML twin of latexprint.py: a subclass of SymPy's `MathMLPresentationPrinter` that
names things as the LaTeX printer does (`W2` -> W⁽²⁾, `delta_lp1` -> δ⁽ˡ⁺¹⁾, `W2[p, q]` ->
w⁽²⁾_pq, `dW1` -> ∂R/∂W⁽¹⁾), prints matrix forms with ⊙, 𝟏_N and ⊤, an element-wise
function g(V) as g with x replaced by V, and a 0/1 piecewise function as an Iverson bracket.
Its output is MathML Core, which Chromium and Firefox lay out natively.
"""

from __future__ import annotations

import html
import re
from typing import ClassVar

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.conventions import split_super_sub
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.precedence import PRECEDENCE

from .symbols import parse_name

_STEM = {"delta": "δ", "Delta": "Δ"}
_ENTRY_STEM = {"W": "w"}  # entries of W are w_ij, as in the article
_SAMPLE = sp.Symbol("n", integer=True)
_GREEK = {"alpha": "α", "Omega": "Ω", "lambda": "λ", "sigma": "σ", "delta": "δ"}
_NAME_TEX = {r"\ldots": "…", r"\dots": "…", r"\cdots": "⋯"}  # LaTeX inside a symbol's name
_INVISIBLE_TIMES = "\u2062"
# SymPy writes HTML's named entities (&InvisibleTimes;): characters keep the MathML valid XML
_ENTITY = re.compile(r"&(?!(?:lt|gt|amp|quot|apos);)[A-Za-z]+;")


class SymfnnMathMLPrinter(MathMLPresentationPrinter):
    """MathMLPresentationPrinter with symfnn's names, Hadamard products and transposes."""

    printmethod = "_symfnn_mathml"
    _default_settings: ClassVar[dict] = {
        **MathMLPresentationPrinter._default_settings,
        "otherwise": "otherwise",  # the word of a Piecewise's last branch
    }

    def __init__(self, settings=None):
        super().__init__(settings)
        # (placeholder, the vector it stands for, parenthesised?) inside g(V)
        self._elementwise: tuple[sp.Symbol, sp.Basic, bool] | None = None

    # -- elements ----------------------------------------------------------------------
    def _el(self, tag: str, *children, text: str | None = None, **attrs):
        e = self.dom.createElement(tag)
        for key, value in attrs.items():
            e.setAttribute(key, value)
        if text is not None:
            e.appendChild(self.dom.createTextNode(text))
        for c in children:
            e.appendChild(c)
        return e

    def _mo(self, text: str, **attrs):
        return self._el("mo", text=text, **attrs)

    def _mi(self, text: str, **attrs):
        return self._el("mi", text=text, **attrs)

    def _row(self, *children):
        return self._el("mrow", *children)

    def _paren(self, inner, left: str = "(", right: str = ")"):
        return self._row(self._mo(left), inner, self._mo(right))

    def _token_row(self, text: str):
        """'l+1' or '3,n' as numbers, identifiers and operators."""
        parts = []
        for tok in re.findall(r"\d+|[A-Za-z]+|\S", text):
            tag = "mn" if tok.isdigit() else "mi" if tok.isalpha() else "mo"
            parts.append(self._el(tag, text=tok))
        return parts[0] if len(parts) == 1 else self._row(*parts)

    # -- names -------------------------------------------------------------------------
    def _tagged(self, stem: str, t: str | None, sub=None):
        base = self._mi(_STEM.get(stem, stem))
        if t is None:
            return base if sub is None else self._el("msub", base, sub)
        sup = self._paren(self._token_row(t))
        if sub is None:
            return self._el("msup", base, sup)
        return self._el("msubsup", base, sub, sup)

    def _plain_name(self, name: str):
        """A name outside symfnn's scheme: `f_l` -> f_l, `lambda_2` -> λ_2 (SymPy's rules)."""
        for tex, char in _NAME_TEX.items():
            name = name.replace(tex, char)
        if re.search(r"[-+]", name):  # l-1, l+1: a small expression, not one identifier
            return self._token_row(name)
        stem, supers, subs = split_super_sub(name)
        base = self._mi(_GREEK.get(stem, stem))
        if subs:
            base = self._el("msub", base, self._token_row(",".join(subs)))
        if supers:
            base = self._el("msup", base, self._token_row(",".join(supers)))
        return base

    def _name(self, name: str):
        if name.startswith("m") and (parsed := parse_name("a" + name[1:])) and parsed[1]:
            return self._tagged("m", parsed[1])
        parsed = parse_name(name)
        if parsed is None:
            return self._plain_name(name) if name.split("_")[0] in _GREEK else None
        stem, t = parsed
        if stem in ("dW", "db"):
            num = self._row(self._mo("∂"), self._mi("R"))
            return self._el("mfrac", num, self._row(self._mo("∂"), self._tagged(stem[1], t)))
        return self._tagged(stem, t)

    def _print_Symbol(self, expr, style="plain"):
        if self._elementwise and expr == self._elementwise[0]:
            _, vector, paren = self._elementwise
            printed = self._print(vector)
            return self._paren(printed) if paren else printed
        return self._name(expr.name) or self._plain_name(expr.name)

    _print_Dummy = _print_Symbol

    def _print_MatrixSymbol(self, expr):
        return self._name(expr.name) or self._plain_name(expr.name)

    def _print_IndexedBase(self, expr):
        return self._name(expr.name) or self._plain_name(expr.name)

    def _print_Indexed(self, expr):
        parsed = parse_name(expr.base.name)
        if parsed is None:
            return super()._print_Indexed(expr)
        stem, t = parsed
        if expr.indices == (_SAMPLE,):  # sample n of a data set: y^(n), a^(3,n)
            return self._tagged(stem, f"{t},n" if t else "n")
        idx = [self._print(i) for i in expr.indices]
        plain = all(len(str(i)) == 1 for i in expr.indices)
        sub = idx[0] if len(idx) == 1 else self._row(*self._separated(idx, None if plain else ","))
        return self._tagged(_ENTRY_STEM.get(stem, stem), t, sub)

    def _separated(self, items: list, sep: str | None) -> list:
        out = []
        for n, item in enumerate(items):
            if n and sep:
                out.append(self._mo(sep))
            out.append(item)
        return out

    # -- functions -----------------------------------------------------------------------
    def _print_Function(self, expr, exp=None):
        if isinstance(expr, AppliedUndef):
            head = self._plain_name(expr.func.__name__)
            return self._row(head, self._paren_comma_separated(*expr.args))
        return super()._print_Function(expr)

    def _print_UndefinedFunction(self, expr):
        return self._plain_name(expr.__name__)

    def _print_exp(self, expr):
        if self._elementwise:  # exp(long vector expression) reads better than e^(…)
            return self._row(self._mi("exp"), self._paren(self._print(expr.args[0])))
        return super()._print_exp(expr)

    def _print_KroneckerDelta(self, expr):
        i, j = (self._print(a) for a in expr.args)
        return self._el("msub", self._mi("δ"), self._row(i, j))

    def _print_Sum(self, expr):
        """Nested sums, one ∑ per index."""
        if len(expr.limits) == 1:
            return super()._print_Sum(expr)
        inner = self._print(sp.Sum(expr.function, expr.limits[0]))
        for v, lo, hi in expr.limits[1:]:
            low = self._row(self._print(v), self._mo("="), self._print(lo))
            inner = self._row(self._el("munderover", self._mo("∑"), low, self._print(hi)), inner)
        return inner

    # -- powers, derivatives, piecewise --------------------------------------------------
    def _print_Pow(self, expr):
        base, e = expr.args
        if self._elementwise and base.has(self._elementwise[0]) and e.is_Integer and e > 1:
            sup = self._row(self._mo("⊙"), self._print(e))
            return self._el("msup", self._paren(self._print(base)), sup)
        if base.is_Integer and e.is_Integer and e < -3:  # 10^-60, not 1/1000…0
            return self._el("msup", self._print(base), self._print(e))
        if isinstance(base, (sp.Indexed, sp.Symbol)) and e.is_Integer and e > 1:
            b = self._print(base)
            if b.tagName in ("msup", "msubsup"):
                return self._el("msup", self._paren(b), self._print(e))
        return super()._print_Pow(expr)

    def _print_Derivative(self, expr):
        (var, count), *rest = expr.variable_count
        f = expr.expr
        if not rest and count == 1 and isinstance(f, AppliedUndef) and f.args == (var,):
            head = self._el("msup", self._plain_name(f.func.__name__), self._mo("′"))
            return self._row(head, self._paren(self._print(var)))
        if (
            not rest
            and count == 1
            and (f.is_Symbol or isinstance(f, (sp.Indexed, sp.MatrixSymbol)))
        ):
            num = self._row(self._mo("∂"), self._print(f))
            return self._el("mfrac", num, self._row(self._mo("∂"), self._print(var)))
        return super()._print_Derivative(expr)

    def _print_Piecewise(self, expr):
        if (
            self._elementwise
            and [e for e, _ in expr.args] == [1, 0]
            and expr.args[-1].cond == sp.true
        ):
            return self._paren(self._print(expr.args[0].cond), "[", "]")  # Iverson bracket
        rows = []
        for e, c in expr.args:
            cond = self._el("mtext", text=self._settings["otherwise"]) if c == sp.true else None
            cells = (self._print(e), cond if cond is not None else self._print(c))
            rows.append(
                self._el("mtr", *(self._el("mtd", x, style="text-align: left") for x in cells))
            )
        table = self._el("mtable", *rows, columnspacing="1em")
        return self._row(self._mo("{"), table)

    def _print_Relational(self, expr):
        ops = {"==": "=", "!=": "≠", "<": "<", ">": ">", "<=": "≤", ">=": "≥"}
        lhs, rhs = self._print(expr.lhs), self._print(expr.rhs)
        return self._row(lhs, self._mo(ops.get(expr.rel_op, expr.rel_op)), rhs)

    # -- matrices ------------------------------------------------------------------------
    def _print_Transpose(self, expr):
        arg = self._print(expr.arg)
        if not (isinstance(expr.arg, sp.MatrixSymbol) and arg.tagName not in ("msup", "msubsup")):
            arg = self._paren(arg)
        return self._el("msup", arg, self._mi("⊤"))

    def _print_OneMatrix(self, expr):
        r, c = expr.shape
        one = self._mn_bold_one()
        if c == 1:
            return self._el("msub", one, self._print(r))
        if r == 1:
            return self._el("msubsup", one, self._print(c), self._mi("⊤"))
        return self._el("msub", one, self._row(self._print(r), self._mo("×"), self._print(c)))

    def _mn_bold_one(self):
        return self._el("mn", text="𝟏")  # MATHEMATICAL BOLD DIGIT ONE, as \mathbf{1}

    def _print_Identity(self, expr):
        return self._el("msub", self._mi("I"), self._print(expr.shape[0]))

    def _print_Inverse(self, expr):
        return self._el("msup", self._paren(self._print(expr.arg)), self._print(-1))

    def _factor(self, e):
        """A factor of a product: compound matrix expressions in parentheses."""
        if isinstance(e, sp.HadamardProduct):
            rest = [a for a in e.args if not isinstance(a, sp.OneMatrix)]
            e = rest[0] if len(rest) == 1 else e
        printed = self._print(e)
        compound = (
            isinstance(e, (sp.MatAdd, sp.HadamardProduct))
            or _sum_inside(e)
            or (
                isinstance(e, sp.MatMul) and sum(getattr(f, "is_Matrix", False) for f in e.args) > 1
            )
        )
        return self._paren(printed) if compound else printed

    def _print_HadamardProduct(self, expr):
        args = [a for a in expr.args if not isinstance(a, sp.OneMatrix)] or expr.args  # v ⊙ 1 = v
        return self._row(*self._separated([self._factor(a) for a in args], "⊙"))

    def _print_HadamardPower(self, expr):
        sup = self._row(self._mo("⊙"), self._print(expr.exp))
        return self._el("msup", self._paren(self._print(expr.base)), sup)

    def _print_MatMul(self, expr):
        scalars = [f for f in expr.args if not getattr(f, "is_Matrix", False)]
        matrices = [f for f in expr.args if getattr(f, "is_Matrix", False)]
        c = sp.Mul(*scalars)
        sign = []
        if c.could_extract_minus_sign():
            sign, c = [self._mo("-")], -c
        parts = [] if c == 1 else [self.parenthesize(c, PRECEDENCE["Mul"])]
        parts += [self._factor(m) if len(matrices) > 1 else self._print(m) for m in matrices]
        return self._row(*sign, *self._separated(parts, _INVISIBLE_TIMES))

    def _print_MatAdd(self, expr):
        """Data terms first, penalties (λW) next, subtracted terms last: W − α ∂R/∂W."""

        def negative(t) -> bool:
            return (
                isinstance(t, sp.MatMul)
                and sp.Mul(
                    *(f for f in t.args if not getattr(f, "is_Matrix", False))
                ).could_extract_minus_sign()
            )

        def key(t):
            scaled = isinstance(t, sp.MatMul) and any(
                s.name.startswith("lambda") for s in t.free_symbols if s.is_Symbol
            )
            broadcast = isinstance(t, sp.MatrixSymbol) or t.has(sp.OneMatrix)  # + b, + 1 bᵀ
            return (negative(t), scaled, broadcast)

        out = []
        for n, t in enumerate(sorted(expr.args, key=key)):
            if negative(t):
                out += [self._mo("-"), self._print(-t)]
            else:
                out += ([self._mo("+")] if n else []) + [self._print(t)]
        return self._row(*out)

    def _print_ElementwiseApplyFunction(self, expr):
        if isinstance(expr.expr, sp.Transpose):  # g(zᵀ) reads better as g(z)ᵀ
            inner = ElementwiseApplyFunction(expr.function, expr.expr.arg)
            return self._el("msup", self._paren(self._print(inner)), self._mi("⊤"))
        (x,), body = expr.function.args
        paren = not isinstance(expr.expr, (sp.MatrixSymbol, sp.OneMatrix))
        outer, self._elementwise = self._elementwise, (x, expr.expr, paren)
        try:
            return self._print(body)
        finally:
            self._elementwise = outer

    def _print_Mul(self, expr):
        if self._elementwise:
            x = self._elementwise[0]
            vector = sorted((f for f in expr.args if f.has(x)), key=lambda f: f.is_Add)
            if len(vector) > 1 and all(not (f.is_Pow and f.exp.is_negative) for f in vector):
                c = sp.Mul(*(f for f in expr.args if not f.has(x)))
                parts = [
                    self._paren(self._print(f)) if f.is_Add else self._print(f) for f in vector
                ]
                body = self._separated(parts, "⊙")
                if c == -1:
                    return self._row(self._mo("-"), *body)
                return self._row(*body) if c == 1 else self._row(self._print(c), *body)
        return super()._print_Mul(expr)


def _sum_inside(e) -> bool:
    """g(V) whose body is a sum (1 - a): needs parentheses as a factor."""
    return isinstance(e, ElementwiseApplyFunction) and e.function.args[1].is_Add


def mathml(expr, *, otherwise: str = "otherwise", order: str | None = None) -> str:
    """The presentation MathML of one SymPy object (no <math> wrapper).

    `order="none"` keeps the terms of an unevaluated Add in the order given.
    """
    printer = SymfnnMathMLPrinter({"otherwise": otherwise, "order": order})
    out = _ENTITY.sub(lambda m: html.unescape(m.group(0)), printer.doprint(expr))
    return out.replace("<mo>-</mo>", "<mo>−</mo>").replace("<mn>-", "<mn>−")  # a minus


def math(inner: str, *, display: bool = False, block: bool = False) -> str:
    """A <math> element around printed MathML: `display` sets fractions and sums at full
    size (an equation's side, in a table cell), `block` makes it a centred block of its own."""
    attrs = ' display="block"' if block else ' displaystyle="true"' if display else ""
    return f'<math xmlns="http://www.w3.org/1998/Math/MathML"{attrs}>{inner}</math>'
