"""The derivation's sections of the document, each printed from the Derivation's steps.

`Sections` turns steps into blocks the template lays out: prose (`text`, from the language's
table in prose.py) and `align` blocks (`eq`: lines of printed lhs, relation, rhs and label).
document.py adds the title, tables, algorithm and verification, and writes the files.
"""

from __future__ import annotations

import sympy as sp

from .latexprint import latex, matrix_lhs
from .prose import fill, strings
from .symbols import N, i, k, layer_symbols, p


class Sections:
    """Blocks of the mathematical sections for one derivation in one language."""

    def __init__(self, d, lang: str):
        self.d, self.lang, self.s = d, lang, strings(lang)

    def m(self, expr, **kw) -> str:
        """Inline math."""
        return f"${latex(expr, self.lang, **kw)}$"

    def tex(self, expr, **kw) -> str:
        return latex(expr, self.lang, **kw)

    def text(self, key: str, **fields) -> dict:
        return {"kind": "text", "text": fill(self.s[key], **fields)}

    def eq(self, *lines, named: bool = False) -> dict:
        """An `align` block; a line is (lhs, rel, rhs, label or None), lhs/rhs printed,
        or a str: prose set between the lines (`\\intertext`). `named` shows each label
        instead of a number, so a reader finds the equations the generated code cites."""
        out = []
        for n, line in enumerate(lines):
            if isinstance(line, str):
                out.append({"intertext": line})
                continue
            lhs, rel, rhs, label = line
            out.append(
                {
                    "intertext": "",
                    "lhs": lhs if isinstance(lhs, str) else self.tex(lhs),
                    "rel": rel,
                    "rhs": rhs if isinstance(rhs, str) else self.tex(rhs),
                    "tag": (rf" \tag{{{label}}}" if named and label else "")
                    + (rf" \label{{eq:{label}}}" if label else r" \notag"),
                    "end": r" \\" if n < len(lines) - 1 else "",
                }
            )
        return {"kind": "equations", "lines": out}

    def chain(self, lhs, exprs, label, rel="=") -> list[tuple]:
        """Lines lhs = e1 = e2 = …, dropping repeats; the label on the last line."""
        shown = []
        for e in exprs:
            if e is not None and (not shown or e != shown[-1]):
                shown.append(e)
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

    def section(self, key: str, label: str, blocks: list) -> dict:
        return {"title": self.s[key], "label": f"sec:{label}", "blocks": blocks}

    def forward(self) -> dict:
        g = self.d.general
        blocks = [
            self.text("forward_general"),
            self.eq(
                (g["forward_z"].lhs, "=", g["forward_z"].index, None),
                (g["forward_z"].matrix_lhs, "=", g["forward_z"].matrix, "forward-z"),
                (g["forward_a"].lhs, "=", g["forward_a"].index, "forward-a"),
            ),
            self.text("forward_layers"),
        ]
        lines = []
        for layer in self.d.layers:
            fz, fa = layer.forward_z, layer.forward_a
            lines.append((fz.matrix_lhs, "=", fz.matrix, fz.label))
            if not layer.activation.elementwise:  # softmax reads best entry by entry
                lines.append((fa.lhs, "=", fa.index, None))
            lines.append((fa.matrix_lhs, "=", fa.matrix, fa.label))
        blocks.append(self.eq(*lines))
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
        risk = sp.Add(*data, *penalty, evaluate=False)
        blocks.append(self.text("risk_intro" if penalty else "risk_plain", N=self.m(N)))
        blocks.append(self.eq((sp.Symbol("R"), "=", self.tex(risk, order="none"), "risk")))
        if d.coefficients:
            values = ", ".join(
                self.m(sp.Eq(sym, sp.Float(v, 3))) for sym, v in d.coefficients.items()
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
        return self.section("sec_loss", "loss", blocks)

    def backprop(self) -> dict:
        g = self.d.general
        prev, cur, nxt = (layer_symbols(t) for t in ("l-1", "l", "l+1"))
        mats = cur.matrices(prev.m)
        LOSS = sp.Symbol("L")
        w, b, z = cur.W[p, sp.Symbol("q", integer=True)], cur.b[p], cur.z[i]
        dLdz = sp.Derivative(LOSS, z)
        blocks = [
            self.text("chain_intro", w=self.m(w), b=self.m(b), z=self.m(mats["z"])),
            self.eq(
                (
                    sp.Derivative(LOSS, w),
                    "=",
                    self.tex(
                        sp.Sum(sp.Mul(g["dz_dW"].lhs, dLdz, evaluate=False), (i, 1, cur.m)),
                        order="none",
                    ),
                    "chain-W",
                ),
                (
                    sp.Derivative(LOSS, b),
                    "=",
                    self.tex(
                        sp.Sum(sp.Mul(g["dz_db"].lhs, dLdz, evaluate=False), (i, 1, cur.m)),
                        order="none",
                    ),
                    "chain-b",
                ),
            ),
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
                aj=self.m(prev.a[sp.Symbol("q", integer=True)]),
                I=self.m(sp.Function("I_p")(prev.a[sp.Symbol("q", integer=True)])),
            ),
            self.text("part2"),
            self.eq(*self.chain(db.lhs, [db.raw, db.index], None)),
            self.text("part2_after"),
            self.eq((db.matrix_lhs, "=", db.matrix, db.label)),
        ]
        stages = dict(delta.stages)
        blocks += [
            self.text("part3", delta=self.m(sp.Eq(cur.delta[p], delta.lhs)), zp=self.m(cur.z[p])),
            self.eq((nxt.z[k], "=", delta.differentiated, None)),
            self.text("part3_raw", zp=self.m(cur.z[p])),
            self.eq(
                *self.chain(sp.Derivative(nxt.z[k], cur.z[p]), [delta.raw, stages["dz-next"]], None)
            ),
            self.text("part3_chain"),
            self.eq(*self.chain(cur.delta[p], [stages["chain"], delta.index], "delta-index")),
            self.text("part3_matrix"),
            self.eq((delta.matrix_lhs, "=", delta.matrix, delta.label)),
            self.text("grads_intro"),
        ]
        lines = []
        for st in (g["grad_W"], g["grad_b"]):
            lines += self.chain(st.lhs, [stg for _, stg in st.stages], f"{st.label}-index")
        blocks.append(self.eq(*lines))
        blocks.append(self.text("grads_matrix"))
        blocks.append(
            self.eq(
                *((matrix_lhs(st), "=", st.matrix, st.label) for st in (g["grad_W"], g["grad_b"]))
            )
        )
        return self.section("sec_backprop", "backprop", blocks)

    def activations(self) -> dict:
        from .activations import a, z

        blocks = [self.text("act_intro", a=self.m(a))]
        for act in self.d.activations.values():
            if not act.elementwise:
                blocks.append(self.text("act_softmax"))
                continue
            f = sp.Function("f")
            name = act.name.replace("_", " ")
            named = fill(self.s["named"], name=name, symbol=f"${act.latex}$")
            blocks.append(self.text("act_name", name=named))
            fprime = sp.Derivative(f(z), z)
            blocks.append(
                self.eq(
                    (f(z), "=", act.f, None),
                    *self.chain(fprime, [act.fprime_raw, act.fprime], None),
                )
            )
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
        L = sp.Symbol("L")
        name = fill(self.s["named"], name=act.name.replace("_", " "), symbol=f"${act.latex}$")
        lines = [
            (L, "=", loss.per_sample, None),
            self.text("output_subst", z=self.m(sp.MatrixSymbol("z_L", out.m, 1)))["text"],
            (L, "=", st.differentiated, None),
            self.text("output_raw", zp=self.m(out.z[p]))["text"],
            (st.lhs, "=", st.raw, None),
        ]
        for stage, e in st.stages:
            lines.append(self.text(f"stage_{stage}", a=self.m(out.a[p]))["text"])
            lines.append((st.lhs, "=", e, None))
        lines.append(self.s["output_matrix"])
        lines.append((st.matrix_lhs, "=", st.matrix, st.label))
        blocks = [self.text("output_intro", loss=self.loss_name(), act=name), self.eq(*lines)]
        return self.section("sec_output", "output", blocks)

    def heading(self, layer) -> str:
        key = "layer_output" if layer.is_output else "layer_heading"
        return r"\textbf{" + fill(self.s[key], l=layer.l) + "}"

    def layers(self) -> dict:
        lines = []
        for layer in reversed(self.d.layers):
            lines.append(self.heading(layer))
            lines.append((layer.delta.matrix_lhs, "=", layer.delta.matrix, layer.delta.label))
            lines += [
                (matrix_lhs(st), "=", st.matrix, st.label) for st in (layer.grad_W, layer.grad_b)
            ]
        return self.section(
            "sec_layers",
            "layers",
            [
                self.text("layers_intro", example=self.d.layers[-1].delta.label),
                self.eq(*lines, named=True),
            ],
        )

    def batch(self) -> dict:
        A0 = sp.MatrixSymbol("A0", N, layer_symbols(0).m)
        n = sp.Symbol("n")
        lines = []
        for layer in self.d.layers:
            lines.append(self.heading(layer))
            steps = (layer.forward_z, layer.forward_a, layer.delta, layer.grad_W, layer.grad_b)
            lines += [(st.batch_lhs, "=", st.batch, f"batch-{st.label}") for st in steps]
        intro = self.text("batch_intro", N=self.m(N), A0=self.m(A0), n=self.m(n))
        return self.section("sec_batch", "batch", [intro, self.eq(*lines, named=True)])
