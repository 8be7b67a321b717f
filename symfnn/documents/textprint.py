"""The derivation as plain text for the terminal (`symfnn derive SPEC`).

A StrPrinter subclass that reads symbol names back through `symbols.parse_name`, so the
terminal says δ2, Wᵀ, ⊙ and ∂L/∂z where SymPy would say delta2, W.T, HadamardProduct.
"""

from __future__ import annotations

import re
import unicodedata

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pretty.pretty_symbology import pretty_symbol
from sympy.printing.str import StrPrinter

from ..engine import batchnorm as bn
from ..engine.derive import Derivation, Step
from ..engine.symbols import _GENERIC, parse_name
from . import tidy as tidying
from .latexprint import _NORM_NAME, _NORM_STEM
from .latexprint import _norm_name as latex_name
from .tidy import as_batch, averaged, in_terms_of_f

_GREEK = {
    "delta": "δ",
    "Delta": "Δ",
    "lambda_1": "λ1",
    "lambda_2": "λ2",
    "alpha": "α",
    "Omega": "Ω",
}
_TAGS = {"l": "(l)", "l+1": "(l+1)", "l-1": "(l-1)", "L": "(L)", "L-1": "(L-1)"}
_ACT = {"sigmoid": "σ", "identity": "id"}


def _act_name(name: str) -> str:
    """An activation as the terminal writes it: σ, tanh, ReLU (its LaTeX name, plain)."""
    from ..engine.activations import lookup

    latex = lookup(name).latex
    return _ACT.get(name) or latex.replace(r"\operatorname{", "").strip("{}\\").rstrip("}")


def _pretty(tex: str) -> str:
    """A name of latexprint's batch-norm table in Unicode by SymPy's pretty names:
    \\hat{Z} -> Ẑ, \\bar{\\mu} -> μ̅, \\Delta_{y} -> Δ_y, \\gamma -> γ."""
    name = re.sub(r"\\(hat|bar)\{\\?(\w+)\}", lambda m: m.group(2) + m.group(1), tex)
    return unicodedata.normalize("NFC", pretty_symbol(re.sub(r"[\\{}]", "", name)))  # Ẑ precomposed


def _norm_name(name: str) -> str | None:
    """A batch-norm layer's matrix as the document names it (latexprint's table, its square
    and its ∂R/∂), in Unicode: gamma1 -> γ1, dgamma_l -> ∂R/∂γ(l), DeltaY1 -> Δ_y(1),
    sigma2_1 -> σ1², dZhat1 -> dẐ1."""
    match = _NORM_NAME.match(name)
    if match is None:
        return None
    stem, t = match.groups()
    out = _pretty(_NORM_STEM[stem])
    t = _GENERIC[t[1:]] if t.startswith("_") else t
    out += f"({t})" if "_" in out or not t.isdigit() else t
    tex = latex_name(name)
    if tex.endswith("}^{2}"):
        out += "²"
    if tex.startswith(r"\frac{\partial R}"):
        out = f"∂R/∂{out}"
    return out


def _unit_name(name: str) -> str | None:
    """One unit's batch-norm symbol (symfnn.engine.batchnorm) by SymPy's pretty name:
    mu -> μ, sigma2 -> σ², zhat -> ẑ, delta_y -> δ_y, epsilon -> ε, rho -> ρ."""
    units = (bn.mu, bn.var, bn.gamma, bn.beta, bn.mean_run, bn.var_run, bn.EPSILON, bn.MOMENTUM)
    names = {x.name for x in units} | {str(x.label) for x in (bn.zhat, bn.dzhat, bn.delta_y)}
    if name not in names:
        return None
    squared = re.fullmatch(r"([a-z]+)2(bar)?", name)  # σ² (sigma2), its running estimate
    if squared:
        return pretty_symbol(squared[1] + (squared[2] or "")) + "²"
    return unicodedata.normalize("NFC", pretty_symbol(name))  # ẑ precomposed, as Ẑ


