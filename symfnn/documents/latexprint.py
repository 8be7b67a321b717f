"""LaTeX for the Derivation's SymPy objects: names read as the math, matrices as the article.

`W2` prints `W^{(2)}`, `delta_lp1` prints `\\delta^{(l+1)}`, an entry `W2[p, q]` prints
`w^{(2)}_{pq}`, `dW1` prints `\\frac{\\partial R}{\\partial W^{(1)}}`. Matrix forms print
with `\\odot`, `\\mathbf{1}_N`, `(\\cdot)^{\\top}`; `ElementwiseApplyFunction(Lambda(x, g), V)`
prints as g with x replaced by V, its products as Hadamard products
(`a^{(1)} \\odot (1 - a^{(1)})`), and a 0/1 piecewise function as an Iverson bracket.
"""

from __future__ import annotations

import re
from typing import ClassVar

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.latex import LatexPrinter

from ..engine.symbols import _GENERIC, parse_name
from . import tidy as tidying

_STEM = {"delta": r"\delta", "Delta": r"\Delta", "W": "W"}
_PER_SAMPLE = ("a", "z", "delta", "y")  # stems that differ from sample to sample
_TALL = (r"\frac", r"\sum", r"\left", r"\begin", r"\prod")
_ENTRY_STEM = {"W": "w"}  # entries of W are w_{ij}, as in the article
_SAMPLE = sp.Symbol("n", integer=True)
_GREEK = {
    "alpha": r"\alpha",
    "Omega": r"\Omega",
    "lambda_1": r"\lambda_1",
    "lambda_2": r"\lambda_2",
}


# batch normalisation and dropout (symfnn.engine.batchnorm's matrices, one layer each): stem -> LaTeX
_NORM_STEM = {
    "Zhat": r"\hat{Z}",
    "dZhat": r"d\hat{Z}",
    "DeltaY": r"\Delta_{y}",
    "Mask": "M",
    "mask": "r",  # one sample's dropout mask (r as in Srivastava et al.; m is a width)
    "mu": r"\mu",
    "sigma2_": r"\sigma",  # squared outside the layer tag
    "gamma": r"\gamma",
    "beta": r"\beta",
    "dgamma": r"\gamma",
    "dbeta": r"\beta",
    "mean": r"\bar{\mu}",  # the running estimates (batchnorm.RUNNING)
    # squared outside the tag; {}: TeX takes a group of one accent for the accent, and its
    # square would be a double superscript
    "var": r"\bar{\sigma}{}",
}
_NORM_NAME = re.compile(r"^(" + "|".join(_NORM_STEM) + r")(\d+|_l|_lp1|_lm1)$")


def _norm_name(name: str) -> str | None:
    """Zhat1 -> \\hat{Z}^{(1)}, sigma2_1 -> {\\sigma^{(1)}}^{2}, dgamma1 -> ∂R/∂γ^{(1)}."""
    match = _NORM_NAME.match(name)
    if match is None:
        return None
    stem, t = match.groups()
    out = _tagged(_NORM_STEM[stem], t if t.isdigit() else _GENERIC[t[1:]])
    if stem in ("sigma2_", "var"):
        return f"{{{out}}}^{{2}}"
    if stem.startswith("d") and stem != "dZhat":
        return rf"\frac{{\partial R}}{{\partial {out}}}"
    return out


def _tagged(stem: str, t: str | None) -> str:
    base = _STEM.get(stem, stem)
    return base if t is None else f"{base}^{{({t})}}"


