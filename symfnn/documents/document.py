"""Derivation -> the LaTeX document (one template, prose per language) -> .tex and .pdf.

Every formula is printed here from the Derivation's SymPy objects (latexprint); the
template only lays out sections, prose blocks and equation blocks. Equation labels are
`eq:<step.label>` (eq:delta-2, eq:grad-W-1, eq:delta-out-3) for the per-sample forms and
`eq:batch-<step.label>` for the mini-batch forms the generated code uses.

    Derivation ─context()─▶ dict ─template─▶ .tex ─latexmk─▶ .pdf
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path

import sympy as sp

from .. import __version__, fileio
from ..engine import batchnorm, hyper, training
from ..engine.symbols import N, i, layer_symbols, p, tag
from ..render import render
from . import figures
from . import pdf as latexpdf
from .article_notes import chain, in_chain_order
from .latexprint import latex
from .prose import fill
from .sections import Sections
from .sections_bn import power_of_ten
from .tidy import BATCH, as_batch
from .worked import example, shown


class _Doc(Sections):
    """The template context: title, layer table, notation, sections, algorithm, proof."""

    def __init__(self, d, lang: str, report, flow):
        super().__init__(d, lang)
        self.report, self.flow = report, flow  # flow: flow.tex_chapter(), or None

    def context(self) -> dict:
        d, s = self.d, self.s
        spec = d.spec
        arch = tt(spec.compact)
        sections = [
            self.notation(),
            self.forward(),
            self.loss(),
            self.backprop(),
            self.activations(),
            self.output(),
            self.summary(),
            *([self.normalisation()] if spec.normalised else []),
            self.layers(),
            self.batch(),
            # one sample through a normalised layer: its variance is 0 (no worked example)
            *([] if spec.normalised else [self.worked()]),
        ]
        return {
            "s": s,
            "title": fill(s["title"], arch=arch),
            "author": fill(s["author"], version=__version__),
            "intro": fill(
                s["intro_normalised" if spec.normalised else "intro"],
                depth=spec.depth,
                params=spec.parameter_count,
                loss=self.loss_name(),
                reg=self.reg_names(),
                checked=s["intro_checked_links" if self.proof.links else "intro_checked"],
            ),
            "table": self.layer_table(),
            "network": self.figure(
                figures.network(d, self.tex, s["input"]), "fig_network", "network", arch=arch
            ),
            "sections": sections,
            "closing": [self.notes()],
            "bibliography": [
                {"key": key, "text": s[f"bib_{key}"]} for key in ("article", "nielsen", "qiu")
            ],
            "algorithm": self.algorithm(arch),
            "verification": self.verification(),
            # issue 5's optional chapter: flow.tex_chapter()'s body, laid out as given
            "flow_latex": self.flow["latex"] if self.flow else "",
        }

    def loss_name(self) -> str:
        return self.s.get(f"loss_{self.d.loss.name}", self.d.loss.title)

    def reg_names(self) -> str:
        names = [name for name, v in (("L1", self.d.spec.l1), ("L2", self.d.spec.l2)) if v]
        return fill(self.s["reg_some"], names=" + ".join(names)) if names else self.s["reg_none"]

    def layer_table(self) -> dict:
        spec = self.d.spec
        w = spec.widths
        rows = [
            {"l": "0", "width": str(w[0]), "act": self.s["input"], "W": "", "b": "", "params": ""}
        ]
        for layer in self.d.layers:
            l = layer.l
            b, vectors = rf"${w[l]} \times 1$", 1
            if layer.norm is not None and layer.norm.batchnorm:  # γ and β in place of b
                x = batchnorm.names(l)
                b, vectors = f"{self.m(x.gamma)}{self.s['sep']}{self.m(x.beta)}: {b}", 2
            rows.append(
                {
                    "l": str(l),
                    "width": str(w[l]),
                    "act": f"${layer.activation.latex}$",
                    "W": rf"${w[l]} \times {w[l - 1]}$",
                    "b": b,
                    "params": f"{w[l] * w[l - 1] + vectors * w[l]:,}".replace(",", r"\,"),
                }
            )
        cur = layer_symbols("l")
        return {
            "rows": rows,
            "W": self.m(sp.MatrixSymbol("W_l", cur.m, 1)),
            "b": self.m(sp.MatrixSymbol("b_l", cur.m, 1)),
            "m": self.m(cur.m),
            "f": self.m(sp.Function("f_l")),
            "total": f"{spec.parameter_count:,}".replace(",", r"\,"),
        }

    def notation(self) -> dict:
        s = self.s
        prev, cur = layer_symbols("l-1"), layer_symbols("l")
        mats = cur.matrices(prev.m)
        l, lm1 = self.m(sp.Symbol("l")), self.m(sp.Symbol("l-1"))
        a0 = sp.MatrixSymbol("a0", layer_symbols(0).m, 1)
        u, v = (sp.MatrixSymbol(name, cur.m, 1) for name in "uv")
        n = sp.Symbol("n", integer=True)
        sample = lambda stem: sp.Indexed(sp.IndexedBase(stem), n)
        rows = [
            (self.m(sp.Symbol("L")), s["n_depth"]),
            (self.m(cur.m), fill(s["n_width"], l=l)),
            (self.m(sp.Function("f_l")), fill(s["n_f"], l=l)),
            (self.in_reals(mats["W"]), fill(s["n_W"], l=l, lm1=lm1)),
            (self.in_reals(mats["b"]), fill(s["n_b"], l=l)),
            (self.in_reals(mats["z"]), fill(s["n_z"], l=l)),
            (
                self.in_reals(mats["a"]),
                fill(s["n_a"], l=l, a0=self.m(a0), x=self.m(sp.Symbol("x"))),
            ),
            (self.m(sp.MatrixSymbol("y", layer_symbols("L").m, 1)), s["n_y"]),
            (self.in_reals(mats["delta"]), fill(s["n_delta"], l=l)),
            (self.m(N), s["n_N"]),
            (
                self.m(sample("y")) + ", " + self.m(sample("a_l")),
                fill(s["n_sample"], n=self.m(n), N=self.m(N)),
            ),
        ]
        if self.penalties():
            rows.append((self.m(sp.Symbol("Omega")), s["n_Omega"]))
        first, rows = rows, []
        rows += [
            (self.m(sp.Symbol("R")), s["n_R"]),
            (self.m(sp.KroneckerDelta(i, p)), fill(s["n_kron"], **self.symbols())),
            (self.m(sp.HadamardProduct(u, v)), s["n_hadamard"]),
            (
                self.m(sp.HadamardPower(u, 2)),
                fill(s["n_power"], u=self.m(sp.HadamardProduct(u, u))),
            ),
            (self.m(BATCH), s["n_B"]),
            (self.m(sp.OneMatrix(BATCH, 1)), fill(s["n_ones"], B=self.m(BATCH))),
            (
                self.in_reals(sp.MatrixSymbol("A_l", BATCH, cur.m))
                + ", "
                + self.m(sp.MatrixSymbol("Z_l", BATCH, cur.m))
                + ", "
                + self.m(sp.MatrixSymbol("Delta_l", BATCH, cur.m)),
                fill(s["n_batch"], B=self.m(BATCH)),
            ),
            (
                self.m(sp.MatrixSymbol("Y", BATCH, layer_symbols("L").m)),
                fill(s["n_Y"], B=self.m(BATCH)),
            ),
            (self.m(sp.Symbol("alpha")), s["n_alpha"]),
        ]
        rows += [(self.m(sym), s["n_lambda"]) for sym in self.penalties()]
        rows += self.notation_norm()
        blocks = [
            {"kind": "notation", "rows": [{"symbol": a, "meaning": b} for a, b in part]}
            for part in (first, rows)
        ]
        intro = self.text("notation_intro", L=self.m(sp.Symbol("L")))
        return self.section("sec_notation", "notation", [intro, blocks[0], blocks[1]])

    def notation_norm(self) -> list[tuple[str, str]]:
        """The symbols of batch normalisation and dropout, for specs with such layers."""
        spec, s = self.d.spec, self.s
        x = batchnorm.names("l")
        rows = []
        if any(layer.batchnorm for layer in spec.layers):
            rows += [
                (self.m(x.mu) + ", " + self.m(x.var), s["n_bn_stats"]),
                (self.m(x.Zhat) + ", " + self.m(x.Y), s["n_bn_zhat"]),
                (self.in_reals(x.gamma) + ", " + self.m(x.beta), s["n_bn_params"]),
                (self.m(batchnorm.EPSILON), s["n_bn_eps"]),
                (
                    self.m(x.dZhat) + ", " + self.m(x.DeltaY),
                    fill(s["n_bn_errors"], B=self.m(BATCH), Zhat=self.m(x.Zhat), Y=self.m(x.Y)),
                ),
            ]
        if any(layer.dropout for layer in spec.layers):
            mask = sp.IndexedBase("mask_l")
            rows.append((self.m(mask) + ", " + self.m(x.Mask), s["n_mask"]))
        return rows

    def worked(self) -> dict:
        """The derived equations evaluated on the proof's small instance, one sample."""
        w = example(self.d)
        inst = w.derivation
        order = ["a0", "y"] + [f"{stem}{layer.l}" for layer in inst.layers for stem in "Wb"]
        by_name = {ms.name: ms for ms in w.given}
        given = [(by_name[n], "=", shown(w.given[by_name[n]]), None) for n in order]
        blocks = [
            self.text(
                "worked_intro_cover" if self.covered() else "worked_intro",
                arch=tt(inst.spec.compact),
                digits=str(4),
            ),
            self.eq(*self._pairs(given)),
            self.text("worked_forward"),
            self.eq(*self._valued(w.forward)),
            self.text("worked_backward"),
            self.eq(*self._valued(w.backward)),
            self.text("worked_check"),
        ]
        return self.section("sec_worked", "worked", blocks)

    def _pairs(self, lines: list[tuple]) -> list[tuple]:
        """Given numbers two to a line: x and y, then W and b of each layer."""
        out = []
        for n in range(0, len(lines), 2):
            (lhs, _, rhs, _), *more = lines[n : n + 2]
            text = self.tex(rhs)
            if more:
                ((lhs2, _, rhs2, _),) = more
                text += rf",\qquad {self.tex(lhs2)} = {self.tex(rhs2)}"
            out.append((lhs, "=", text, None))
        return out

    def _valued(self, steps) -> list[tuple]:
        """Each step: its derived matrix form, then its value (one sample, so the mean
        over samples in ∂R/∂W is the sample's own term)."""
        out = []
        for step, value in steps:
            lhs = latex_lhs(step)
            out.append((lhs, "=", self.tex(step.matrix) + " = " + self.tex(shown(value)), None))
        return out

    def notes(self) -> dict:
        """Where the document corrects the article; every number computed by SymPy."""
        c = chain()
        C = sp.Symbol("C")
        b1, b3 = sp.Symbol("b_1"), sp.Symbol("b_3")
        dC1, dC3 = sp.Derivative(C, b1), sp.Derivative(C, b3)
        assert sp.cancel(c.grads[1] - c.grads[3] * c.ratio) == 0  # the ratio is exact
        bound = sp.StrictLessThan(
            sp.Abs(dC1), sp.Mul(sp.Abs(dC3), c.sigma_max**2, evaluate=False), evaluate=False
        )
        p = sp.N(c.p_small, 4)
        blocks = [
            self.text("notes_intro"),
            self.text(
                "note_weights",
                p=self.m(sp.Eq(c.p_event, c.p_small)),
                pn=self.m(sp.Float(p, 4)),
                both=self.m(sp.Float(sp.N(c.p_both, 4), 3)),
            ),
            self.text("note_chain", fig=r"\ref{fig:chain}"),
            self.figure(figures.chain(self.tex), "fig_chain", "chain"),
            self.eq(
                *(
                    (
                        sp.Derivative(C, sp.Symbol(f"b_{j}")),
                        "=",
                        self.tex(in_chain_order(g), order="none"),
                        None,
                    )
                    for j, g in c.grads.items()
                    if j in (1, 3)
                ),
                (
                    dC1,
                    "=",
                    self.tex(sp.Mul(dC3, c.ratio, evaluate=False), order="none"),
                    "chain-ratio",
                ),
            ),
            self.text("note_article"),
            self.eq(("", "", self.tex(c.article_ratio), None)),
            self.text(
                "note_ratio",
                smax=self.m(c.sigma_max),
                z0=self.m(sp.Eq(sp.Symbol("z"), c.argmax)),
                bound=self.m(bound, order="none"),
            ),
        ]
        return self.section("sec_notes", "notes", blocks)

    def algorithm(self, arch: str) -> dict:
        s, d = self.s, self.d
        hp = hyper.resolve(d.spec)  # the generated script's defaults, the same values
        gl = layer_symbols("l")
        big = lambda stem: sp.MatrixSymbol(f"{stem}_l", N, gl.m)
        D, V = sp.Symbol("D"), sp.Symbol("V")
        lam = "".join(
            s["sep"] + self.m(sp.Eq(sym, sp.Float(v, 3))) for sym, v in self.penalties().items()
        )
        ls = self.m(sp.Eq(sp.Symbol("l"), sp.Symbol(r"1, \ldots, L")))
        ls_down = self.m(sp.Eq(sp.Symbol("l"), sp.Symbol(r"L, \ldots, 1")))
        fields = {
            "D": self.m(D),
            "V": self.m(V),
            "alpha": self.m(sp.Eq(sp.Symbol("alpha"), sp.Float(hyper.learning_rate(hp), 3))),
            "optimizer": tt(hp["optimizer"]),
            "lam": lam,
            "B": str(hp["batch_size"]),
            "P": str(hp["patience"]),
            "E": str(hp["epochs"]),
            "W": self.m(sp.MatrixSymbol("W_l", gl.m, 1)),
            "b": self.m(sp.MatrixSymbol("b_l", gl.m, 1)),
            "A0": self.m(sp.MatrixSymbol("A0", N, 1)),
            "Y": self.m(sp.MatrixSymbol("Y", N, 1)),
            "Z": self.m(big("Z")),
            "A": self.m(big("A")),
            "Delta": self.m(big("Delta")),
            "dW": self.m(sp.MatrixSymbol("dW_l", gl.m, 1)),
            "db": self.m(sp.MatrixSymbol("db_l", gl.m, 1)),
            "ls": ls,
            "ls_down": ls_down,
        }
        updates, update_text = self.update_rule(hp["optimizer"])
        modes, output = self.training_mode()
        return {
            "caption": fill(s["algorithm_caption"], arch=arch, optimizer=fields["optimizer"]),
            "intro": s["algorithm_intro"],
            "input": fill(s["alg_input"], **fields),
            "output": s["alg_output"] + output,
            **{
                key: fill(s[f"alg_{key}"], **fields)
                for key in (
                    "init",
                    "repeat",
                    "for",
                    "forward",
                    "backward",
                    "grad",
                    "return",
                )
            },
            "update_text": update_text,
            "updates": updates,
        } | {
            "until": fill(s["alg_until"], **fields) + self.until_diverging(hp["diverging"]),
            "modes": modes,
            "init": fill(s["alg_init"], **fields)
            + self.init_bn()
            + s["sep"]
            + self.init_rule(hp["init"]),
        }

    def until_diverging(self, factor: float) -> str:
        """The script's divergence stop (runtime.loop.fit: an epoch's loss over `factor`
        times the loss at the start), when [training] has it on."""
        return fill(self.s["alg_until_diverging"], K=f"{factor:g}") if factor else ""

    def training_mode(self) -> tuple[list[str], str]:
        """What the forward pass does in training mode (the batch's statistics, updating the
        running ones; a fresh dropout mask), one line each, and what training returns beside
        W and b (γ, β, the running statistics prediction uses; no dropout), as
        symfnn.script.runtime.normalised does."""
        spec, s = self.d.spec, self.s
        x = batchnorm.names("l")
        modes, output = [], ""
        if any(layer.batchnorm for layer in spec.layers):
            stats = {"mu": self.m(x.mu), "var": self.m(x.var)}
            value = sp.Float(float(batchnorm.MOMENTUM_VALUE), 3)
            rho = self.m(sp.Eq(batchnorm.MOMENTUM, value, evaluate=False))
            # two lines: normalising, then the running statistics' update over its assignments
            modes.append({"text": fill(s["alg_forward_bn"], **stats), "lines": []})
            modes.append({"text": fill(s["alg_running_bn"], rho=rho), "lines": self.running()})
            running = {"mean": self.m(x.running_mean), "var_run": self.m(x.running_var)}
            output += fill(
                s["alg_output_bn"], gamma=self.m(x.gamma), beta=self.m(x.beta), **stats, **running
            )
        if any(layer.dropout for layer in spec.layers):
            modes.append({"text": fill(s["alg_forward_drop"], mask=self.m(x.Mask)), "lines": []})
            output += s["alg_output_drop"]
        return modes, output

    def running(self) -> list[str]:
        """The running estimates' update `target ← value`, from batchnorm.RUNNING (the table
        the script's _running_statistics is printed from), at layer l, the batch of B samples."""
        lines = []
        for target, value in batchnorm.running_update("l"):
            eq = sp.Eq(target, as_batch(value), evaluate=False)
            lines.append(self.m(eq).replace("=", r"\leftarrow", 1))
        return lines

    def init_bn(self) -> str:
        """γ = 1 and β = 0 at the start (symfnn.script.runtime.normalised does so), for bn specs."""
        if not any(layer.batchnorm for layer in self.d.spec.layers):
            return ""
        x = batchnorm.names("l")
        return self.s["sep"] + fill(
            self.s["alg_init_bn"], gamma=self.m(x.gamma), beta=self.m(x.beta)
        )

    def init_rule(self, scheme: str) -> str:
        """std W(l) = the scheme's std in m(l-1), m(l), from symfnn.engine.training.INITS (the table
        the script's INIT_STD is printed from)."""
        prev, cur = layer_symbols("l-1"), layer_symbols("l")
        std = training.init_std(scheme, prev.m, cur.m)
        W = sp.MatrixSymbol("W_l", cur.m, prev.m)
        # one box: a line breaks before it, never at its = nor before the scheme's name
        formula = self.m(sp.Eq(sp.Function("std")(W), std, evaluate=False))
        return rf"\mbox{{{formula}~({tt(scheme)})}}"

    def update_steps(self, optimizer: str) -> tuple[sp.Basic, list[tuple], list[tuple]]:
        """The update of `optimizer` from its entry in symfnn.engine.training, the entry the
        generated script's update is printed from: (θ, g) ∈ {(W, ∂R/∂W), (b, ∂R/∂b)}, the
        assignments [(target, value), ...] (t ← t + 1 first when the rule reads t) and the
        hyper-parameters [(symbol, value), ...]. Any printer (LaTeX, MathML) lays them out."""
        entry = training.OPTIMIZERS[optimizer]
        gl = layer_symbols("l")
        W, b = sp.MatrixSymbol("W_l", gl.m, 1), sp.MatrixSymbol("b_l", gl.m, 1)
        dW, db = sp.MatrixSymbol("dW_l", gl.m, 1), sp.MatrixSymbol("db_l", gl.m, 1)
        pairs = [sp.Tuple(W, dW), sp.Tuple(b, db)]
        if any(layer.batchnorm for layer in self.d.spec.layers):  # γ and β, updated alike
            x = batchnorm.names("l")
            pairs += [sp.Tuple(x.gamma, x.dgamma), sp.Tuple(x.beta, x.dbeta)]
        pairs = sp.FiniteSet(*pairs)
        each = sp.Contains(sp.Tuple(training.THETA, training.G), pairs, evaluate=False)
        steps = [(training.T, sp.Add(training.T, 1, evaluate=False))] if entry.counts_steps else []
        steps, hyper_values = steps + list(entry.steps), list(entry.hyper)
        if any(layer.batchnorm for layer in self.d.spec.layers):  # ε is batch norm's here
            own = {training.EPSILON: sp.Symbol(rf"\epsilon_{{\mathrm{{{optimizer}}}}}")}
            steps = [(t, sp.sympify(v).xreplace(own)) for t, v in steps]
            hyper_values = [(own.get(sym, sym), v) for sym, v in hyper_values]
        return each, steps, hyper_values

    def update_rule(self, optimizer: str) -> tuple[list[str], str]:
        """update_steps in LaTeX: the lines `target ← value`, and the text before them with
        the optimiser's hyper-parameters."""
        each, steps, hyper_values = self.update_steps(optimizer)

        def arrow(lhs, rhs) -> str:  # t + 1 as written (unevaluated), the rest tidied
            order = "none" if lhs == training.T else None
            return self.m(sp.Eq(lhs, rhs, evaluate=False), order=order).replace(
                "=", r"\leftarrow", 1
            )

        lines = [self.m(each)] + [arrow(target, value) for target, value in steps]
        values = [self.m(sp.Eq(sym, power_of_ten(v), evaluate=False)) for sym, v in hyper_values]
        text = self.s["alg_update"] + (" " + self.s["sep"].join(values) if values else "")
        return lines, text

    @functools.cached_property
    def proof(self):
        """The report given, or verify's (run once, here)."""
        from ..engine.verify import verify

        return self.report if self.report is not None else verify(self.d)

    def verification(self) -> dict:
        from ..engine.verify import DIGITS

        s = self.s
        r = self.proof
        worst = fill(s["v_worst_value"], bound=self.m(bound(r.worst)))
        rows = [
            (s["v_instance"], tt(r.instance.describe())),
            (s["v_checked_numeric" if r.links else "v_checked"], str(r.partials)),
            (s["v_points"], str(r.points)),
            (s["v_samples"], str(r.samples)),
            (s["v_digits"], fill(s["v_digits_value"], digits=DIGITS)),
            (s["v_worst"], worst),
            (s["v_symbolic"], symbolic_status(r.symbolic, s)),
            (s["v_verdict"], r"\textbf{" + _verdict(r, s) + "}"),
        ]
        covered = self.covered()
        lead = s["verify_lead_cover" if covered else "verify_lead"]
        intro = self.verify_links(r) if r.links else [fill(s["verify_intro"], lead=lead)]
        if covered:
            intro.insert(0, fill(s["verify_cover"], instance=tt(r.instance.compact), **covered))
        return {"intro": intro, "rows": [{"key": a, "value": b} for a, b in rows]}

    def covered(self) -> dict:
        """{"pairs", "mapping"} of the proof's covering instance (verify.Report.renaming: the
        adjacent pairs of layer types it holds, which instance layer each layer of this
        network stands for), when it is shorter than the network; else {}."""
        r = self.proof
        found = re.search(
            r"network layers -> instance layers (.*?); .*instance pairs (.*)$", r.renaming
        )
        if r.instance.depth >= self.d.spec.depth or not found:
            return {}
        pairs = ", ".join(tt(p) for p in found[2].split(", "))
        return {"mapping": found[1].replace("->", r"$\to$").replace("..", "--"), "pairs": pairs}

    def verify_links(self, r) -> list[str]:
        """How verify_bn proved `r`: the links, each with symbolic input, parameters and
        incoming error term, joined by the chain rule; then the numeric comparison, a
        cross-check of the joints where the links were all proven, the evidence where not."""
        from ..engine.derive import RISK
        from ..engine.verify import DONE

        Z = lambda t: sp.MatrixSymbol(f"Z{tag(t)}", BATCH, layer_symbols(t).m)
        error = sp.MatrixSymbol(f"Delta{tag('l+1')}", BATCH, layer_symbols("l+1").m)
        objective = (
            sp.OneMatrix(BATCH, 1).T
            * sp.HadamardProduct(error, Z("l+1"))
            * sp.OneMatrix(layer_symbols("l+1").m, 1)
        )
        symbolic = fill(
            self.s["verify_links"],
            what=self.s["v_instance" if self.covered() else "v_network"],
            links=str(r.links),
            Z1=self.m(Z(1)),
            Zl=self.m(Z("l")),
            Zl1=self.m(Z("l+1")),
            ZL=self.m(Z("L")),
            l=self.m(sp.Symbol("l")),
            error=self.m(
                sp.Eq(
                    error,
                    sp.Mul(BATCH, sp.Derivative(RISK, Z("l+1")), evaluate=False),
                    evaluate=False,
                ),
                order="none",
            ),
            objective=self.m(objective),
            BR=self.m(sp.Mul(BATCH, RISK, evaluate=False), order="none"),
        )
        complete = r.symbolic.startswith(DONE)
        return [symbolic, self.s["verify_links_numeric" if complete else "verify_links_only"]]


