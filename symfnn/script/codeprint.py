"""Printing the derivation's SymPy objects as NumPy code: names as in the math.

`NumPyCodePrinter` is a `sympy.printing.numpy.NumPyPrinter` that writes `np.` names, `@`,
`.T`, `*` for the Hadamard product, and — through `statements(target, expr)` — the
in-place form of a step: `np.matmul(A0, W1.T, out=Z1)`, `Z1 += b1`, element-wise
functions computed into a preallocated buffer one ufunc call at a time.

`UpdatePrinter` prints the training rules of `symfnn.engine.training` (an optimiser's steps,
clipping) as in-place array updates, with hyper-parameters and the step count as Python
scalars.

Numerically stable forms are SymPy expressions registered here, each proven equal to the
definition it replaces (`prove_stable_*`, run by the tests):
- activations: sigmoid as (1 + tanh(z/2))/2 (never exp(1000)), softplus as
  max(z, 0) + log1p(exp(-|z|)), and every two-piece ReLU-like f as f₊(max(z,0)) + f₋(min(z,0));
- softmax via the row maximum (shift invariance, so exp never overflows);
- losses in the output layer's pre-activation (logits): cross-entropy of a softmax as
  -y (z - logsumexp(z)), binary cross-entropy of a sigmoid as max(z,0) - y z + log1p(exp(-|z|)),
  so no log(0) can occur.
"""

from __future__ import annotations

import ast
import re

import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import precedence

from ..engine import losses
from ..engine.activations import ActivationDerivation, lookup
from ..engine.activations import z as Z_SYM
from ..engine.derive import LAMBDA1, LAMBDA2
from ..engine.symbols import N
from ..errors import RenderError

# The symbol of the row-wise log-sum-exp of the output logits (an (N, 1) column).
LSE = sp.Symbol("lse", real=True)

# Names in code of the derivation's scalar symbols.
SCALAR_NAMES = {LAMBDA1: "l1", LAMBDA2: "l2"}


# -- stable forms --------------------------------------------------------------------------


def _stable_sigmoid(f: sp.Expr) -> sp.Expr:
    return (1 + sp.tanh(Z_SYM / 2)) / 2


def _stable_softplus(f: sp.Expr) -> sp.Expr:
    return sp.Max(Z_SYM, 0) + log1p(sp.exp(-sp.Abs(Z_SYM)))


STABLE_ACTIVATIONS = {"sigmoid": _stable_sigmoid, "softplus": _stable_softplus}


def stable_activation(act: ActivationDerivation) -> sp.Expr:
    """f(z) in a form that cannot overflow, in the symbol z (proven by `prove_stable`)."""
    if act.name in STABLE_ACTIVATIONS:
        return STABLE_ACTIVATIONS[act.name](act.f)
    f = act.f
    if isinstance(f, sp.Piecewise) and len(f.args) == 2 and f.args[0].cond == (Z_SYM > 0):
        # both pieces vanish at 0 (activations.py), so f = f₊(max(z,0)) + f₋(min(z,0))
        (pos, _), (neg, _) = f.args
        return pos.subs(Z_SYM, sp.Max(Z_SYM, 0)) + neg.subs(Z_SYM, sp.Min(Z_SYM, 0))
    return f


def prove_stable(act: ActivationDerivation) -> bool:
    """stable_activation(act) == act.f for every real z, shown symbolically per sign of z."""
    stable = stable_activation(act)
    for zs in (sp.Symbol("zp", positive=True), sp.Symbol("zn", negative=True), sp.S.Zero):
        a = stable.subs(Z_SYM, zs).rewrite(sp.log)
        b = act.f.subs(Z_SYM, zs)
        difference = sp.expand(a.rewrite(sp.exp) - b.rewrite(sp.exp))
        if sp.simplify(sp.expand_log(difference, force=True)) != 0 and sp.simplify(a - b) != 0:
            return False
    return True