class SymfnnLatexPrinter(LatexPrinter):
    """LatexPrinter with symfnn's names, Hadamard products and the article's transposes."""

    printmethod = "_symfnn_latex"
    _default_settings: ClassVar[dict] = {
        **LatexPrinter._default_settings,
        "otherwise": r"\text{otherwise}",  # the word of a Piecewise's last branch
        "shapes": False,  # annotate every matrix with its shape (the summary box)
    }

    def __init__(self, settings=None):
        super().__init__(settings)
        self._elementwise: tuple[sp.Symbol, str] | None = None  # (placeholder, its LaTeX)
        self._radicand = ""  # the elementwise function's argument, without parentheses
        self._sample = False  # inside a mean over samples: a^{(l,n)}

    def _add_parens(self, s) -> str:
        """Parentheses that grow only around tall content: (a^{(1)}_i), not \\left(…\\right)."""
        return rf"\left({s}\right)" if any(t in s for t in _TALL) else f"({s})"

    def _print_KroneckerDelta(self, expr, exp=None):
        """The Kronecker delta as an Iverson bracket [i = p]: δ is the error term here."""
        i, j = expr.args
        return rf"[{self._print(i)} = {self._print(j)}]"

    def _print_NormalDistribution(self, expr):
        mean, std = (self._print(x) for x in expr.args)
        return (
            rf"\mathcal{{N}}({mean}, {std}^{{2}})" if std != "1" else rf"\mathcal{{N}}({mean}, 1)"
        )

    def _print_Diag(self, expr):
        return rf"\operatorname{{diag}}{self._add_parens(self._print(expr.arg))}"

    def _print_Softmax(self, expr):
        return rf"\operatorname{{softmax}}{self._add_parens(self._print(expr.arg))}"

    def _print_SampleMean(self, expr):
        body = tidying.per_sample(self, expr.arg)
        n, total = (self._print(x) for x in (expr.index, expr.count))
        return rf"\frac{{1}}{{{total}}} \sum_{{{n}=1}}^{{{total}}} {body}"

    # -- names -------------------------------------------------------------------------
    def _name(self, name: str) -> str | None:
        if name in _GREEK:
            return _GREEK[name]
        if name.startswith("m") and (parsed := parse_name("a" + name[1:])) and parsed[1]:
            return f"m^{{({parsed[1]})}}"
        parsed = parse_name(name)
        if parsed is None:
            return None
        stem, t = parsed
        if stem in ("dW", "db"):
            return rf"\frac{{\partial R}}{{\partial {_tagged(stem[1], t)}}}"
        if self._sample and stem in _PER_SAMPLE:
            return _tagged(stem, f"{t},n" if t else "n")
        return _tagged(stem, t)

    def _print_Symbol(self, expr, style="plain"):
        if self._elementwise and expr == self._elementwise[0]:
            return self._elementwise[1]
        return self._name(expr.name) or super()._print_Symbol(expr, style)

    _print_Dummy = _print_Symbol

    def _print_MatrixSymbol(self, expr):
        out = self._name(expr.name) or _norm_name(expr.name) or super()._print_MatrixSymbol(expr)
        return self._shaped(out, expr) if self._settings["shapes"] else out

    def _shaped(self, out: str, expr) -> str:
        """X with its shape beneath: \\underbrace{W^{(l)}}_{m^{(l)} \\times m^{(l-1)}}."""
        r, c = (self._print(d) for d in expr.shape)
        return rf"\underbrace{{{out}}}_{{{r} \times {c}}}"

    def _print_IndexedBase(self, expr):
        return self._name(expr.name) or _norm_name(expr.name) or super()._print_IndexedBase(expr)

    def _print_Indexed(self, expr):
        parsed = parse_name(expr.base.name)
        if parsed is None and (norm := _norm_name(expr.base.name)):
            return f"{norm}_{{{''.join(self._print(i) for i in expr.indices)}}}"
        if parsed is None:
            return super()._print_Indexed(expr)
        stem, t = parsed
        if expr.indices == (_SAMPLE,):  # sample n of a data set: y^{(n)}, a^{(3,n)}
            return _tagged(stem, f"{t},n" if t else "n")
        idx = [self._print(i) for i in expr.indices]
        sep = "" if all(len(s) == 1 for s in idx) else ","
        return f"{_tagged(_ENTRY_STEM.get(stem, stem), t)}_{{{sep.join(idx)}}}"

    def _print_Function(self, expr, exp=None):
        if self._elementwise and isinstance(expr, sp.exp):
            return rf"\exp{self._add_parens(self._print(expr.args[0]))}"
        name = expr.func.__name__
        if isinstance(expr, AppliedUndef) and name.startswith("act_"):
            from ..engine.activations import lookup

            return lookup(name[4:]).latex + self._add_parens(self._print(expr.args[0]))
        if isinstance(expr, AppliedUndef) and len(expr.args) > 1:  # L(y, a^{(3)})
            args = ", ".join(self._print(a) for a in expr.args)
            return self._print(expr.func) + self._add_parens(args)
        if isinstance(expr, (AppliedUndef, sp.tanh, sp.sign)) and len(expr.args) == 1:
            head = self._print(expr.func) if isinstance(expr, AppliedUndef) else rf"\{name}"
            if name == "sign":
                head = r"\operatorname{sign}"
            out = head + self._add_parens(self._print(expr.args[0]))
            return (
                out
                if exp is None
                else rf"{head}^{{{exp}}}{self._add_parens(self._print(expr.args[0]))}"
            )
        return super()._print_Function(expr, exp)

    def _print_log(self, expr, exp=None):
        """log a_i without parentheses around a lone entry; log(1 - a_i) with them."""
        (arg,) = expr.args
        inner = self._print(arg)
        if not isinstance(arg, (sp.Indexed, sp.Symbol)):
            inner = self._add_parens(inner)
        else:
            inner = " " + inner
        head = r"\log" if exp is None else rf"\log^{{{exp}}}"
        return head + inner

    def _print_Add(self, expr, order=None):
        if self.order == "none" or self._elementwise:
            return super()._print_Add(expr, order)
        terms = tidying.ordered_terms(expr)
        return super()._print_Add(sp.Add(*terms, evaluate=False), order="none")

    def _print_exp(self, expr, exp=None):
        if self._elementwise:
            return self._print_Function(expr, exp)
        return super()._print_ExpBase(expr, exp)

    def _print_Sum(self, expr):
        """Nested sums, one \\sum per index (SymPy would print one \\sum over a \\substack)."""
        if len(expr.limits) == 1:
            return super()._print_Sum(expr)
        outer = "".join(
            rf"\sum_{{{self._print(v)}={self._print(lo)}}}^{{{self._print(hi)}}} "
            for v, lo, hi in reversed(expr.limits[1:])
        )
        return outer + super()._print_Sum(sp.Sum(expr.function, expr.limits[0]))

    # -- powers, derivatives, piecewise -----------------------------------------------
    def _print_Pow(self, expr):
        base, e = expr.args
        if self._elementwise and base.has(self._elementwise[0]) and e.is_Integer and e > 1:
            return rf"{self._add_parens(self._print(base))}^{{\odot {self._print(e)}}}"
        if self._elementwise and base == self._elementwise[0] and e in (sp.S.Half, -sp.S.Half):
            root = rf"\sqrt{{{self._radicand}}}"  # the radical's bar groups: no parentheses
            return root if e > 0 else rf"\frac{{1}}{{{root}}}"
        if base.is_Integer and e.is_Integer and e < -3:  # 10^{-60}, not 1/1000…0
            return rf"{self._print(base)}^{{{self._print(e)}}}"
        if isinstance(base, (sp.Indexed, sp.Symbol)) and e.is_Integer and e > 1:
            b = self._print(base)
            if "^" in b:
                return rf"{self._add_parens(b)}^{{{self._print(e)}}}"
        return super()._print_Pow(expr)

    def _print_Derivative(self, expr):
        (var, count), *rest = expr.variable_count
        f = expr.expr
        if (
            not rest
            and count == 1
            and isinstance(f, sp.core.function.AppliedUndef)
            and f.args == (var,)
        ):
            head = self._print(f.func)
            if f.func.__name__.startswith("act_"):
                head = self._print_Function(f.func(var))[: -len(self._add_parens(self._print(var)))]
            return rf"{head}'{self._add_parens(self._print(var))}"
        if (
            not rest
            and count == 1
            and (f.is_Symbol or isinstance(f, (sp.Indexed, sp.MatrixSymbol)))
        ):
            if self._settings["shapes"] and isinstance(var, sp.MatrixSymbol):
                name = self._name(var.name) or self._print(var)
                frac = rf"\frac{{\partial {self._print(f)}}}{{\partial {name}}}"
                return self._shaped(frac, var)
            return rf"\frac{{\partial {self._print(f)}}}{{\partial {self._print(var)}}}"
        return super()._print_Derivative(expr)

    def _print_Piecewise(self, expr):
        if (
            self._elementwise
            and [e for e, _ in expr.args] == [1, 0]
            and expr.args[-1].cond == sp.true
        ):
            return rf"\left[{self._print(expr.args[0].cond)}\right]"  # Iverson bracket
        rows = [rf"{self._print(e)} & {self._print(c)}" for e, c in expr.args[:-1]]
        e, c = expr.args[-1]
        rows.append(
            rf"{self._print(e)} & "
            + (self._settings["otherwise"] if c == sp.true else self._print(c))
        )
        return r"\begin{cases} " + r" \\ ".join(rows) + r" \end{cases}"

    # -- matrices ----------------------------------------------------------------------
    def _print_Transpose(self, expr):
        arg = expr.arg
        if isinstance(arg, sp.MatrixSymbol) and "^" not in self._print(arg):
            return rf"{self._print(arg)}^{{\top}}"
        return rf"{self._add_parens(self._print(arg))}^{{\top}}"

    def _print_OneMatrix(self, expr):
        r, c = expr.shape
        if c == 1:
            return rf"\mathbf{{1}}_{{{self._print(r)}}}"
        if r == 1:
            return rf"\mathbf{{1}}_{{{self._print(c)}}}^{{\top}}"
        return rf"\mathbf{{1}}_{{{self._print(r)} \times {self._print(c)}}}"

    def _print_Identity(self, expr):
        return rf"I_{{{self._print(expr.shape[0])}}}"

    def _print_Inverse(self, expr):
        return rf"{self._add_parens(self._print(expr.arg))}^{{-1}}"

    def _factor(self, e) -> str:
        """A factor of a product: compound matrix expressions in parentheses."""
        if isinstance(e, sp.HadamardProduct):
            rest = [a for a in e.args if not isinstance(a, sp.OneMatrix)]
            e = rest[0] if len(rest) == 1 else e
        s = self._print(e)
        compound = (
            isinstance(e, (sp.MatAdd, sp.HadamardProduct))
            or _sum_inside(e)
            or (
                isinstance(e, sp.MatMul) and sum(getattr(f, "is_Matrix", False) for f in e.args) > 1
            )
        )
        return rf"{self._add_parens(s)}" if compound else s

    def _print_HadamardProduct(self, expr):
        args = [a for a in expr.args if not isinstance(a, sp.OneMatrix)] or expr.args  # v ⊙ 1 = v
        return r" \odot ".join(self._factor(a) for a in args)

    def _print_HadamardPower(self, expr):
        if isinstance(expr.base, sp.MatrixSymbol) and "^" not in self._print(expr.base):
            return rf"{self._print(expr.base)}^{{\odot {self._print(expr.exp)}}}"
        return rf"{self._add_parens(self._print(expr.base))}^{{\odot {self._print(expr.exp)}}}"

    def _print_MatMul(self, expr):
        # a nested product's factors are this product's: 1_B (−μ) prints − 1_B μ
        args = [g for f in expr.args for g in (f.args if isinstance(f, sp.MatMul) else (f,))]
        scalars = [f for f in args if not getattr(f, "is_Matrix", False)]
        matrices = [f for f in args if getattr(f, "is_Matrix", False)]
        c = sp.Mul(*scalars)
        sign = ""
        if c.could_extract_minus_sign():
            sign, c = "- ", -c
        parts = [] if c == 1 else [self.parenthesize(c, 50)]
        parts += [self._factor(m) if len(matrices) > 1 else self._print(m) for m in matrices]
        return sign + " ".join(parts)

    def _print_MatAdd(self, expr):
        """Data terms first, penalties (λW) next, subtracted terms last: W − α ∂R/∂W."""

        out = ""
        for t in tidying.ordered_matrix_terms(expr):
            s = self._print(t)
            if not out:
                out = s
            elif s.startswith("- "):
                out += " - " + s[2:]
            else:
                out += " + " + s
        return out

    def _print_ElementwiseApplyFunction(self, expr):
        if isinstance(expr.expr, sp.Transpose):  # g(zᵀ) reads better as g(z)ᵀ
            inner = ElementwiseApplyFunction(expr.function, expr.expr.arg)
            return rf"{self._add_parens(self._print(inner))}^{{\top}}"
        (x,), body = expr.function.args
        v = self._print(expr.expr)
        if not isinstance(expr.expr, (sp.MatrixSymbol, sp.OneMatrix)):
            v = rf"{self._add_parens(v)}"
        outer, self._elementwise = self._elementwise, (x, v)
        bare, self._radicand = self._radicand, self._print(expr.expr)
        try:
            return self._print(body)
        finally:
            self._elementwise, self._radicand = outer, bare

    def _print_Mul(self, expr):
        if not self._elementwise and isinstance(expr, sp.Mul):
            plain = self._plain_product(expr)
            if plain is not None:
                return plain
        if self._elementwise:
            x = self._elementwise[0]
            vector = sorted((f for f in expr.args if f.has(x)), key=lambda f: f.is_Add)
            if len(vector) > 1 and all(not (f.is_Pow and f.exp.is_negative) for f in vector):
                c = sp.Mul(*(f for f in expr.args if not f.has(x)))
                parts = [
                    rf"{self._add_parens(self._print(f))}" if f.is_Add else self._print(f)
                    for f in vector
                ]
                s = r" \odot ".join(parts)
                if c == -1:
                    return "- " + s
                return s if c == 1 else f"{self._print(c)} {s}"
        return super()._print_Mul(expr)

    def _plain_product(self, expr) -> str | None:
        """A product without a denominator, its factors in textbook order (y_i log a_i,
        δ_p a_q, f'(z) Σ w δ); a mean (1/N) Σ; None leaves fractions to SymPy's printer."""
        sums = [f for f in expr.args if isinstance(f, sp.Sum)]
        if len(sums) == 1 and len(expr.args) == 2:
            (c,) = (f for f in expr.args if f is not sums[0])
            if c.is_Pow and c.exp == -1 and c.base.is_Symbol:  # (1/N) Σ_n: a mean
                return rf"\frac{{1}}{{{self._print(c.base)}}} {self._print(sums[0])}"
        if any(f.is_Pow and f.exp.is_negative for f in expr.args) or any(
            f.is_Rational and not f.is_Integer for f in expr.args
        ):
            return None
        coeff, rest = expr.as_coeff_Mul()
        factors = list(sp.Mul.make_args(rest))
        if self.order != "none":  # an unevaluated product keeps its order (Nielsen's chain)
            factors = tidying.ordered_factors(factors)
        sign = "- " if coeff.is_negative else ""
        coeff = abs(coeff)
        parts = [] if coeff == 1 else [self._print(coeff)]
        for n, f in enumerate(factors):
            s = self._print(f)
            if f.is_Add or (isinstance(f, sp.Sum) and n < len(factors) - 1):
                s = self._add_parens(s)
            parts.append(s)
        return sign + " ".join(parts)