class TextPrinter(StrPrinter):
    """Plain-text math with the article's names."""

    _sample = False  # inside a mean over samples: a1(n)

    def _name(self, name: str) -> str:
        if name in _GREEK:
            return _GREEK[name]
        if name.startswith("m") and (parsed := parse_name("a" + name[1:])) and parsed[1]:
            return f"m{_TAGS.get(parsed[1], f'({parsed[1]})')}"  # a width: m(l-1), m(3)
        parsed = parse_name(name)
        if parsed is None:
            return _norm_name(name) or _unit_name(name) or name
        stem, tag = parsed
        if stem in ("dW", "db"):
            return f"∂R/∂{stem[1]}{_TAGS.get(tag, tag or '')}"
        stem = _GREEK.get(stem, stem)
        if self._sample and stem in ("a", "z", "δ", "y"):
            return f"{stem}{tag or ''}(n)"
        if tag is None:
            return stem
        return f"{stem}{_TAGS.get(tag, tag)}"

    def _print_Add(self, expr, order=None):
        return super()._print_Add(sp.Add(*tidying.ordered_terms(expr), evaluate=False), "none")

    def _print_Diag(self, expr):
        return f"diag({self._print(expr.arg)})"

    def _print_Softmax(self, expr):
        return f"softmax({self._print(expr.arg)})"

    def _print_SampleMean(self, expr):
        body = tidying.per_sample(self, expr.arg)
        return f"(1/{self._print(expr.count)}) Σ[n=1..{self._print(expr.count)}] {body}"

    def _print_Function(self, expr):
        name = expr.func.__name__
        if name.startswith("act_"):
            return f"{_act_name(name[4:])}({self._print(expr.args[0])})"
        return super()._print_Function(expr)

    def _print_Symbol(self, expr):
        return self._name(expr.name)

    def _print_IndexedBase(self, expr):
        return self._name(str(expr.label))

    def _print_Indexed(self, expr):
        return f"{self._print(expr.base)}[{','.join(self._print(i) for i in expr.indices)}]"

    def _print_MatrixSymbol(self, expr):
        return self._name(expr.name)

    def _print_Transpose(self, expr):
        return f"{self.parenthesize(expr.arg, 1000)}ᵀ"

    def _print_HadamardPower(self, expr):  # as f'(z)'s powers: (Z - 1_B μ)^⊙2
        return f"{self.parenthesize(expr.base, 1000)}^⊙{self._print(expr.exp)}"

    def _print_HadamardProduct(self, expr):
        return " ⊙ ".join(self.parenthesize(a, 45) for a in expr.args)

    def _print_OneMatrix(self, expr):
        """A column of ones says how many: 1_N (batch), 1_m(3) (a layer); a row is its ᵀ."""
        r, c = expr.shape
        if c == 1:
            return f"1_{self._print(r)}"
        if r == 1:
            return f"1_{self._print(c)}ᵀ"
        return f"1_{self._print(r)}×{self._print(c)}"

    def _print_Identity(self, expr):
        return "I"

    def _print_MatMul(self, expr):
        c, mats = expr.as_coeff_matrices()
        for n, m in enumerate(mats):  # a nested product's scalar in front: Z - 1_B μ
            if isinstance(m, sp.MatMul) and (inner := m.as_coeff_matrices())[0] != 1:
                c, rest = c * inner[0], inner[1]
                mats[n] = rest[0] if len(rest) == 1 else sp.MatMul(*rest)
        sign = "-" if c.could_extract_minus_sign() else ""
        c = -c if sign else c
        if c == 1 and len(mats) == 1 and isinstance(mats[0], sp.HadamardProduct):
            return sign + self._print(mats[0])  # a signed product needs no parentheses: - Ẑ ⊙ X
        parts = [self.parenthesize(m, 50) for m in mats]
        head = "" if c == 1 else self._print(c)
        if not (c.is_Symbol or c.is_Integer):
            head = f"({head})"
        return sign + (head + " " if head else "") + " ".join(parts)

    _ew = None  # the placeholder of the element-wise function being printed

    def _print_Mul(self, expr):
        """Products without a denominator in textbook order (y[i] log(a[i]), δ[p] a[q]);
        inside an element-wise function, factors of the vector joined by ⊙."""
        if any(f.is_Pow and f.exp.is_negative for f in expr.args) or any(
            f.is_Rational and not f.is_Integer for f in expr.args
        ):
            return super()._print_Mul(expr).replace("*", " ")
        coeff, rest = expr.as_coeff_Mul()
        factors = tidying.ordered_factors(sp.Mul.make_args(rest))
        vector = self._ew is not None and sum(f.has(self._ew) for f in factors) > 1
        sep = " ⊙ " if vector else " "
        parts = [self.parenthesize(f, 45) if f.is_Add else self._print(f) for f in factors]
        head = "-" if coeff == -1 else ("" if coeff == 1 else self._print(coeff) + " ")
        return head + sep.join(parts)

    def _print_ElementwiseApplyFunction(self, expr):
        (x,) = expr.function.variables
        arg = self._print(expr.expr)
        if " " in arg:
            arg = f"({arg})"
        v = sp.Symbol(arg)
        body = expr.function.expr.xreplace({x: v})
        outer, self._ew = self._ew, v
        try:
            out = self._print(body)
        finally:
            self._ew = outer
        return f"({out})" if isinstance(body, (sp.Add, sp.Piecewise)) else out

    def _print_Pow(self, expr, rational=False):
        ew = self._ew is not None and expr.base.has(self._ew)
        if ew and expr.exp.is_Integer and expr.exp > 1:  # an element-wise power
            base = self._print(expr.base)
            return (base if expr.base.is_Symbol else f"({base})") + f"^⊙{expr.exp}"
        if expr.exp in (sp.S.Half, -sp.S.Half) and not rational:  # √(ε + σ²), 1/√(ε + σ²)
            base = self._print(expr.base)
            bare = (expr.base.is_Atom and " " not in base) or base.startswith("(")
            root = "√" + (base if bare else f"({base})")  # an element-wise argument has its own
            return root if expr.exp > 0 else f"1/{root}"
        return super()._print_Pow(expr, rational).replace("**", "^")

    def parenthesize(self, item, level, strict=False):
        if isinstance(item, (sp.MatrixSymbol, sp.Indexed)):
            return self._print(item)
        if _quotient(item) and level >= PRECEDENCE["Mul"] - 5:  # 1_B (1/√v), not 1_B 1/√v
            return f"({self._print(item)})"
        return super().parenthesize(item, level, strict)

    def _print_MatAdd(self, expr):  # as the LaTeX printer: A Wᵀ + 1 bᵀ, δ aᵀ + λ W, a - y
        terms = [self._print(t) for t in tidying.ordered_matrix_terms(expr)]
        out = terms[0]
        for t in terms[1:]:
            out += f" - {t[1:]}" if t.startswith("-") else f" + {t}"
        return out

    def _print_Inverse(self, expr):  # only the 1×1 softmax normaliser
        return f"1/({self._print(expr.arg)})"

    def _print_Derivative(self, expr):
        (v, count), *rest = expr.variable_count
        f = expr.expr
        if not rest and count == 1 and getattr(f, "args", None) == (v,) and f.is_Function:
            return f"{self._print(f)[: -len(self._print(v)) - 2]}'({self._print(v)})"
        var = ", ".join(self._print(v) for v, _ in expr.variable_count)
        return f"∂{self._print(expr.expr)}/∂{var}"

    def _print_Piecewise(self, expr):
        parts = [f"{self._print(e)} if {self._print(c)}" for e, c in expr.args[:-1]]
        return "(" + "; ".join(parts + [f"{self._print(expr.args[-1][0])} otherwise"]) + ")"

    def _print_KroneckerDelta(self, expr):  # δ is the error term; the Kronecker delta is [i = p]
        return f"[{self._print(expr.args[0])} = {self._print(expr.args[1])}]"

    def _print_Sum(self, expr):
        limits = ", ".join(
            f"{self._print(i)}={self._print(a)}..{self._print(b)}" for i, a, b in expr.limits
        )
        return f"Σ[{limits}] {self.parenthesize(expr.function, 45)}"


