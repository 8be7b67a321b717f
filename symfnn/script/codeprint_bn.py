"""NumPy code for the mini-batch forms of batch normalisation and dropout (issue 11).

`symfnn.engine.batchnorm` lifts its per-unit results to the batch with matrices of ones: 1ᵀX (1×N)
sums a batch over its samples, 1_N r (N×1) repeats a 1×m row for every sample, c 1 broadcasts
a scalar. `codeprint.NumPyCodePrinter` knows only the batch-sized column of ones of the plain
layers, so this printer reads the ones by their shapes instead:

    1ᵀ X            -> X.sum(axis=0)            (a 1-D row of m per-unit values)
    1_N r, 1_N bᵀ   -> r, b                     (NumPy broadcasts a 1-D row over the rows)
    Mᵀ 1_N          -> M.T.sum(axis=1)          (a per-unit 1-D vector, as b is stored)
    M 1_m           -> M.sum(axis=1, keepdims=True)   (a per-sample column)
    u 1ᵀ, c 1       -> u, c                     (broadcast)

Rows (μ, σ², γᵀ, β) and per-unit parameters are 1-D arrays in the script, so every row
broadcasts over the samples and a transpose of one is itself.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..engine.symbols import N
from .codeprint import NumPyCodePrinter, scaled, tidy

LINE_LENGTH = 100  # pyproject.toml's ruff line-length: a longer step is printed in place


def _is_ones(e: sp.Basic, shape: tuple | None = None) -> bool:
    return isinstance(e, sp.OneMatrix) and (shape is None or e.shape == shape)


class BatchPrinter(NumPyCodePrinter):
    """`NumPyCodePrinter` with matrices of ones of any shape read as sums and broadcasts."""

    def _print_OneMatrix(self, expr):
        return "1.0"  # alone, a matrix of ones only broadcasts

    def _atom(self, expr) -> str:
        text = self._print(expr)
        return text if text.isidentifier() else f"({text})"

    def _print_HadamardPower(self, expr):
        return f"{self._atom(expr.base)}**{self._print(expr.exp)}"

    def _print_ElementwiseApplyFunction(self, expr):
        x, body = expr.function.variables[0], expr.function.expr
        return self._print(body.xreplace({x: sp.Symbol(self._atom(expr.expr))}))

    def _print_MatMul(self, expr):
        # a product nested in a product (1_N (−1ᵀX)) is one product: its scalar joins c, so
        # a negative term prints as `- x`, not `+ -x`
        args = _flat(expr)
        scalars = [a for a in args if not getattr(a, "is_Matrix", False)]
        mats = [a for a in args if getattr(a, "is_Matrix", False)]
        c = sp.Mul(*scalars)
        # 1_N r: a row repeated for every sample; the 1-D row broadcasts
        while len(mats) > 1 and _is_ones(mats[0], (N, 1)) and mats[1].shape[0] == 1:
            mats = mats[1:]
        # u 1ᵀ: a column repeated for every unit; the (k, 1) column broadcasts
        while len(mats) > 1 and _is_ones(mats[-1]) and mats[-1].shape[0] == 1:
            mats = mats[:-1]
        if len(mats) == 1 and _is_ones(mats[0]):
            return self._print(c) if c != 1 else "1.0"  # c 1: the scalar broadcasts
        text = None
        if len(mats) > 1 and _is_ones(mats[0]) and mats[0].shape[0] == 1:
            # 1ᵀ X: sums over the samples, a 1-D row
            inner = mats[1] if len(mats) == 2 else sp.MatMul(*mats[1:])
            text = f"{self._atom(inner)}.sum(axis=0)"
        elif len(mats) > 1 and _is_ones(mats[-1]) and mats[-1].shape[1] == 1:
            inner = mats[0] if len(mats) == 2 else sp.MatMul(*mats[:-1])
            # rows of N: one sum per sample (a column); else a per-unit 1-D vector
            keep = ", keepdims=True" if inner.shape[0] == N else ""
            text = f"{self._atom(inner)}.sum(axis=1{keep})"
        else:
            text = " @ ".join(self._atom(m) for m in mats)
        return scaled(text, c, self._atom, self._wrap(text))

    @staticmethod
    def _wrap(text: str) -> str:
        return text if text.replace(".", "").replace("_", "").isalnum() else f"({text})"

    def assign(self, target: str, expr: sp.Basic) -> str:
        """`target = expr` on one line, laid out as ruff formats it."""
        return tidy(f"{target} = {self.doprint(expr)}")

    def statements(self, target: str, expr: sp.Basic, indent: int = 0) -> list[str]:
        """`target = expr` on one line when it fits in LINE_LENGTH at `indent`, else in place
        as the main printer lays out a compound step (`NumPyCodePrinter.statements`): a full
        batch term written into `target`, then each other term added (`+=`, `-=`) or factor
        applied (`*=`, `/=`) — one operation of the SymPy form per line."""
        line = self.assign(target, expr)
        if indent + len(line) <= LINE_LENGTH:
            return [line]
        return [tidy(x) for x in self._inplace(target, expr)]

    def _inplace(self, target: str, expr: sp.Basic) -> list[str]:
        if isinstance(expr, sp.MatMul):
            args = _flat(expr)
            c = sp.Mul(*(a for a in args if not getattr(a, "is_Matrix", False)))
            mats = [a for a in args if getattr(a, "is_Matrix", False)]
            compound = (sp.MatAdd, sp.HadamardProduct)  # c X alone is one fresh array
            if c != 1 and len(mats) == 1 and isinstance(mats[0], compound):
                lines = self._inplace(target, mats[0])
                num, den = sp.fraction(c)
                if num == 1:
                    return [*lines, f"{target} /= {self._atom(den)}"]
                return [*lines, f"{target} *= {self._atom(c)}"]
        parts = None
        if isinstance(expr, sp.MatAdd):
            parts = sorted(expr.args, key=_broadcast)  # a full batch term first
        elif isinstance(expr, sp.HadamardProduct):
            # the compound factor first: the others scale it
            parts = sorted(expr.args, key=lambda a: (_broadcast(a), not isinstance(a, sp.MatAdd)))
        if parts is None or _broadcast(parts[0]):
            return [f"{target} = {self._print(expr)}"]
        lines = self._inplace(target, parts[0])
        if isinstance(parts[0], (sp.MatrixSymbol, sp.Transpose)):
            # a copy: the in-place lines below must not write into the array it names
            lines = [f"{target} = {self._atom(parts[0])}.copy()"]
        for t in parts[1:]:
            if isinstance(expr, sp.HadamardProduct):
                lines.append(f"{target} *= {self._print(t)}")
            elif _negative(t):
                lines.append(f"{target} -= {self._print(sp.MatMul(-1, t))}")
            else:
                lines.append(f"{target} += {self._print(t)}")
        return lines


def _flat(expr: sp.MatMul) -> list[sp.Basic]:
    """The factors of a product with the products nested in it opened (matmul associates)."""
    out = []
    for a in expr.args:
        out += _flat(a) if isinstance(a, sp.MatMul) else [a]
    return out


def _negative(e: sp.Basic) -> bool:
    """A term −x of a sum (its scalar factor is negative)."""
    if not isinstance(e, sp.MatMul):
        return False
    c = sp.Mul(*(a for a in _flat(e) if not getattr(a, "is_Matrix", False)))
    return c.could_extract_minus_sign()


def _broadcast(e: sp.Basic) -> bool:
    """A term that is a row or a scalar repeated for every sample (1_N r, c 1): it cannot
    start an in-place step, which needs the full (N, m) array."""
    if isinstance(e, sp.OneMatrix):
        return True
    if isinstance(e, sp.MatMul):
        mats = [a for a in _flat(e) if getattr(a, "is_Matrix", False)]
        return _is_ones(mats[0], (N, 1)) or all(_is_ones(m) for m in mats)
    return False


def printer() -> BatchPrinter:
    return BatchPrinter({"fully_qualified_modules": True, "allow_unknown_functions": False})


def has_elementwise(expr: sp.Basic) -> bool:
    return bool(expr.atoms(ElementwiseApplyFunction))