def stable_loss(loss_name: str, activation: str) -> tuple[sp.Expr, bool]:
    """The per-unit loss in the logits z (and LSE), or in a; and whether it reads z.

    Cross-entropy of a softmax: -y log(exp(z)/Σexp) = -y (z - lse). Binary cross-entropy of
    a sigmoid: softplus(z) - y z. Anything else: ell(a, y) itself (no log there).
    """
    y = losses.y
    if loss_name == "cross_entropy" and activation == "softmax":
        return -y * (Z_SYM - LSE), True
    if loss_name == "binary_cross_entropy" and activation == "sigmoid":
        return sp.Max(Z_SYM, 0) - y * Z_SYM + log1p(sp.exp(-sp.Abs(Z_SYM))), True
    return losses.LOSSES[loss_name].ell, False


def prove_stable_loss(loss_name: str, activation: str, classes: int = 3) -> bool:
    """Σ stable(z_i, y_i) == Σ ell(f(z)_i, y_i), symbolically (one-hot y for softmax)."""
    stable, reads_z = stable_loss(loss_name, activation)
    ell = losses.LOSSES[loss_name].ell
    if not reads_z:
        return stable == ell
    if activation == "softmax":
        zs = sp.symbols(f"z1:{classes + 1}", real=True)
        S = sum(sp.exp(v) for v in zs)
        for hot in range(classes):
            ys = [int(i == hot) for i in range(classes)]
            lhs = sum(
                stable.subs({Z_SYM: zs[i], losses.y: ys[i], LSE: sp.log(S)}) for i in range(classes)
            )
            rhs = sum(
                ell.subs({losses.a: sp.exp(zs[i]) / S, losses.y: ys[i]}) for i in range(classes)
            )
            if sp.simplify(sp.expand_log(lhs - rhs, force=True)) != 0:
                return False
        return True
    f = lookup(activation).definition()
    for zs in (sp.Symbol("zp", positive=True), sp.Symbol("zn", negative=True)):
        lhs = stable.subs(Z_SYM, zs).rewrite(sp.log)
        rhs = ell.subs(losses.a, f.subs(Z_SYM, zs))
        if sp.simplify(sp.expand_log(sp.expand(lhs - rhs), force=True)) != 0:
            return False
    return True


def stable_softmax_numerator(z: sp.Expr, m: sp.Expr) -> sp.Expr:
    return sp.exp(z - m)


def prove_stable_softmax(classes: int = 3) -> bool:
    """exp(z_i - m) / Σ_k exp(z_k - m) == exp(z_i) / Σ_k exp(z_k) for any m, and
    m + log Σ exp(z_k - m) == log Σ exp(z_k): the shift by the row maximum changes nothing."""
    zs = sp.symbols(f"z1:{classes + 1}", real=True)
    m = sp.Symbol("m", real=True)
    shifted = sum(stable_softmax_numerator(v, m) for v in zs)
    plain = sum(sp.exp(v) for v in zs)
    ok = all(
        sp.simplify(stable_softmax_numerator(v, m) / shifted - sp.exp(v) / plain) == 0 for v in zs
    )
    return ok and sp.simplify(sp.exp(m + sp.log(shifted)) - plain) == 0


# -- the printer ----------------------------------------------------------------------------

_SIMPLE_POW = re.compile(
    r"(?<![\w.)\]])(-?[A-Za-z_][\w.]*|-?\d[\w.]*) \*\* (-?[A-Za-z_][\w.]*|-?\d[\w.]*)(?![\w.(\[])"
)


def scaled(text: str, coeff: sp.Expr, number, wrapped: str | None = None) -> str:
    """coeff · text as code: text, -text, text / den or coeff * text (`number` prints a
    coefficient; `wrapped`: text in the parentheses an operator needs, text by default)."""
    if coeff == 1:
        return text
    wrapped = text if wrapped is None else wrapped
    if coeff == -1:
        return f"-{wrapped}"
    num, den = sp.fraction(coeff)
    if num == 1:
        return f"{wrapped} / {number(den)}"
    return f"{number(coeff)} * {wrapped}"


def tidy(line: str) -> str:
    """One statement in the layout `ruff format` gives it (spaces around binary operators,
    `x**2` hugged when both operands are simple), so generated files pass `--check`."""
    text = ast.unparse(ast.parse(line))
    return _SIMPLE_POW.sub(r"\1**\2", text)


