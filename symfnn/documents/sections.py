"""The derivation's sections of the document, each printed from the Derivation's steps.

`Sections` turns steps into blocks the template lays out: prose (`text`, from the language's
table in prose.py), `equations` blocks (lines of printed lhs, relation, rhs and label), a
`box` (the four equations of backpropagation), `figure`s (TikZ, from figures.py). Every
formula goes through the tidying stage (tidy.py) on its way to the printer.
document.py adds the title, tables, algorithm and verification, and writes the files.
"""

from __future__ import annotations

import re

import sympy as sp

from ..engine import hyper, matrixform
from ..engine.batchnorm import batch_backward, batch_forward
from ..engine.derive import LAMBDA1, LAMBDA2
from ..engine.indexcalc import fold
from ..engine.symbols import N, i, j, k, layer_symbols, p, q
from ..errors import RenderError
from . import figures
from .latexprint import latex
from .prose import fill, strings
from .sections_bn import NormSections
from .tidy import (
    BATCH,
    Diag,
    SampleMean,
    activation_function,
    as_batch,
    averaged,
    in_terms_of_f,
    prove_equal,
    split_penalty,
)

LOSS = sp.Symbol("L")
RISK = sp.Symbol("R")


class Sections(NormSections):
    """Blocks of the mathematical sections for one derivation in one language."""

    def __init__(self, d, lang: str):
        self.d, self.lang, self.s = d, lang, strings(lang)

    def penalties(self) -> dict:
        """The regularisation coefficients λ1, λ2 (d.coefficients also holds bn's ε)."""
        return {sym: v for sym, v in self.d.coefficients.items() if sym in (LAMBDA1, LAMBDA2)}

    def m(self, expr, **kw) -> str:
        """Inline math."""
        return f"${latex(expr, self.lang, **kw)}$"

    def tex(self, expr, **kw) -> str:
        return latex(expr, self.lang, **kw)

    def text(self, key: str, **fields) -> dict:
        return {"kind": "text", "text": self.filled(key, **fields)}

    def filled(self, key: str, **fields) -> str:
        """The prose of `key` with its fields; a field left unfilled is a bug, not text."""
        fields = self.symbols() | fields
        wanted = re.findall(r"(?<![\\\w])\{(\w+)\}", self.s[key])
        if missing := [name for name in wanted if name not in fields]:
            raise RenderError(f"prose {key!r}: no value for {{{missing[0]}}}")
        return fill(self.s[key], **fields)

    def symbols(self) -> dict[str, str]:
        """Inline formulas the prose names ({ip}: i = p, {wa}: w_ij a_j, …), printed here."""
        if getattr(self, "_symbols", None) is None:
            from sympy.stats.crv_types import NormalDistribution

            from .article_notes import sigma_prime

            prev, cur, nxt = (layer_symbols(t) for t in ("l-1", "l", "l+1"))
            z, a = sp.Symbol("z"), sp.Symbol("a")
            w = [sp.Symbol(f"w_{x}") for x in ("j", 2, 3)]
            n = sp.Symbol("n", integer=True)
            m = self.m
            self._symbols = {
                "ip": m(sp.Eq(i, p)),
                "jq": m(sp.Eq(j, q)),
                "jp": m(sp.Eq(j, p)),
                "ivar": m(i),
                "n": m(n),
                "l": m(sp.Symbol("l")),
                "lp1": m(sp.Symbol("l+1")),
                "wa": m(cur.W[i, j] * prev.a[j]),
                "kron": m(sp.Symbol("delta_ip")),  # the article's Kronecker delta, as it writes it
                "delta_sym": m(sp.Symbol("delta")),
                "a_fz": m(sp.Eq(a, sp.Function("f")(z))),
                "dadz": m(sp.Derivative(*(cur.matrices(prev.m)[s] for s in ("a", "z")))),
                "dzda": m(sp.Derivative(nxt.matrices(cur.m)["z"], cur.matrices(prev.m)["a"])),
                "fprime": m(sp.Derivative(sp.Function("f_l")(z), z)),
                "tag": m(sp.Indexed(sp.IndexedBase("a_l"), n)),
                "wj": m(w[0]),
                "bj": m(sp.Symbol("b_j")),
                "C": m(sp.Symbol("C")),
                "normal": m(NormalDistribution(0, 1)),
                "wsmall": m(sp.StrictLessThan(sp.Abs(w[0]), 1)),
                "factor": m(sp.Mul(sp.Abs(w[0]), sigma_prime(z).doit(), evaluate=False)),
                "sigmap": m(sigma_prime(z).doit()),
                "w23": m(sp.And(*(sp.StrictLessThan(sp.Abs(x), 1) for x in w[1:]))),
            }
        return self._symbols

    def eq(self, *lines, named: bool = False) -> dict:
        """An `align` block; a line is (lhs, rel, rhs, label or None), lhs/rhs printed.
        Lines continuing an equation (empty lhs) may not be split from it by a page break.
        `named` is kept for subclasses (html.py); LaTeX numbers every labelled line."""
        out = []
        for n, line in enumerate(lines):
            if isinstance(line, str):
                out.append({"intertext": line})
                continue
            lhs, rel, rhs, label = line
            nxt = lines[n + 1] if n + 1 < len(lines) else None
            glued = nxt is not None and not isinstance(nxt, str) and nxt[0] == ""
            out.append(
                {
                    "intertext": "",
                    "lhs": lhs if isinstance(lhs, str) else self.tex(lhs),
                    "rel": rel,
                    "rhs": rhs if isinstance(rhs, str) else self.tex(rhs),
                    "tag": rf" \label{{eq:{label}}}" if label else r" \notag",
                    "end": "" if nxt is None else (r" \\*" if glued else r" \\"),
                }
            )
        return {"kind": "equations", "lines": out}

    def chain(self, lhs, exprs, label, rel="=") -> list[tuple]:
        """Lines lhs = e1 = e2 = …, dropping repeats (as printed); the label on the last."""
        shown, printed = [], []
        for e in exprs:
            if e is None:
                continue
            s = self.tex(e)
            if not printed or s != printed[-1]:
                shown.append(e)
                printed.append(s)
        last = len(shown) - 1
        return [
            ("" if n else lhs, "=" if n else rel, e, label if n == last else None)
            for n, e in enumerate(shown)
        ]

    # -- the pieces ------------------------------------------------------------------------
    def in_reals(self, ms: sp.MatrixSymbol) -> str:
        r, c = ms.shape
        dims = self.tex(r) if c == 1 else rf"{self.tex(r)} \times {self.tex(c)}"
        return rf"${self.tex(ms)} \in \mathbb{{R}}^{{{dims}}}$"

    def section(self, key: str, label: str, blocks: list, need: str = "8\\baselineskip") -> dict:
        """A section; `need`: the space its heading needs below it on the same page."""
        return {"title": self.s[key], "label": f"sec:{label}", "blocks": blocks, "need": need}

    def figure(self, tikz: str, key: str, label: str, **fields) -> dict:
        return {
            "kind": "figure",
            "tikz": tikz,
            "caption": self.filled(key, **fields),
            "label": f"fig:{label}",
        }

    def forward(self) -> dict:
        g = self.d.general
        blocks = [
            self.text("forward_general"),
            self.eq(
                (g["forward_z"].lhs, "=", g["forward_z"].index, None),
                (g["forward_z"].matrix_lhs, "=", g["forward_z"].matrix, "forward-z"),
                (g["forward_a"].lhs, "=", g["forward_a"].index, "forward-a"),
            ),
            self.figure(figures.layer_graph(self.tex), "fig_layer", "layer"),
            self.text("forward_layers"),
        ]
        lines = []
        for layer in self.d.layers:
            fz, fa = layer.forward_z, layer.forward_a
            lines.append((fz.matrix_lhs, "=", fz.matrix, fz.label))
            if not layer.activation.elementwise:  # softmax: its definition once, entry-wise
                lines.append((fa.matrix_lhs, "=", fa.matrix, fa.label))
                blocks.append(self.eq(*lines))
                blocks.append(self.text("softmax_def"))
                lines = [(fa.lhs, "=", fa.index, None)]
                continue
            lines.append((fa.matrix_lhs, "=", fa.matrix, fa.label))
        blocks.append(self.eq(*lines))
        if self.d.spec.normalised:  # y and the mask are defined in the section on them
            y, r = sp.IndexedBase("y_l"), sp.IndexedBase("mask_l")
            blocks.append(self.text("forward_norm", y=self.m(y), r=self.m(r)))
        return self.section("sec_forward", "forward", blocks)

    def _to_output_layer(self, expr):
        """Generic output tags (L, L-1) -> this network's layer numbers."""
        L = self.d.spec.depth
        mapping = {}
        for g, n in (("L", L), ("L-1", L - 1)):
            gs, ns = layer_symbols(g), layer_symbols(n)
            mapping |= {getattr(gs, st): getattr(ns, st) for st in ("W", "b", "z", "a", "delta")}
            mapping[gs.m] = ns.m
        return expr.xreplace(mapping)

    def loss(self) -> dict:
        d = self.d
        L = d.spec.depth
        out = layer_symbols(L)
        loss_lhs = sp.Function("L")(
            sp.MatrixSymbol("y", out.m, 1), sp.MatrixSymbol(f"a{L}", out.m, 1)
        )
        blocks = [
            self.text("loss_intro", loss=self.loss_name()),
            self.eq((loss_lhs, "=", self._to_output_layer(d.loss.per_sample), "loss")),
        ]
        data = [t for t in sp.Add.make_args(d.risk) if t.has(sp.Function("L"))]
        penalty = [t for t in sp.Add.make_args(d.risk) if t not in data]
        if penalty:
            omega = sp.Symbol("Omega")
            risk = sp.Add(*data, omega, evaluate=False)
            blocks.append(self.text("risk_intro", N=self.m(N), Omega=self.m(omega)))
            blocks.append(self.eq((sp.Symbol("R"), "=", self.tex(risk, order="none"), "risk")))
            blocks.append(self.text("penalty_intro", Omega=self.m(omega)))
            blocks.append(self.eq((omega, "=", sp.Add(*penalty), "penalty")))
        else:
            risk = sp.Add(*data)
            blocks.append(self.text("risk_plain", N=self.m(N)))
            blocks.append(self.eq((sp.Symbol("R"), "=", risk, "risk")))
        if self.penalties():
            values = ", ".join(
                self.m(sp.Eq(sym, sp.Float(v, 3))) for sym, v in self.penalties().items()
            )
            blocks.append(self.text("coefficients", values=values))
            reg = d.regulariser
            blocks.append(self.text("reg_grad"))
            blocks.append(self.eq(*self.chain(reg.lhs, [reg.raw, reg.index], reg.label)))
        blocks.append(self.text("update_intro", alpha=self.m(sp.Symbol("alpha"))))
        up = d.update
        blocks.append(
            self.eq(
                *((st.matrix_lhs, r"\leftarrow", st.matrix, st.label) for st in (up["W"], up["b"]))
            )
        )
        # training itself uses the optimiser of the algorithm box (symfnn.engine.training's entry)
        optimizer = hyper.resolve(d.spec)["optimizer"]
        blocks.append(self.text("update_after", optimizer=r"\texttt{" + optimizer + "}"))
        if any(layer.batchnorm for layer in d.spec.layers):  # γ, β for b; R per mini-batch
            from ..engine.batchnorm import names

            x = names("l")
            blocks.append(
                self.text(
                    "update_bn",
                    gamma=self.m(x.gamma),
                    beta=self.m(x.beta),
                    b=self.m(sp.MatrixSymbol("b_l", layer_symbols("l").m, 1)),
                    R=self.m(sp.Symbol("R")),
                    B=self.m(BATCH),
                )
            )
        return self.section("sec_loss", "loss", blocks)

    def backprop(self) -> dict:
        g = self.d.general
        prev, cur, nxt = (layer_symbols(t) for t in ("l-1", "l", "l+1"))
        mats = cur.matrices(prev.m)
        w, b, z = cur.W[p, q], cur.b[p], cur.z[i]
        dLdz = sp.Derivative(LOSS, z)

        def chain(name: str, theta) -> tuple:  # ∂L/∂θ = Σ_i ∂z_i/∂θ ∂L/∂z_i
            terms = sp.Mul(g[f"dz_d{name}"].lhs, dLdz, evaluate=False)
            sum_i = self.tex(sp.Sum(terms, (i, 1, cur.m)), order="none")
            return sp.Derivative(LOSS, theta), "=", sum_i, f"chain-{name}"

        blocks = [
            self.text("chain_intro", w=self.m(w), b=self.m(b), z=self.m(mats["z"])),
            self.eq(chain("W", w), chain("b", b)),
            self.text("chain_after"),
        ]
        dW, db, delta = g["dz_dW"], g["dz_db"], g["delta"]
        blocks += [
            self.text("part1", zi=self.m(z), w=self.m(w)),
            self.eq(
                (z, "=", dW.differentiated, None), *self.chain(dW.lhs, [dW.raw, dW.index], dW.label)
            ),
            self.text(
                "part1_after",
                i=self.m(p),
                p=self.m(p),
                aj=self.m(prev.a[q]),
                I=self.m(sp.Function("I_p")(prev.a[q])),
            ),
            self.text("part2", b=self.m(b)),
            self.eq(*self.chain(db.lhs, [db.raw, db.index], None)),
            self.text("part2_after"),
            self.eq((db.matrix_lhs, "=", db.matrix, db.label)),
        ]
        stages = dict(delta.stages)
        chain_rule = sp.Sum(
            sp.Mul(
                sp.Derivative(LOSS, nxt.z[k]),
                sp.Derivative(nxt.z[k], cur.z[p]),
                evaluate=False,
            ),
            (k, 1, nxt.m),
        )
        by_next = sp.Sum(
            sp.Mul(nxt.delta[k], sp.Derivative(nxt.z[k], cur.z[p]), evaluate=False),
            (k, 1, nxt.m),
        )
        blocks += [
            self.text("part3", delta=self.m(sp.Eq(cur.delta[p], delta.lhs)), zp=self.m(cur.z[p])),
            self.eq(
                (cur.delta[p], "=", self.tex(chain_rule, order="none"), "chain-delta"),
                ("", "=", self.tex(by_next, order="none"), None),
            ),
            self.text("part3_next", zp=self.m(cur.z[p])),
            self.eq(
                (nxt.z[k], "=", delta.differentiated, None),
                *self.chain(
                    sp.Derivative(nxt.z[k], cur.z[p]), [delta.raw, stages["dz-next"]], None
                ),
            ),
            self.text("part3_chain"),
            self.eq(*self.chain(cur.delta[p], [stages["chain"], delta.index], "delta-index")),
            self.text("part3_matrix"),
            self.eq((delta.matrix_lhs, "=", delta.matrix, delta.label)),
            *self._diag_route(),
        ]
        blocks += self._gradients()
        return self.section("sec_backprop", "backprop", blocks)

    def _diag_route(self) -> list[dict]:
        """The article's route: δ = diag(f'(z)) (W^(l+1))ᵀ δ^(l+1), proven equal to eq:delta."""
        delta = self.d.general["delta"]
        cur, nxt = layer_symbols("l"), layer_symbols("l+1")
        fprime = next(a for a in delta.matrix.args if not isinstance(a, sp.MatMul))
        rest = next(a for a in delta.matrix.args if isinstance(a, sp.MatMul))
        route = sp.MatMul(Diag(fprime), *rest.args)
        prove_equal(delta.matrix, route, "diag(f'(z)) Wᵀ δ")
        f = sp.Function("f_l")
        da_dz = sp.diff(f(cur.z[i]), cur.z[p])  # SymPy: [i = p] f'(z_i)
        z_next = sp.Sum(nxt.W[k, j] * cur.a[j], (j, 1, cur.m)) + nxt.b[k]
        dz_da = fold(sp.diff(z_next, cur.a[p]))  # w_kp
        am = sp.MatrixSymbol("a_l", cur.m, 1)
        zm = sp.MatrixSymbol("z_l", cur.m, 1)
        znext = sp.MatrixSymbol("z_lp1", nxt.m, 1)
        return [
            self.text("diag_intro"),
            self.eq(
                (sp.Derivative(cur.a[i], cur.z[p]), "=", da_dz, None),
                (sp.Derivative(nxt.z[k], cur.a[p]), "=", dz_da, None),
            ),
            self.text("diag_jacobians"),
            self.eq(
                (sp.Derivative(am, zm), "=", Diag(fprime), None),
                (sp.Derivative(znext, am), "=", rest.args[0], None),
                (delta.matrix_lhs, "=", route, None),
                ("", "=", delta.matrix, "delta-diag"),
            ),
            self.text("diag_after"),
        ]

    def _gradients(self) -> list[dict]:
        g = self.d.general
        lines = []
        for st in (g["grad_W"], g["grad_b"]):
            one = sp.Derivative(LOSS, st.lhs.variables[0])
            data = dict(st.stages)
            lines += self.chain(one, [data["chain"], data["data"]], f"{st.label}-index")
        blocks = [self.text("grads_intro"), self.eq(*lines), self.text("grads_matrix")]
        one_sample = []
        for st in (g["grad_W"], g["grad_b"]):
            data, _ = split_penalty(st.matrix)
            one_sample.append((sp.Derivative(LOSS, st.matrix_lhs.variables[0]), "=", data, None))
        blocks.append(self.eq(*one_sample))
        blocks.append(self.text("grads_mean", N=self.m(N), n=self.m(SampleMean.index)))
        blocks.append(self.eq(*self._risk_gradients()))
        return blocks

    def _risk_gradients(self) -> list[tuple]:
        """∂R/∂W = (1/N) Σ_n δ^(l,n) a^(l-1,n)ᵀ + the penalty's gradient (in matrix form,
        from the regulariser's derived index form), ∂R/∂b = (1/N) Σ_n δ^(l,n)."""
        g, reg = self.d.general, self.d.regulariser
        prev, cur = layer_symbols("l-1"), layer_symbols("l")
        W = cur.matrices(prev.m)["W"]
        out = []
        for st in (g["grad_W"], g["grad_b"]):
            data, _ = split_penalty(st.matrix)
            rhs = SampleMean(data)
            var = st.matrix_lhs.variables[0]
            if reg is not None and var == W:
                rhs = sp.MatAdd(rhs, matrixform.to_matrix(reg.index, (p, q), {cur.W: W}))
            out.append((sp.Derivative(RISK, var), "=", rhs, st.label))
        return out

    def activations(self) -> dict:
        from ..engine.activations import a, z

        blocks = [self.text("act_intro", a=self.m(a))]
        for act in self.d.activations.values():
            if not act.elementwise:
                blocks.append(self.text("act_softmax"))
                continue
            f = activation_function(act.name)
            name = act.name.replace("_", " ")
            named = fill(self.s["named"], name=name, symbol=f"${act.latex}$")
            blocks.append(self.text("act_name", name=named))
            fprime = sp.Derivative(f(z), z)
            definition = self.tex(act.f, tidy=False)
            lines = [] if definition == self.tex(f(z)) else [(f(z), "=", definition, None)]
            lines += self.chain(fprime, [act.fprime_raw, act.fprime, in_terms_of_f(act)], None)
            blocks.append(self.eq(*lines))
            if act.fprime_of_a is None:
                blocks.append(self.text("act_no_a", z=self.m(z)))
            else:
                blocks.append(self.text("act_in_a" if act.proven else "act_in_a_unproven"))
                blocks.append(self.eq((fprime, "=", act.fprime_of_a, f"act-{act.name}")))
        return self.section("sec_activations", "activations", blocks)

    def output(self) -> dict:
        loss = self.d.loss
        st = loss.output_error
        out = layer_symbols("L")
        act = self.d.layers[-1].activation
        name = fill(self.s["named"], name=act.name.replace("_", " "), symbol=f"${act.latex}$")
        blocks = [
            self.text("output_intro", loss=self.loss_name(), act=name),
            self.eq((LOSS, "=", loss.per_sample, None)),
            self.text("output_subst", z=self.m(sp.MatrixSymbol("z_L", out.m, 1))),
            self.eq((LOSS, "=", st.differentiated, None)),
            self.text("output_raw", zp=self.m(out.z[p])),
        ]
        lines = [(st.lhs, "=", st.raw, None)]
        for stage, e in st.stages:
            lines.append(self.s[f"stage_{stage}"].replace("{a}", self.m(out.a[p])))
            lines.append((st.lhs, "=", e, None))
        blocks.append(self.eq(*lines))
        blocks.append(self.text("output_matrix"))
        blocks.append(self.eq((st.matrix_lhs, "=", st.matrix, st.label)))
        return self.section("sec_output", "output", blocks)

    def summary(self) -> dict:
        """The four equations of backpropagation, every matrix with its shape beneath."""
        g, out = self.d.general, self.d.loss.output_error
        rows = [
            (out.matrix_lhs, out.matrix, "BP1"),
            (g["delta"].matrix_lhs, g["delta"].matrix, "BP2"),
        ]
        for st, tag in ((g["grad_b"], "BP3"), (g["grad_W"], "BP4")):
            data, _ = split_penalty(st.matrix)
            rows.append((sp.Derivative(LOSS, st.matrix_lhs.variables[0]), data, tag))
        lines = [
            {
                "lhs": self.tex(lhs, shapes=True),
                "rhs": self.tex(rhs, shapes=True),
                "tag": tag,
            }
            for lhs, rhs, tag in rows
        ]
        box = {"kind": "box", "title": self.s["box_title"], "lines": lines}
        return self.section(
            "sec_summary",
            "summary",
            [self.text("box_intro", N=self.m(N)), box, self.text("box_after", N=self.m(N))],
            need="0.5\\textheight",
        )

    def heading(self, layer) -> str:
        key = "layer_output" if layer.is_output else "layer_heading"
        return fill(self.s[key], l=layer.l)

    def layers(self) -> dict:
        blocks = [self.text("layers_intro")]
        if any(layer.norm is not None and layer.norm.batchnorm for layer in self.d.layers):
            blocks.append(self.text("layers_norm", B=self.m(BATCH)))
        for layer in reversed(self.d.layers):
            blocks.append(
                {"kind": "text", "text": r"\textbf{" + self.heading(layer) + r"}\nopagebreak"}
            )
            if layer.norm is not None and layer.norm.batchnorm:  # no per-sample form: batch
                blocks.append(self.eq(*self.norm_layer_lines(layer)))
                continue
            blocks.append(
                self.eq(
                    (layer.delta.matrix_lhs, "=", layer.delta.matrix, layer.delta.label),
                    *(  # averaged over the N samples: the risk's gradient, ∂R, not ∂L
                        (risk_lhs(st), "=", averaged(st.matrix), st.label)
                        for st in (layer.grad_W, layer.grad_b)
                    ),
                )
            )
        return self.section("sec_layers", "layers", blocks)

    def batch(self) -> dict:
        """The mini-batch equations in the order the code runs them: forward 1→L,
        then backward L→1 (each δ before the gradients that use it)."""
        A0 = sp.MatrixSymbol("A0", BATCH, layer_symbols(0).m)
        n = sp.Symbol("n")
        line = lambda st: (as_batch(st.batch_lhs), "=", as_batch(st.batch), f"batch-{st.label}")
        forward = [line(st) for layer in self.d.layers for st in batch_forward(layer)]
        backward = [
            each
            for layer in reversed(self.d.layers)
            for st in batch_backward(layer)
            for each in (  # batch norm's compact δ takes two lines
                self.broken(*line(st)[::2], f"batch-{st.label}") if layer.norm else [line(st)]
            )
        ]
        example = self.d.layers[-1].grad_W
        blocks = [
            self.text("batch_intro", B=self.m(BATCH), N=self.m(N), A0=self.m(A0), n=self.m(n)),
            self.text("batch_forward"),
            self.eq(*forward),
            self.text("batch_backward"),
            self.eq(*backward),
            self.text(
                "batch_labels",
                example=f"batch-{example.label}",
                lhs=self.m(as_batch(example.batch_lhs)),
            ),
        ]
        return self.section("sec_batch", "batch", blocks)


def risk_lhs(step) -> sp.Derivative:
    """∂R/∂W(l) (∂R/∂b(l)) for a step's matrix form averaged over the samples."""
    return sp.Derivative(RISK, *step.matrix_lhs.variables)
