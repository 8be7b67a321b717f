"""The document's section on batch normalisation and dropout (issue 11), and the lines a
normalised layer contributes to the per-layer section.

Every formula is printed from `symfnn.engine.batchnorm`: the per-unit steps (`unit_steps`, with the
intermediate results SymPy went through), the masked recurrence (`masked_steps`) and the
mini-batch forms lifted from them. The three paths of ∂ẑ_n/∂z_r (direct, through μ, through
σ²) are differentiated here from the definitions of `unit_steps` and proven to add up to
SymPy's derivative of ẑ_n written out in z.
"""

from __future__ import annotations

import math

import sympy as sp

from ..engine.symbols import k, layer_symbols
from ..errors import RenderError
from .tidy import BATCH, as_batch, bn_error_forms, factor_and_terms

_I = sp.Symbol("i", integer=True)  # shown for batchnorm's sample index n (n prints as ^{(n)})
_MU, _VAR = sp.Symbol("mu_B", real=True), sp.Symbol("sigma_B^2", nonnegative=True)
_G = sp.IndexedBase("g", real=True)  # g_i = N ∂R/∂ẑ_i (dẐ in the mini-batch form)
_DY = sp.IndexedBase(r"\delta^{y}", real=True)  # N ∂R/∂y_i (Δ_y in the mini-batch form)


def power_of_ten(x) -> sp.Basic:
    """x as 10^k when it is one below 0.001 (ε = 10^-5, where a Float shows 1.0 · 10^-5),
    else as a 3-digit Float (0.001, 0.9)."""
    k = round(math.log10(float(x)))
    if k < -3 and math.isclose(float(x), 10.0**k):
        return sp.Pow(10, k, evaluate=False)
    return sp.Float(x, 3)