_UFUNCS = {
    sp.exp: "exp",
    sp.log: "log",
    sp.tanh: "tanh",
    sp.Abs: "abs",
    sp.sign: "sign",
    log1p: "log1p",
}


class NumPyCodePrinter(NumPyPrinter):
    """NumPy code with names as in the math; `statements` gives the in-place form."""

    printmethod = "_symfnn_numpycode"

    def _module_format(self, fqn, register=True):
        out = super()._module_format(fqn, register)
        return "np." + out[len("numpy.") :] if out.startswith("numpy.") else out

    def _print_Symbol(self, expr):
        return SCALAR_NAMES.get(expr, expr.name)

    def _print_MatrixSymbol(self, expr):
        return expr.name

    def _atom(self, expr) -> str:
        """`expr` ready for a postfix `.T` or an operator: bare when it is a name."""
        if isinstance(expr, (sp.Symbol, sp.MatrixSymbol, sp.Transpose, sp.OneMatrix)):
            return self._print(expr)
        return f"({self._print(expr)})"

    def _print_Transpose(self, expr):
        return f"{self._atom(expr.arg)}.T"

    def _print_Abs(self, expr):
        return f"np.abs({self._print(expr.args[0])})"

    def _print_OneMatrix(self, expr):
        # `ones` is the script's batch-sized vector; a 1 of a layer's width never prints
        # as it (`_print_MatMul` turns M 1 into a row sum and u 1ᵀ into a broadcast).
        if expr.shape != (N, 1):
            raise RenderError(f"no NumPy name for a {expr.shape} matrix of ones")
        return "ones"

    def _print_Relational(self, expr):
        return f"{self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)}"

    def _print_Piecewise(self, expr):
        if len(expr.args) == 2 and expr.args[1].cond == sp.true:
            (hi, cond), (lo, _) = expr.args
            return f"np.where({self._print(cond)}, {self._print(hi)}, {self._print(lo)})"
        return super()._print_Piecewise(expr)

    def _print_Max(self, expr):
        return self._nest("np.maximum", expr.args)

    def _print_Min(self, expr):
        return self._nest("np.minimum", expr.args)

    def _nest(self, fn: str, args) -> str:
        out = self._print(args[0])
        for a in args[1:]:
            out = f"{fn}({out}, {self._print(a)})"
        return out

    def _print_HadamardProduct(self, expr):
        return " * ".join(self._atom(a) for a in expr.args)

    def _print_ElementwiseApplyFunction(self, expr):
        x, body = expr.function.variables[0], expr.function.expr
        return self._print(body.xreplace({x: sp.Symbol(self._print(expr.expr))}))

    def _print_Pow(self, expr, rational=False):
        if expr.exp == -1:
            return f"1 / {self.parenthesize(expr.base, precedence(expr))}"
        return super()._print_Pow(expr, rational)

    def _print_MatMul(self, expr):
        coeff, mats = expr.as_coeff_mmul()
        args = mats.args
        if (
            len(args) == 2
            and isinstance(args[0], sp.OneMatrix)
            and isinstance(args[1], sp.Transpose)
        ):
            args = (args[1].arg,)  # 1 bᵀ: NumPy broadcasts the 1-D b over the rows
        if len(args) > 1 and isinstance(args[-1], sp.OneMatrix) and args[-1].shape[0] == 1:
            args = args[:-1]  # c 1ᵀ: NumPy broadcasts the (N, 1) column c over the columns
        if len(args) > 1 and isinstance(args[-1], sp.OneMatrix) and args[-1].shape != (N, 1):
            # M 1 over a layer's width: the row sums, kept (N, 1) so that they broadcast
            inner = args[0] if len(args) == 2 else sp.MatMul(*args[:-1])
            args = (sp.Symbol(f"{self._atom(inner)}.sum(axis=1, keepdims=True)"),)
        text = " @ ".join(self._atom(m) for m in args)
        return scaled(text, coeff, self._print, f"({text})" if len(args) > 1 else text)

    # -- in-place statements --------------------------------------------------------------

    def code(self, expr: sp.Basic) -> str:
        """`expr` as one NumPy expression, laid out as ruff formats it."""
        return tidy(self.doprint(expr))

    def statements(
        self, target: str, expr: sp.Basic, scratch: str | None = None, scaled: dict | None = None
    ) -> list[str]:
        """Lines that compute the matrix expression `expr` into the array `target`.

        With `scaled` (a dict shared by the steps of one layer), a product c Δᵀ A is
        computed as (c Δ)ᵀ A with c Δ written once into the buffer `Delta1_N`: scaling the
        (N, m) error costs less than scaling the (m, m_prev) gradient, and db reuses it.
        """
        self._scaled = scaled
        try:
            return [tidy(line) for line in self._statements(target, expr, scratch)]
        finally:
            self._scaled = None

    def _statements(self, target: str, expr: sp.Basic, scratch: str | None = None) -> list[str]:
        """Lines that compute the matrix expression `expr` into the array `target`.

        `scratch` names a buffer for the element-wise factor of a Hadamard product.
        Returns `[f"{target} = {name}"]` when `expr` is just another array (an alias).
        """
        if isinstance(expr, sp.MatrixSymbol):
            return [f"{target} = {expr.name}"]
        if isinstance(expr, sp.MatAdd):
            return self._madd(target, expr)
        if isinstance(expr, sp.MatMul):
            return self._mmul(target, expr)
        if isinstance(expr, sp.HadamardProduct):
            ew = [a for a in expr.args if isinstance(a, ElementwiseApplyFunction)]
            rest = [a for a in expr.args if not isinstance(a, ElementwiseApplyFunction)]
            if len(ew) == 1 and len(rest) == 1 and scratch is not None:
                return [
                    *self._statements(target, rest[0]),
                    *self.elementwise(scratch, ew[0]),
                    f"{target} *= {scratch}",
                ]
            return [f"np.copyto({target}, {self._print(expr)})"]
        if isinstance(expr, ElementwiseApplyFunction):
            return self.elementwise(target, expr)
        return [f"np.copyto({target}, {self._print(expr)})"]

    def softmax(self, target: str, z: str, rowmax: str, rowsum: str) -> list[str]:
        """The stable softmax exp(z - m) / s row by row, m the row maximum and s = Σ exp(z - m)
        kept in the (N, 1) buffers `rowmax` and `rowsum`: the data loss reads them back."""
        zs = sp.Symbol(z)
        # the ufuncs' own reductions: np.max and np.sum add a Python wrapper's call per use
        lines = [f"np.maximum.reduce({z}, axis=1, keepdims=True, out={rowmax})"]
        lines += self._ew(stable_softmax_numerator(zs, sp.Symbol(rowmax)), zs, target)
        lines += [f"np.add.reduce({target}, axis=1, keepdims=True, out={rowsum})"]
        lines += [f"{target} /= {rowsum}"]
        return [tidy(x) for x in lines]

    def logsumexp(self, target: str, rowmax: str, rowsum: str) -> list[str]:
        """lse = m + log Σ exp(z - m) from the softmax's m and s: log Σ exp(z) without
        overflow, and with no second pass over z."""
        return [tidy(f"{target} = {self._print(sp.Symbol(rowmax) + sp.log(sp.Symbol(rowsum)))}")]

    def _bias(self, term) -> str | None:
        """1 bᵀ (a row broadcast over the batch) -> 'b' (NumPy broadcasts the 1-D b)."""
        if isinstance(term, sp.MatMul):
            coeff, mats = term.as_coeff_mmul()
            args = mats.args
            one = len(args) == 2 and isinstance(args[0], sp.OneMatrix)
            if coeff == 1 and one and isinstance(args[1], sp.Transpose):
                return self._print(args[1].arg)
        return None

    def _madd(self, target: str, expr: sp.MatAdd) -> list[str]:
        terms = list(expr.args)
        if len(terms) == 2:  # u - v -> np.subtract(u, v)
            neg = [t for t in terms if isinstance(t, sp.MatMul) and t.as_coeff_mmul()[0] == -1]
            pos = [t for t in terms if isinstance(t, sp.MatrixSymbol)]
            if len(neg) == 1 and len(pos) == 1:
                other = self._print(neg[0].as_coeff_mmul()[1])
                return [f"np.subtract({pos[0].name}, {other}, out={target})"]
        # the product first (it writes the whole target), then the broadcast/scaled terms
        terms.sort(key=lambda t: 0 if isinstance(t, sp.MatMul) and self._bias(t) is None else 1)
        first, rest = terms[0], terms[1:]
        lines = self._statements(target, first)
        for t in rest:
            if (b := self._bias(t)) is not None:
                lines.append(f"{target} += {b}")
            elif isinstance(t, sp.MatMul) and t.as_coeff_mmul()[0] == -1:
                lines.append(f"{target} -= {self._print(t.as_coeff_mmul()[1])}")
            else:
                lines.append(f"{target} += {self._print(t)}")
        return lines

    def _mmul(self, target: str, expr: sp.MatMul) -> list[str]:
        coeff, mats = expr.as_coeff_mmul()
        args = list(mats.args)
        if isinstance(args[-1], sp.OneMatrix):
            # (1/N) Δᵀ 1 -> ones @ Δ: a preallocated ones vector (DESIGN.md, 3x .sum(0))
            (delta,) = args[:-1]
            args = [sp.Symbol("ones"), delta.arg]
        if len(args) == 1:
            lines = [f"np.multiply({self._print(args[0])}, {self._print(coeff)}, out={target})"]
            return lines
        lines = []
        memo = getattr(self, "_scaled", None)
        if coeff != 1 and memo is not None and len(args) == 2:
            transposed = isinstance(args[0], sp.Transpose)
            delta = args[0].arg if transposed else args[1]
            if (delta, coeff) not in memo:
                memo[(delta, coeff)] = name = f"{self._print(delta)}_N"
                lines.append(f"np.multiply({self._print(delta)}, {self._print(coeff)}, out={name})")
            scaled = sp.MatrixSymbol(memo[(delta, coeff)], *delta.shape)
            args = [scaled.T, args[1]] if transposed else [args[0], scaled]
            coeff = sp.S.One
        left = args[0] if len(args) == 2 else sp.MatMul(*args[:-1])
        lines.append(f"np.matmul({self._print(left)}, {self._print(args[-1])}, out={target})")
        if coeff != 1:
            num, den = sp.fraction(coeff)
            if num == 1:
                lines.append(f"{target} /= {self._print(den)}")
            else:
                lines.append(f"{target} *= {self._print(coeff)}")
        return lines

    def elementwise(self, target: str, expr: ElementwiseApplyFunction) -> list[str]:
        """g∘M into `target`, one ufunc call per node of g while g is a chain."""
        x, body = expr.function.variables[0], expr.function.expr
        src = sp.Symbol(self._print(expr.expr))
        return self._ew(body.xreplace({x: src}), src, target)

    def _term(self, e) -> str:
        """An operand of a ufunc call or an in-place operator."""
        return self._print(e)

    def _simple(self, e, src) -> bool:
        return e == src or e.is_Number or e.is_Symbol or (-e).is_Symbol

    def _ew(self, e: sp.Expr, src: sp.Symbol, T: str) -> list[str]:
        p = self._term
        if self._simple(e, src):
            return [f"np.copyto({T}, {p(e)})"]
        if isinstance(e, sp.Piecewise):
            return self._piecewise(e, src, T)
        if isinstance(e, (sp.Add, sp.Mul)):
            op, ufunc = ("+", "add") if isinstance(e, sp.Add) else ("*", "multiply")
            args = list(e.args)
            heads = [a for a in args if not self._simple(a, src)]
            if heads:
                head = heads[0]
                args.remove(head)
                lines = self._ew(head, src, T)
                for a in args:
                    if op == "+" and a.could_extract_minus_sign():
                        lines.append(f"{T} -= {p(-a)}")
                    else:
                        lines.append(f"{T} {op}= {p(a)}")
                return lines
            if op == "+" and len(args) == 2 and any(a.could_extract_minus_sign() for a in args):
                neg = args[0] if args[0].could_extract_minus_sign() else args[1]
                pos = args[1] if neg is args[0] else args[0]
                return [f"np.subtract({p(pos)}, {p(-neg)}, out={T})"]
            if op == "*" and len(args) == 2 and args[0] == -1:
                return [f"np.negative({p(args[1])}, out={T})"]
            lines = [f"np.{ufunc}({p(args[-1])}, {p(args[0])}, out={T})"]
            lines += [f"{T} {op}= {p(a)}" for a in args[1:-1]]
            return lines
        if isinstance(e, sp.Pow):
            base, ex = e.args
            call = {
                2: "np.square({}, out={})",
                -1: "np.reciprocal({}, out={})",
                sp.S.Half: "np.sqrt({}, out={})",
            }
            fmt = call.get(ex, f"np.power({{}}, {p(ex)}, out={{}})")
            if self._simple(base, src):
                return [fmt.format(p(base), T)]
            return [*self._ew(base, src, T), fmt.format(T, T)]
        if isinstance(e, (sp.Max, sp.Min)):
            fn = "np.maximum" if isinstance(e, sp.Max) else "np.minimum"
            args = list(e.args)
            heads = [a for a in args if not self._simple(a, src)]
            if heads:
                args.remove(heads[0])
                return [*self._ew(heads[0], src, T), *(f"{fn}({T}, {p(a)}, out={T})" for a in args)]
            zeros = getattr(self, "zeros", None)
            if zeros is not None and sp.S.Zero in args and len(args) == 2:
                # max(z, 0) against an array of zeros: the scalar 0 takes NumPy's slow
                # broadcasting loop (3x the time per call, measured in NumPy 2.4)
                (other,) = [a for a in args if a != 0]
                return [f"{fn}({p(other)}, {zeros}, out={T})"]
            return [f"{fn}({p(args[0])}, {p(args[1])}, out={T})"]
        if e.func in _UFUNCS and len(e.args) == 1:
            fn = f"np.{_UFUNCS[e.func]}"
            (arg,) = e.args
            if self._simple(arg, src):
                return [f"{fn}({p(arg)}, out={T})"]
            return [*self._ew(arg, src, T), f"{fn}({T}, out={T})"]
        return [f"np.copyto({T}, {p(e)})"]

    def _piecewise(self, e: sp.Piecewise, src, T: str) -> list[str]:
        """Two pieces (v, cond), (w, True): [x > 0] scaled and shifted when v, w are
        numbers (ReLU', leaky ReLU'), else np.where."""
        if len(e.args) != 2 or e.args[1].cond != sp.true:
            return [f"np.copyto({T}, {self._print(e)})"]
        (hi, cond), (lo, _) = e.args
        step = isinstance(cond, sp.StrictGreaterThan) and cond.rhs == 0
        if step and hi.is_Number and lo.is_Number:
            # c₋ + (c₊ - c₋)[x > 0], the 0/1 array written straight into the float buffer
            lines = [f"np.greater({self._print(cond.lhs)}, 0, out={T})"]
            if hi - lo != 1:
                lines.append(f"{T} *= {self._print(hi - lo)}")
            if lo != 0:
                lines.append(f"{T} += {self._print(lo)}")
            return lines
        where = f"np.where({self._print(cond)}, {self._print(hi)}, {self._print(lo)})"
        return [f"np.copyto({T}, {where})"]