def _quotient(e) -> bool:
    """g(V) printed as a quotient (1/√(σ² + ε)): as a factor it needs parentheses."""
    if not isinstance(e, ElementwiseApplyFunction):
        return False
    body = e.function.expr
    return any(f.is_Pow and f.exp.is_negative for f in sp.Mul.make_args(body))


_printer = TextPrinter()


def text(expr, tidy: bool = True) -> str:
    """Plain text of one SymPy object after the tidying stage (`tidy=False`: as written)."""
    return _printer.doprint(tidying.tidy(expr) if tidy else expr)


def _eq(lhs, rhs) -> str:
    return f"{text(lhs)} = {text(rhs)}"


def _step(step: Step, indent: str = "  ") -> list[str]:
    out = []
    if step.differentiated is not None and step.raw is not None:
        out.append(f"{indent}differentiated: {text(step.differentiated)}")
        out.append(f"{indent}derivative:     {text(step.raw)}")
    out.append(f"{indent}index form:     {_eq(step.lhs, step.index)}")
    if step.matrix is not None:
        out.append(f"{indent}matrix form:    {_eq(step.matrix_lhs, step.matrix)}")
    if step.batch is not None:
        out.append(f"{indent}mini-batch:     {_eq(as_batch(step.batch_lhs), as_batch(step.batch))}")
    return out