def _verdict(r, s: dict) -> str:
    """proven / FAILED in the document's language; NUMERIC ONLY or INCONCLUSIVE as verify says."""
    if r.proven or not r.ok:
        return s["proven"] if r.proven else s["failed"]
    return s.get(f"verdict_{r.verdict.lower().replace(' ', '_')}", tt(r.verdict))


def bound(worst: float) -> sp.Basic:
    """10^k, k a multiple of 5, above the proof's worst difference: its last digits vary
    with evaluation order (1.7e-61 in one process, 1.2e-61 in another); goldens must not."""
    k = 5 * math.ceil(math.log10(worst) / 5) if worst > 0 else -100
    return sp.Pow(10, k, evaluate=False)


def symbolic_status(status: str, s: dict) -> str:
    """verify's status of the symbolic proof, said in the document's language.

    (verify.Report.symbolic is one English line for the terminal; a form this does not
    know stays as it is, in typewriter type.)
    """
    links = re.fullmatch(  # verify_bn: the links' entries by cancel (a repeated link's by
        # renaming the link it repeats), forward values too
        r"difference = 0 for all (\d+) partials of (\S+) \((\d+) by cancel per layer "
        r"[^(),]*(?:, (\d+) by renaming links ([\d, ]+) to links ([\d, ]+))? "
        r"with (\d+) forward values too\)",
        status,
    )
    if links:
        n, instance, cancelled, renamed, repeats, repeated, forward = links.groups()
        which = f"{repeats} $\\to$ {repeated}"
        if renamed:
            key, n = "v_symbolic_links_renamed", cancelled
        else:
            key = "v_symbolic_links"
        fields = {"renamed": renamed, "which": which, "forward": forward}
        return fill(s[key], n=n, instance=tt(instance), **fields)
    unfinished = re.fullmatch(
        r"numeric only: the layer-by-layer cancellation did not finish in (\d+) s "
        r"\((\d+) partials and (\d+) forward values reduced to 0\)",
        status,
    )
    if unfinished:
        seconds, n, forward = unfinished.groups()
        return fill(s["v_symbolic_links_unfinished"], seconds=seconds, n=n, forward=forward)
    done = re.fullmatch(r"cancel\(difference\) = 0 for all (\d+) partials of (\S+)", status)
    if done:
        return fill(s["v_symbolic_done"], n=done[1], instance=tt(done[2]))
    ways = re.fullmatch(r"difference = 0 for all (\d+) partials of (\S+) \((.*)\)", status)
    if ways:  # several rewritings were needed: verify names them ("5 by cancel, 2 by …")
        each = re.findall(r"(\d+) by ([\w ]+?)(?:, |$)", ways[3])
        named = s["sep"].join(fill(s["v_way"], count=c, method=tt(m)) for c, m in each)
        return fill(s["v_symbolic_ways"], n=ways[1], instance=tt(ways[2]), ways=named)
    timeout = re.fullmatch(r"skipped: cancel took over (\d+) s", status)
    if timeout:
        return fill(s["v_symbolic_timeout"], seconds=timeout[1])
    if status.startswith("numeric only: "):  # verify_bn: cancel did not finish, and why
        return fill(s["v_symbolic_numeric"], why=tt(status.removeprefix("numeric only: ")))
    return s["v_symbolic_skipped"] if status == "skipped" else tt(status)