def _sum_inside(e) -> bool:
    """g(V) whose body is a sum (1 - a): needs parentheses as a factor."""
    return isinstance(e, ElementwiseApplyFunction) and e.function.args[1].is_Add


def latex(
    expr, lang: str = "en", order: str | None = None, tidy: bool = True, shapes: bool = False
) -> str:
    """The LaTeX of one SymPy object, in the document's notation, after the tidying stage.

    `order="none"` keeps the terms of an unevaluated Add in the order given; `tidy=False`
    prints a definition as written (σ(z) = 1/(1 + e^{-z}) must not become σ(z) = σ(z)).
    """
    from .prose import strings

    if tidy and isinstance(expr, sp.Basic) and order != "none":
        expr = tidying.tidy(expr)
    settings = {"otherwise": strings(lang)["otherwise"], "order": order, "shapes": shapes}
    return SymfnnLatexPrinter(settings).doprint(expr)


def summary_rows(derivation) -> list[tuple[sp.Basic, sp.Basic]]:
    """(lhs, rhs) of the notebook summary: the forward pass 1→L, then δ and the gradients
    L→1. A layer with batch normalisation has no one-sample form (the samples couple through
    μ_B and σ²_B), so its steps are the mini-batch forms of `symfnn.engine.batchnorm`
    (`batch_forward`, `batch_backward`: z, μ, σ², ẑ, y, a; δ^y, dẐ, δ, ∂R/∂W, ∂R/∂γ, ∂R/∂β),
    with B samples, as the document's per-layer section shows them."""
    from ..engine.batchnorm import batch_backward, batch_forward
    from .tidy import as_batch

    batch = lambda steps: [(as_batch(st.batch_lhs), as_batch(st.batch)) for st in steps]
    bn = lambda layer: layer.norm is not None and layer.norm.batchnorm
    rows = []
    for layer in derivation.layers:
        if bn(layer):
            rows += batch(batch_forward(layer))
        else:
            rows += [(st.matrix_lhs, st.matrix) for st in (layer.forward_z, layer.forward_a)]
    for layer in reversed(derivation.layers):
        if bn(layer):
            rows += batch(batch_backward(layer))
        else:
            rows.append((layer.delta.matrix_lhs, layer.delta.matrix))
            rows += [(matrix_lhs(st), st.matrix) for st in (layer.grad_W, layer.grad_b)]
    return rows


def derivation_summary_latex(derivation) -> str:
    """For Jupyter: the forward pass, δ recurrence and gradients of every layer (MathJax)."""
    rows = [rf"{latex(lhs)} &= {latex(rhs)}" for lhs, rhs in summary_rows(derivation)]
    title = rf"\text{{{derivation.spec.describe().replace('_', ' ')}}}"
    return "$$" + title + r"\\ \begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}$$"


def matrix_lhs(step) -> sp.Basic:
    """A gradient step's matrix lhs with the index lhs's function (R when regularised)."""
    lhs = step.matrix_lhs
    if isinstance(lhs, sp.Derivative) and isinstance(step.lhs, sp.Derivative):
        return sp.Derivative(step.lhs.expr, *lhs.variables)
    return lhs