class NormSections:
    """Mixed into `Sections`: uses its `d`, `s`, `m`, `tex`, `text`, `eq`, `chain`, `section`."""

    def norm_layer_lines(self, layer) -> list[tuple]:
        """A normalised layer's backward steps and gradients, mini-batch form (the per-unit
        derivation has no one-sample form: the samples couple)."""
        from ..engine.batchnorm import batch_backward

        return [
            line
            for st in batch_backward(layer)
            for line in self.broken(as_batch(st.batch_lhs), as_batch(st.batch), st.label)
        ]

    def broken(self, lhs, rhs, label) -> list[tuple]:
        """lhs = rhs, or, for c (P ⊙ (Q1 + Q2 + Q3 …)) (batch norm's compact δ, wider than
        the text on one line), lhs = c (P) ⊙ ( on the first line and the sum on the next."""
        scalars, mats = [], [rhs]
        if isinstance(rhs, sp.MatMul):
            scalars = [a for a in rhs.args if not a.is_Matrix]
            mats = [a for a in rhs.args if a.is_Matrix]
        last = mats[0].args[-1] if isinstance(mats[0], sp.HadamardProduct) else None
        if len(mats) != 1 or not isinstance(last, sp.MatAdd) or len(last.args) < 3:
            return [(lhs, "=", rhs, label)]
        hole = sp.MatrixSymbol("HOLE", *last.shape)
        head = self.tex(sp.MatMul(*scalars, sp.HadamardProduct(*mats[0].args[:-1], hole)))
        if not head.endswith(r"\odot HOLE"):
            return [(lhs, "=", rhs, label)]
        first = head.removesuffix("HOLE") + r"\Bigl("
        return [(lhs, "=", first, None), ("", "", rf"\qquad {self.tex(last)} \Bigr)", label)]

    def normalisation(self) -> dict:
        """The section: batch normalisation step by step, then dropout (for the layers present)."""
        layers = [layer for layer in self.d.layers if layer.norm is not None]
        blocks = []
        if any(layer.norm.batchnorm for layer in layers):
            blocks += self._batchnorm_blocks(next(x for x in layers if x.norm.batchnorm))
        if any(layer.norm.dropout for layer in layers):
            blocks += self._dropout_blocks([x for x in layers if x.norm.dropout])
        return self.section("sec_norm", "norm", blocks)

    # -- batch normalisation ---------------------------------------------------------------
    def _unit(self, e):
        """batchnorm's per-unit names, as the section shows them (sample index i)."""
        from ..engine import batchnorm as bn

        # N, the engine's sample count, is the mini-batch's: B, as in the mini-batch forms
        shown = {bn.n: _I, bn.mu: _MU, bn.var: _VAR, bn.dzhat: _G, bn.delta_y: _DY, bn.N: BATCH}
        return e.xreplace(shown)

    def _batchnorm_blocks(self, layer) -> list[dict]:
        from ..engine import batchnorm as bn
        from ..engine.derive import RISK

        us, u = bn.unit_steps(), self._unit
        delta = us.delta  # of its stages, those the terminal shows too (tidy.bn_error_forms)
        (_, written), (_, statistics), (_, compact) = bn_error_forms(delta)
        r, z, zhat = bn.r, bn.z, bn.zhat
        eps = self.d.coefficients[bn.EPSILON]
        blocks = [
            self.text("bn_intro", N=self.m(BATCH), r=self.m(r)),
            self.eq(
                *(
                    (u(st.lhs), "=", u(st.index), f"bn-def-{st.label[3:]}")
                    for st in (us.mean, us.variance, us.normalised, us.affine)
                )
            ),
            self.text(
                "bn_eps",
                eps=self.m(sp.Eq(bn.EPSILON, power_of_ten(eps), evaluate=False)),
                N=self.m(BATCH),
                beta=self.m(bn.beta),
                b=self.m(sp.Symbol("b")),
                gamma=self.m(bn.gamma),
            ),
        ]
        # why the samples couple: ẑ_i written out in z has every z_u of the batch in it
        dz = sp.Derivative(zhat[_I], z[r])
        blocks += [
            self.text("bn_couple", zi=self.m(zhat[_I]), zr=self.m(z[r]), N=self.m(BATCH)),
            self.eq((zhat[_I], "=", u(written), None)),
        ]
        parts, names = self._three_paths()
        plus = lambda terms: self._plus([u(t) for t in terms])
        blocks += [
            self.text("bn_paths", mu=self.m(_MU), var=self.m(_VAR)),
            self.eq((dz, "=", plus(names), "bn-paths"), ("", "=", plus(parts), None)),
            self.text("bn_paths_after"),
        ]
        by_paths = sp.Sum(sp.Mul(_G[_I], dz, evaluate=False), (_I, 1, BATCH))
        g_is = sp.Eq(_G[_I], sp.Mul(BATCH, sp.Derivative(RISK, zhat[_I]), evaluate=False))
        z_is = sp.Eq(z[r], _MU + sp.sqrt(_VAR + bn.EPSILON) * zhat[r])
        dy_is = sp.Eq(_DY[_I], sp.Mul(BATCH, sp.Derivative(RISK, bn.y[_I]), evaluate=False))
        lhs = u(delta.lhs)
        blocks += [
            self.text("bn_sum", g=self.m(g_is, order="none"), lhs=self.m(lhs)),
            self.eq((lhs, "=", self.tex(by_paths, order="none"), None)),
            self.text("bn_statistics", mu=self.m(_MU), var=self.m(_VAR)),
            self.eq(*self._split(lhs, u(statistics))),
            self.text("bn_in_zhat", z=self.m(z_is)),
            self.eq((lhs, "=", u(compact), "bn-delta")),
            self.text("bn_params", dy=self.m(dy_is, order="none")),
        ]
        lines = []
        for st in (us.grad_gamma, us.grad_beta, us.dzhat):
            label = st.label if st.label.startswith("bn-") else f"bn-{st.label}"
            lines += self.chain(u(st.lhs), [u(st.raw), u(st.index)], label)
        blocks.append(self.eq(*lines))
        blocks += self._bn_batch(layer)
        return blocks

    def _plus(self, terms) -> str:
        """t1 + t2 + … in the given order (the three paths), each term printed tidied."""
        out = ""
        for t in terms:
            minus = t.could_extract_minus_sign()
            s = self.tex(-t if minus else t)
            out += ("- " if minus else "") + s if not out else f" {'-' if minus else '+'} {s}"
        return out

    def _split(self, lhs, expr, per_line: int = 2) -> list[tuple]:
        """lhs = c (t1 + t2 + …) over several lines, `per_line` terms each (a long sum of
        fractions does not fit one line)."""
        c, terms = factor_and_terms(expr)
        chunks = [terms[n : n + per_line] for n in range(0, len(terms), per_line)]
        lines = []
        for n, chunk in enumerate(chunks):
            body = self.tex(sp.Add(*chunk, evaluate=False), order="none")
            if n:
                body = body if body.startswith("-") else "+ " + body
            opening = rf"{self.tex(c)} \Bigl(" if n == 0 else r"\quad "
            closing = r" \Bigr)" if n == len(chunks) - 1 else ""
            lines.append(("" if n else lhs, "=" if n == 0 else "", opening + body + closing, None))
        return lines

    def _three_paths(self):
        """∂ẑ_i/∂z_r = direct + through μ + through σ², each factor SymPy's derivative of a
        definition in `unit_steps`; their sum is proven equal to the derivative of ẑ_i written
        out in z (on a batch of 3, every i and r)."""
        from ..engine import batchnorm as bn
        from ..engine.indexcalc import fold

        us = bn.unit_steps()
        zhat_i = us.normalised.index.xreplace({bn.r: _I})  # (z_i − μ)/√(σ² + ε)
        z_r = bn.z[bn.r]
        d_mu = fold(sp.diff(us.mean.index, z_r))  # 1/N
        # σ² by z_r: the path through μ in σ² is Σ_s (z_s − μ) = 0 times ∂μ/∂z_r
        d_var = fold(sp.diff(us.variance.index, z_r))
        direct = sp.diff(zhat_i, z_r)
        parts = (direct, sp.diff(zhat_i, bn.mu) * d_mu, sp.diff(zhat_i, bn.var) * d_var)
        total = sp.Add(*parts)
        self._prove_paths(total, us)
        D = sp.Derivative
        names = (
            D(zhat_i, z_r),  # μ and σ² held fixed
            sp.Mul(D(bn.zhat[_I], bn.mu), D(bn.mu, z_r), evaluate=False),
            sp.Mul(D(bn.zhat[_I], bn.var), D(bn.var, z_r), evaluate=False),
        )
        return parts, names

    def _prove_paths(self, total, us) -> None:
        from ..engine import batchnorm as bn

        size = 3
        zs = [sp.Rational(v, 7) for v in (3, -5, 11)]
        mean = sum(zs) / size
        var = sum((x - mean) ** 2 for x in zs) / size
        values = {bn.z[k + 1]: zs[k] for k in range(size)} | {bn.EPSILON: bn.EPSILON_VALUE}
        brute = us.delta.differentiated  # ẑ_n written out in z
        for i_, r_ in ((1, 1), (1, 2), (3, 2)):
            want = (
                sp.diff(brute.xreplace({bn.N: size}).doit(), bn.z[r_])
                .xreplace({bn.n: i_})
                .xreplace(values)
            )
            got = (
                total.xreplace({_I: i_, bn.r: r_, bn.N: size})
                .doit()
                .xreplace(values | {bn.mu: mean, bn.var: var})
            )
            if sp.simplify(want - got) != 0:
                raise RenderError("batch norm: the three paths do not add up to ∂ẑ/∂z")

    def _bn_batch(self, layer) -> list[dict]:
        """The mini-batch forms of this layer (those the code runs) in their order: δ^y by
        the usual recurrence, its scaling by γ, the compact form, the gradients of γ and β."""
        from ..engine.batchnorm import batch_backward

        delta_y, dzhat, delta, _gW, dgamma, dbeta = batch_backward(layer)
        pick = lambda st, label=None: self.broken(as_batch(st.batch_lhs), as_batch(st.batch), label)
        return [
            self.text(
                "bn_batch",
                l=self.m(sp.Symbol(str(layer.l))),
                y=self.m(sp.Symbol("y")),
                ref=r"\eqref{eq:delta}",
            ),
            self.eq(*pick(delta_y)),
            self.text("bn_batch_steps"),
            self.eq(*pick(dzhat), *pick(delta, "bn-batch-delta"), *pick(dgamma), *pick(dbeta)),
        ]

    # -- dropout ---------------------------------------------------------------------------
    def _dropout_blocks(self, layers) -> list[dict]:
        from ..engine.batchnorm import Q, masked_steps

        first = layers[0]
        spec_layer = self.d.spec.layers[first.l - 1]
        forward, backward = masked_steps(spec_layer.activation, spec_layer.param, False, True)
        stages = dict(backward.stages)
        z_next = layer_symbols("l+1").z[k]
        rates = self.s["sep"].join(
            self.m(sp.Eq(sp.Symbol(f"q_{x.l}"), sp.Float(x.norm.dropout, 2))) for x in layers
        )
        return [
            self.text("drop_intro", q=self.m(Q), keep=self.m(1 - Q), rates=rates),
            self.eq(
                (forward.lhs, "=", forward.index, None),
                (forward.matrix_lhs, "=", forward.matrix, "drop-forward"),
            ),
            self.text("drop_backward"),
            self.eq(
                (z_next, "=", backward.differentiated, None),
                *self.chain(
                    sp.Derivative(z_next, backward.lhs.variables[0]),
                    [backward.raw, stages["dz-next"]],
                    None,
                ),
            ),
            self.text("drop_chain"),
            self.eq(
                *self.chain(backward.lhs, [stages["chain"], backward.index], None),
                (backward.matrix_lhs, "=", backward.matrix, "drop-delta"),
            ),
            self.text("drop_after", q=self.m(Q)),
        ]
