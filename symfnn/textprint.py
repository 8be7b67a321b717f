"""The derivation as plain text for the terminal (`symfnn derive SPEC`).

A StrPrinter subclass that reads symbol names back through `symbols.parse_name`, so the
terminal says δ2, Wᵀ, ⊙ and ∂L/∂z where SymPy would say delta2, W.T, HadamardProduct.
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.str import StrPrinter

from .derive import Derivation, Step
from .symbols import parse_name

_GREEK = {
    "delta": "δ",
    "Delta": "Δ",
    "lambda_1": "λ1",
    "lambda_2": "λ2",
    "alpha": "α",
    "Omega": "Ω",
}
_TAGS = {"l": "(l)", "l+1": "(l+1)", "l-1": "(l-1)", "L": "(L)", "L-1": "(L-1)"}


class TextPrinter(StrPrinter):
    """Plain-text math with the article's names."""

    def _name(self, name: str) -> str:
        if name in _GREEK:
            return _GREEK[name]
        parsed = parse_name(name)
        if parsed is None:
            return name
        stem, tag = parsed
        stem = _GREEK.get(stem, stem)
        if tag is None:
            return stem
        return f"{stem}{_TAGS.get(tag, tag)}"

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

    def _print_HadamardProduct(self, expr):
        return " ⊙ ".join(self.parenthesize(a, 45) for a in expr.args)

    def _print_OneMatrix(self, expr):
        return "1"

    def _print_Identity(self, expr):
        return "I"

    def _print_MatMul(self, expr):
        c, mats = expr.as_coeff_matrices()
        parts = [self.parenthesize(m, 50) for m in mats]
        head = "" if c == 1 else ("-" if c == -1 else self._print(c) + " ")
        return head + " ".join(parts)

    def _print_ElementwiseApplyFunction(self, expr):
        (x,) = expr.function.variables
        arg = self._print(expr.expr)
        if " " in arg:
            arg = f"({arg})"
        body = expr.function.expr.xreplace({x: sp.Symbol(arg)})
        out = self._print(body)
        return f"({out})" if isinstance(body, (sp.Add, sp.Piecewise)) else out

    def _print_Pow(self, expr, rational=False):
        return super()._print_Pow(expr, rational).replace("**", "^")

    def parenthesize(self, item, level, strict=False):
        if isinstance(item, (sp.MatrixSymbol, sp.Indexed)):
            return self._print(item)
        return super().parenthesize(item, level, strict)

    def _print_MatAdd(self, expr):  # products first, negative terms last: W a + b, a - y
        printed = [(self._print(t), isinstance(t, sp.MatrixSymbol)) for t in expr.args]
        terms = [t for t, _ in sorted(printed, key=lambda tp: (tp[0].startswith("-"), tp[1]))]
        out = terms[0]
        for t in terms[1:]:
            out += f" - {t[1:]}" if t.startswith("-") else f" + {t}"
        return out

    def _print_Inverse(self, expr):  # only the 1×1 softmax normaliser
        return f"1/({self._print(expr.arg)})"

    def _print_Derivative(self, expr):
        var = ", ".join(self._print(v) for v, _ in expr.variable_count)
        return f"∂{self._print(expr.expr)}/∂{var}"

    def _print_Piecewise(self, expr):
        parts = [f"{self._print(e)} if {self._print(c)}" for e, c in expr.args[:-1]]
        return "(" + "; ".join(parts + [f"{self._print(expr.args[-1][0])} otherwise"]) + ")"

    def _print_KroneckerDelta(self, expr):
        return f"δ_{self._print(expr.args[0])}{self._print(expr.args[1])}"

    def _print_Sum(self, expr):
        limits = ", ".join(
            f"{self._print(i)}={self._print(a)}..{self._print(b)}" for i, a, b in expr.limits
        )
        return f"Σ[{limits}] {self.parenthesize(expr.function, 45)}"


_printer = TextPrinter()


def text(expr) -> str:
    return _printer.doprint(expr)


def _eq(lhs, rhs) -> str:
    return f"{text(lhs)} = {text(rhs)}"


def _step(step: Step, indent: str = "  ") -> list[str]:
    out = []
    if step.differentiated is not None and step.raw is not None:
        out.append(f"{indent}differentiated: {text(step.differentiated)}")
        out.append(f"{indent}SymPy's diff:   {text(step.raw)}")
    out.append(f"{indent}index form:     {_eq(step.lhs, step.index)}")
    if step.matrix is not None:
        out.append(f"{indent}matrix form:    {_eq(step.matrix_lhs, step.matrix)}")
    if step.batch is not None:
        out.append(f"{indent}mini-batch:     {_eq(step.batch_lhs, step.batch)}")
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
        ("grad_W", "gradient by W"),
        ("grad_b", "gradient by b"),
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
        lines.append(
            f"  {act.name}: f(z) = {text(act.f)};  f'(z) = {text(act.fprime)};  in a: {form}"
        )
    lines.append("")
    lines.append(f"Output error: {d.layers[-1].activation.name} + {d.loss.title}")
    lines.append(f"  L = {text(d.loss.per_sample)}")
    oe = d.loss.output_error
    lines.append(f"  SymPy's diff:   {text(oe.raw)}")
    for name, e in oe.stages:
        lines.append(f"  {name + ':':15s} {text(e)}")
    lines.append("")
    lines.append("Every layer")
    for layer in d.layers:
        lines.append(f"  layer {layer.l} ({layer.activation.name}, {layer.width}×{layer.fan_in})")
        for step in (layer.delta, layer.grad_W, layer.grad_b):
            lines.append(f"    {_eq(step.matrix_lhs, step.matrix)}")
    if d.coefficients:
        lines.append("  with " + ", ".join(f"{text(k)} = {v:g}" for k, v in d.coefficients.items()))
    lines.append("")
    lines.append("Gradient descent (learning rate α)")
    for step in d.update.values():
        lines.append(f"  {text(step.matrix_lhs)} ← {text(step.matrix)}")
    lines.append("")
    lines.append("Mini-batch form (samples as rows; what generated code runs)")
    for layer in d.layers:
        for step in (layer.forward_z, layer.forward_a, layer.delta, layer.grad_W, layer.grad_b):
            lines.append(f"  {_eq(step.batch_lhs, step.batch)}")
    return "\n".join(lines)