class UpdatePrinter(NumPyCodePrinter):
    """In-place element-wise updates of arrays from a rule table (symfnn.engine.training): an
    optimiser's steps, clipping. Symbols in `arrays` are NumPy arrays; every other symbol is
    a Python scalar (a hyper-parameter, the step count t), and an expression of scalars only
    is printed with `math` so that it stays a Python float (a NumPy float64 scalar would turn
    float32 arithmetic into float64). `names` renames symbols in code (α -> lr)."""

    def __init__(self, arrays, names: dict | None = None):
        super().__init__({"fully_qualified_modules": True, "allow_unknown_functions": False})
        self.arrays = frozenset(arrays)
        self.names = dict(names or {})

    def _print_Symbol(self, expr):
        return self.names.get(expr, expr.name)

    def scalar(self, expr: sp.Expr) -> str:
        """A scalar expression as Python code (`math.sqrt`, `min`)."""
        from sympy.printing.pycode import PythonCodePrinter

        named = expr.replace(  # √(1/x) -> 1/√x: the x of a rule's root is positive
            lambda e: e.is_Pow and e.base.is_Pow and e.base.exp == -1,
            lambda e: sp.Pow(e.base.base, -e.exp),
        )
        named = named.xreplace({k: sp.Symbol(v) for k, v in self.names.items()})
        return tidy(PythonCodePrinter({"standard": "python3", "order": "none"}).doprint(named))

    def _is_scalar(self, e) -> bool:
        return not (e.free_symbols & self.arrays)

    def _term(self, e) -> str:
        return self.scalar(e) if self._is_scalar(e) else self._print(e)

    def _simple(self, e, src) -> bool:
        return self._is_scalar(e) or e in self.arrays or -e in self.arrays

    def assign(self, target: sp.Symbol, expr: sp.Expr, scratch: str | None = None) -> list[str]:
        """Lines that set the array `target` to `expr` in place.

        `expr` is a sum: a term c·target becomes `target *= c`; every other term c·P is
        computed into `scratch` (an array the caller may overwrite; without one, NumPy
        allocates) and added or subtracted. A single term that reads the target (clipping's
        min(max(g, -c), c)) must be a chain of element-wise functions of it, computed in place.
        """
        T = self._print(target)
        terms = sp.Add.make_args(expr)
        if len(terms) == 1 and terms[0].has(target) and terms[0] != target:
            coeff, rest = terms[0].as_independent(*self.arrays, as_Add=False)
            if rest != target:
                return [tidy(x) for x in self._ew(expr, target, T)]
        lines, own, others = [], None, []
        for term in terms:
            coeff, rest = term.as_independent(*self.arrays, as_Add=False)
            if rest == target:
                own = coeff if own is None else own + coeff
            elif term.has(target):
                raise ValueError(f"cannot update {target} in place: {expr}")
            else:
                others.append((coeff, rest))
        # a term of the scratch array itself first: the others may then overwrite it
        others.sort(key=lambda term: self._print(term[1]) != scratch)
        if own is None:  # the target is not read: the first term is computed into it
            coeff, rest = others.pop(0)
            lines += self._into(T, coeff, rest)
        elif own != 1:
            lines.append(f"{T} *= {self.scalar(own)}")
        for coeff, rest in others:
            op = "+="
            if coeff.as_coeff_Mul()[0] < 0:
                op, coeff = "-=", -coeff
            if coeff == 1 and rest in self.arrays:
                lines.append(f"{T} {op} {self._print(rest)}")
            elif scratch is None:
                lines.append(f"{T} {op} {self._print(coeff * rest)}")
            else:
                lines += [*self._into(scratch, coeff, rest), f"{T} {op} {scratch}"]
        return [tidy(x) for x in lines]

    def _into(self, T: str, coeff: sp.Expr, rest: sp.Expr) -> list[str]:
        """coeff·rest into the array T (T not read by rest)."""
        if rest in self.arrays:
            if coeff == 1:
                return [f"np.copyto({T}, {self._print(rest)})"]
            if coeff == -1:
                return [f"np.negative({self._print(rest)}, out={T})"]
            return [f"np.multiply({self._print(rest)}, {self.scalar(coeff)}, out={T})"]
        factors = sp.Mul.make_args(rest)
        over = [f for f in factors if isinstance(f, sp.Pow) and f.exp == -1]
        if (
            len(factors) == 2
            and len(over) == 1
            and (x := factors[1 - factors.index(over[0])]) in self.arrays
        ):
            # x / B: B into T, then one division (not a reciprocal and a product)
            lines = [*self._ew(over[0].base, rest, T), f"np.divide({self._print(x)}, {T}, out={T})"]
        else:
            lines = self._ew(rest, rest, T)
        if coeff != 1:
            lines.append(f"{T} *= {self.scalar(coeff)}")
        return lines


def printer() -> NumPyCodePrinter:
    return NumPyCodePrinter({"fully_qualified_modules": True, "allow_unknown_functions": False})


def restable(expr: ElementwiseApplyFunction, act: ActivationDerivation) -> ElementwiseApplyFunction:
    """The forward step f∘Z with f replaced by its proven stable form."""
    x = expr.function.variables[0]
    stable = stable_activation(act).subs(Z_SYM, x)
    return ElementwiseApplyFunction(sp.Lambda(x, stable), expr.expr)