def derivation_text(d: Derivation) -> str:
    """Notation, forward pass, each layer's δ, gradients and the update, readably."""
    spec = d.spec
    lines = [f"symfnn {spec.describe()}", ""]
    lines.append("Notation")
    lines.append(
        f"  layers 0..{spec.depth}, widths m = {spec.widths}; "
        "W(l) is m(l)×m(l-1), b(l), z(l), a(l), δ(l) = ∂L/∂z(l) are m(l)-vectors; a(0) = x"
    )
    ones = text(sp.OneMatrix(tidying.BATCH, 1))  # 1_B, as the mini-batch forms print it
    lines.append(
        f"  N samples in the training set, B in a mini-batch, {ones} a column of B ones; "
        "[i = p] is 1 when i = p, else 0; u^⊙2 = u ⊙ u"
    )
    lines.append("")
    lines.append("Forward propagation")
    for layer in d.layers:
        lines.append(
            f"  {_eq(layer.forward_z.matrix_lhs, layer.forward_z.matrix)},"
            f"   {_eq(layer.forward_a.matrix_lhs, layer.forward_a.matrix)}"
        )
    lines.append("")
    g = d.general
    lines.append("Backpropagation, generic layer l (SymPy, index level)")
    for key, title in (
        ("dz_dW", "(1) ∂z/∂w"),
        ("dz_db", "(2) ∂z/∂b"),
        ("delta", "(3) error term"),
        ("grad_W", "gradient with respect to W"),
        ("grad_b", "gradient with respect to b"),
    ):
        lines.append(f" {title}")
        lines += _step(g[key])
    lines.append("")
    lines.append("Activations (derivative from the definition; form in the output a, proven equal)")
    for act in d.activations.values():
        if not act.elementwise:  # softmax reads the whole layer; its derivative comes with the loss
            fa = d.layers[-1].forward_a
            lines.append(f"  {act.name}: {_eq(fa.lhs, fa.index)}  (see the output error)")
            continue
        form = text(act.fprime_of_a) if act.fprime_of_a is not None else "none: keeps z"
        in_f = in_terms_of_f(act)
        fprime = text(act.fprime) + (f" = {text(in_f)}" if in_f is not None else "")
        lines.append(
            f"  {act.name}: f(z) = {text(act.f, tidy=False)};  f'(z) = {fprime};  in a: {form}"
        )
    lines.append("")
    lines.append(f"Output error: {d.layers[-1].activation.name} + {d.loss.title}")
    lines.append(f"  L = {text(d.loss.per_sample)}")
    oe = d.loss.output_error
    lines.append(f"  derivative:     {text(oe.raw)}")
    for name, e in oe.stages:
        lines.append(f"  {name + ':':15s} {text(e)}")
    lines.append("")
    from . import textprint_bn  # batch norm and dropout (issue 11)

    lines += textprint_bn.unit_lines(d)
    lines.append("Every layer")
    for layer in d.layers:
        if layer.norm is not None:
            lines += textprint_bn.layer_lines(layer)
            continue
        lines.append(f"  layer {layer.l} ({layer.activation.name}, {layer.width}×{layer.fan_in})")
        lines.append(f"    {_eq(layer.delta.matrix_lhs, layer.delta.matrix)}")
        for step in (layer.grad_W, layer.grad_b):  # the risk's gradient: a mean over samples
            lines.append(f"    {_eq(step.matrix_lhs, averaged(step.matrix))}")
    if d.coefficients:
        lines.append("  with " + ", ".join(f"{text(k)} = {v:g}" for k, v in d.coefficients.items()))
    lines.append("")
    from ..engine.hyper import resolve

    optimizer = resolve(d.spec)["optimizer"]  # what the script trains with (symfnn.engine.training)
    lines.append(f"Plain gradient descent (learning rate α); the script trains with {optimizer}")
    for step in d.update.values():
        lines.append(f"  {text(step.matrix_lhs)} ← {text(step.matrix)}")
    lines += textprint_bn.update_lines(d)
    lines.append("")
    lines.append("Mini-batch form (B samples as rows; what the generated code runs, in order)")
    from ..engine.batchnorm import batch_backward, batch_forward

    order = [batch_forward(layer) for layer in d.layers]
    order += [batch_backward(layer) for layer in reversed(d.layers)]
    for steps in order:
        for step in steps:
            lines.append(f"  {_eq(as_batch(step.batch_lhs), as_batch(step.batch))}")
    return "\n".join(lines)