def tt(text: str) -> str:
    """Typewriter text that never breaks at its own hyphens: words are boxes; a long
    architecture may break only *before* a '-', so a line never ends in one."""
    words = []
    for word in text.replace("_", r"\_").split(" "):
        if len(word) <= 16:
            words.append(r"\mbox{" + word + "}")
            continue
        first, *rest = word.split("-")
        words.append(
            r"\mbox{" + first + "}" + "".join(r"\allowbreak\mbox{-" + w + "}" for w in rest)
        )
    return r"\texttt{" + " ".join(words) + "}"


def latex_lhs(step) -> str:
    from .latexprint import matrix_lhs

    return latex(matrix_lhs(step)) if step.matrix_lhs is not None else latex(step.lhs)


def tex_source(derivation, *, lang: str = "en", report=None, flow=None) -> str:
    """The whole LaTeX document (deterministic: no dates, no paths)."""
    return render("latex", "derivation.tex.jinja", **_Doc(derivation, lang, report, flow).context())


def write(
    derivation, *, tex=None, pdf=None, lang: str = "en", force: bool = False, report=None, flow=None
) -> list[Path]:
    """Write the .tex (if `tex`) and build the PDF (if `pdf`); returns the paths written.

    Both targets are checked before any work. With only `pdf`, no .tex is kept beside it;
    a missing TeX toolchain raises RenderError after the .tex is written.
    """
    targets = [fileio.check_writable(path, force) for path in (tex, pdf) if path is not None]
    source = tex_source(derivation, lang=lang, report=report, flow=flow)
    written = []
    if tex is not None:
        written.append(fileio.write_atomic(tex, source, force))
    if pdf is not None:
        with fileio.work_folder("pdf") as work:  # one a kill -9 left goes on the next run
            if flow:  # the chapter names its plots relative to the .tex: put them there
                from ..flow.report import place_plots

                place_plots(flow, Path(work))
            built = latexpdf.compile(source, Path(work))
            written.append(fileio.move_atomic(built, pdf, force))
    assert len(written) == len(targets)
    return written
