"""The `--flow` chapter of the derivation document, as an argument: derivation, measurement,
interpretation. Built from `analyze`'s JSON; every formula printed by SymPy (flow.symbolic,
flow.bound), every number read from the run, every sentence from `flow.prose` in the
document's language; `templates/flow.tex.jinja` only lays the blocks out.

    flow.json ─▶ sections of blocks (text | equation | align | table | figure) ─▶ LaTeX
"""

from __future__ import annotations

import math

import sympy as sp

from .bound import L, Norm, Slope, SupSlope, W, l, orders_definition, recurrence_bound
from .experiments import SCHEME_NAMES
from .prose import fill, strings

PLOT_NAMES = ("grad_vs_layer", "learning_speed", "clipping", "l2", "batchnorm", "spec_bound")
FLOW_LABEL, BOUND_LABEL, EXPLODE_LABEL = "sec:flow", "eq:flow-bound", "eq:flow-explode"


def fig_label(name: str) -> str:
    return f"fig:flow-{name}"


def m(tex: str) -> str:
    """Inline math around SymPy's LaTeX."""
    return f"${tex}$"


def num(v, digits: int = 2) -> str:
    """A measured number in inline math, `digits` significant digits, printed by SymPy."""
    if v is None or not math.isfinite(v):
        return "--"
    return m(sp.latex(sp.Float(v, digits)))


def init_name(scheme: str) -> str:
    """N(0,1) as math, Xavier and He as names."""
    name = SCHEME_NAMES[scheme]
    return m(name) if "(" in name else name


def pct(v) -> str:
    return m(rf"{round(100 * v)}\%")


class Chapter:
    """The chapter's blocks; `self.t(key, …)` is one sentence of `flow.prose` in `lang`."""

    def __init__(self, data: dict, lang: str, graphics_dir: str, recurrence_label: str):
        self.data, self.lang, self.dir = data, lang, graphics_dir.rstrip("/")
        self.eqref = rf"\eqref{{{recurrence_label}}}"
        art = data["symbolic"]["article"]
        self.art, self.n = art, art["notation"]
        self.sections: list[dict] = []
        self.figures: list[str] = []

    def t(self, key: str, **values) -> str:
        return fill(self.lang, key, **values)

    def ref(self, name: str) -> str:
        return rf"\ref{{{fig_label(name)}}}"

    def nm(self, key: str) -> str:
        """A notation entry of flow.symbolic.article, inline."""
        return m(self.n[key]["latex"])

    def document_latex(self, entry: dict) -> str:
        """An exact expression of the JSON printed as the document prints (latexprint: its
        names, its words for a Piecewise's "otherwise" in this language)."""
        from ..documents.latexprint import latex

        try:
            return latex(sp.sympify(entry["exact"]), self.lang)
        except (sp.SympifyError, TypeError, SyntaxError):
            return entry["latex"]

    def section(self, key: str, blocks: list[dict]) -> None:
        self.sections.append({"title": strings(self.lang)[key], "blocks": blocks})

    def figure(self, name: str, **values) -> dict:
        self.figures.append(name)
        return {
            "kind": "figure",
            "path": f"{self.dir}/{name}.pdf",
            "width": f"{self.data['plot_text'][name]['inches'][0]:g}in",
            "caption": self.t(f"cap_{name}", **values),
            "label": fig_label(name),
        }

    def text(self, *sentences: str, par: bool = True) -> dict:
        """Prose; `par=False` continues the sentence a display interrupted."""
        joiner = "" if self.lang == "zh" else " "
        return {"kind": "text", "text": joiner.join(sentences), "par": par}

    def equation(self, tex: str, label: str | None = None, end: str = "comma") -> dict:
        """A numbered display; `end` is the punctuation of the sentence it stands in."""
        punct = strings(self.lang)[f"eq_{end}"]
        return {"kind": "equation", "tex": tex, "label": label, "punct": punct and rf"\,{punct}"}

    # -- sections ------------------------------------------------------------------------
    def build(self) -> list[dict]:
        self.chain()
        self.bound()
        self.at_init()
        self.speed()
        self.clipping()
        self.l2()
        self.batchnorm()
        self.spec()
        return self.sections

    def chain(self) -> None:
        art, ex, va = self.art, self.art["exploding"], self.art["vanishing"]
        blocks = [
            self.text(
                self.t(
                    "chain_setup",
                    k=self.nm("k"),
                    z_j=self.nm("z_j"),
                    a_j=self.nm("a_j"),
                    cost=self.nm("cost"),
                )
            ),
            self.equation(self.n["grad_b1"]["latex"]),
            self.text(self.t("chain_ratio"), par=False),
            self.equation(self.n["ratio"]["latex"], end="period"),
            self.text(
                self.t(
                    "chain_vanish",
                    sigmoid_prime=self.nm("sigmoid_prime"),
                    argmax=self.nm("argmax"),
                    sigmoid_max=m(art["sigmoid_prime_max"]["latex"]),
                    w_small=self.nm("w_small"),
                    factor_bound=self.nm("factor_bound"),
                    ratio_bound=m(va["ratio_bound"]["latex"]),
                    inv_factor=m(va["shrink_per_layer"]["latex"]),
                    abs_w_small=self.nm("abs_w_small"),
                    p_within=m(art["p_abs_w_below_1"]["latex"]),
                    p_float=num(art["p_abs_w_below_1"]["float"], 4),
                )
            ),
            self.text(
                self.t(
                    "chain_explode",
                    w_all=self.nm("w_all"),
                    z_big=self.nm("z_big"),
                    bias_for_z=m(
                        sp.latex(sp.Eq(sp.Symbol("b_2"), sp.sympify(ex["bias_for_z"]["exact"])))
                    ),
                    factor=self.nm("factor"),
                )
            ),
            self.equation(self.n["first_last"]["latex"]),
            self.text(self.t("chain_explode_value"), par=False),
            self.equation(self.n["first_last_value"]["latex"], EXPLODE_LABEL, end="period"),
            self.text(
                self.t(
                    "chain_explode_end",
                    value=m(ex["grad_b1_over_grad_bk"]["latex"]),
                    per_layer=m(ex["per_layer_growth"]["latex"]),
                )
            ),
        ]
        self.section("h_chain", blocks)

    def bound(self) -> None:
        rb = recurrence_bound()
        maxima = self.data["symbolic"]["activation_maxima"]
        sig = sp.sympify(maxima["sigmoid"]["sup"]["exact"])
        depths = rb["checked_depths"]
        blocks = [
            self.text(self.t("bound_intro", eqref=self.eqref)),
            self.equation(rb["recurrence"], end="period"),
            self.text(
                self.t(
                    "bound_steps",
                    inf_norm=m(sp.latex(Norm(Slope(l), sp.oo))),
                    spectral=m(sp.latex(Norm(W(l + 1), 2))),
                    sup=m(sp.latex(SupSlope(l))),
                )
            ),
            {
                "kind": "align",
                "lines": [
                    (rb["lhs"] if n == 0 else "", "=" if n == 0 else r"\leq", step)
                    for n, step in enumerate(rb["steps"])
                ],
                "punct": rf"\,{strings(self.lang)['eq_period']}" if self.lang == "en" else "",
            },
            self.text(self.t("bound_unrolled", l=m(sp.latex(l)), L=m(sp.latex(L)))),
            self.equation(rb["product"], BOUND_LABEL, end="period"),
            self.text(
                self.t(
                    "bound_checked",
                    depths=m(rf"{sp.latex(L)} \in {sp.latex(sp.FiniteSet(*depths))}"),
                    factor=m(rb["factor"]),
                )
            ),
            {
                "kind": "table",
                "columns": "lll",
                "header": [
                    strings(self.lang)["col_activation"],
                    m(self.n["fprime"]["latex"]),
                    strings(self.lang)["col_sup"],
                ],
                "rows": [
                    [
                        name,
                        m(self.document_latex(v.get("fprime_display", v["fprime"]))),
                        m(v["sup"]["latex"]),
                    ]
                    for name, v in maxima.items()
                ],
            },
            self.text(
                self.t(
                    "bound_consequence",
                    sig_inv=m(sp.latex(1 / sig)),
                    one=m(sp.latex(sp.sympify(maxima["tanh"]["sup"]["exact"]))),
                )
            ),
        ]
        self.section("h_bound", blocks)

    def at_init(self) -> None:
        ai = self.data["at_init"]
        runs = {(r["activation"], r["init"]): r for r in ai["runs"]}
        words = strings(self.lang)
        blocks = [
            self.text(
                self.t(
                    "init_setup",
                    hidden=m(ai["hidden"]),
                    width=m(ai["width"]),
                    depth=m(ai["depth"]),
                    probe=m(ai["probe"]),
                )
            ),
            self.equation(orders_definition()),
            self.text(self.t("init_orders", zero=m(0), three=m(3)), par=False),
            {
                "kind": "table",
                "columns": "llrrr",
                "header": [
                    words["col_activation"],
                    words["col_init"],
                    self.nm("grad_W_first"),
                    self.nm("grad_W_last"),
                    words["col_orders"] + " " + m("O"),
                ],
                "rows": [
                    [
                        r["activation"],
                        init_name(r["init"]),
                        num(r["W"][0]),
                        num(r["W"][-1]),
                        num(r["spread_orders_W"]),
                    ]
                    for r in ai["runs"]
                ],
            },
        ]
        sentences = [self.t("init_figure", ref=self.ref("grad_vs_layer"))]
        for key in (
            ("sigmoid", "normal"),
            ("sigmoid", "xavier"),
            ("tanh", "normal"),
            ("tanh", "xavier"),
            ("relu", "he"),
        ):
            r = runs.get(key)
            if r is None:
                continue
            sentences.append(
                self.t(
                    "init_run",
                    act=r["activation"],
                    init=init_name(r["init"]),
                    first_last=self.nm("grad_W_ratio"),
                    ratio=num(r["first_over_last_W"]),
                    orders=num(r["spread_orders_W"]),
                    trend=words[_trend(r["first_over_last_W"])],
                )
            )
            if key == ("sigmoid", "xavier") and _trend(r["first_over_last_W"]) == "trend_vanish":
                sentences.append(self._sigmoid_xavier(ai["width"], ai["width"]))
        relu = runs.get(("relu", "normal"))
        if relu and relu["W"][0] is not None and relu["W"][0] > 1e3:
            sentences.append(
                self.t(
                    "init_relu_normal",
                    init=init_name("normal"),
                    orders=num(relu["spread_orders_W"]),
                    first=self.nm("grad_W_first"),
                    value=num(relu["W"][0]),
                )
            )
        blocks.append(self.text(*sentences))
        blocks.append(self.figure("grad_vs_layer", depth=m(ai["depth"])))
        self.section("h_init", blocks)

    def _xavier_factor(self, width: int) -> tuple[str, str]:
        """The bound's factor for a sigmoid layer under a width×width Xavier matrix: the
        estimate of ‖W‖₂ (flow.symbolic.spec_bounds) and the factor, both printed."""
        from .experiments import deep_spec
        from .symbolic import spec_bounds

        sb = spec_bounds(deep_spec("sigmoid", 2, width), ("xavier",))
        rows = sb["schemes"]["xavier"]["layers"]
        row = next(r for r in rows if r["W_next_shape"] == [width, width])  # hidden → hidden
        norm = sp.sympify(row["W_next_norm_estimate"]["exact"])
        s_, m_in, m_out = sp.symbols("s m_in m_out", positive=True)
        estimate = sp.sympify(
            sb["norm_estimate"]["exact"], locals={"s": s_, "m_in": m_in, "m_out": m_out}
        )
        printed = (
            rf"{sp.latex(Norm(sp.Symbol('W'), 2))} \approx {sp.latex(estimate)} = {sp.latex(norm)}"
        )
        return m(printed), m(row["factor_bound"]["latex"])

    def _sigmoid_xavier(self, m_in: int, m_out: int) -> str:
        estimate, factor = self._xavier_factor(m_in)
        return self.t(
            "init_sigmoid_xavier",
            one=m(
                sp.latex(
                    sp.sympify(self.data["symbolic"]["activation_maxima"]["tanh"]["sup"]["exact"])
                )
            ),
            sigmoid_max=m(self.art["sigmoid_prime_max"]["latex"]),
            estimate=estimate,
            width=m(m_in),
            factor=factor,
        )

    def speed(self) -> None:
        sp_ = self.data["learning_speed"]
        blocks = []
        sentences = [
            self.t(
                "speed_setup",
                grad_b_l=self.nm("grad_b_l"),
                ref=self.ref("learning_speed"),
                epochs=m(sp_["epochs"]),
                lr=m(sp.latex(sp.Float(sp_["lr"], 2))),
                batch=m(sp_["batch"]),
                hidden=m(sp_["hidden"]),
                width=m(sp_["width"]),
            )
        ]
        best = None
        for r in sp_["runs"]:
            setup = self.t("setup", act=r["activation"], init=init_name(r["init"]))
            acc = r["val_accuracy"][-1]
            first, last = r["delta"][0], r["delta"][-1]
            at_chance = acc < sp_["chance"] + 0.05
            if at_chance and (r["activation"], r["init"]) == ("sigmoid", "xavier"):
                # say why, from the bound: the measured shrinking per layer against its factor
                hidden = len(first) - 1
                measured = (
                    (first[0] / first[-1]) ** (1 / hidden) if first[-1] and first[0] else None
                )
                _, factor = self._xavier_factor(sp_["width"])
                sentences.append(
                    self.t(
                        "speed_stuck",
                        setup=setup,
                        acc=num(acc, 3),
                        chance=num(sp_["chance"], 2),
                        measured=num(measured),
                        factor=factor,
                    )
                )
                continue
            if at_chance:
                chance = num(sp_["chance"], 2)
                sentences.append(
                    self.t("speed_at_chance", setup=setup, acc=num(acc, 3), chance=chance)
                )
                continue
            sentences.append(
                self.t(
                    "speed_run",
                    setup=setup,
                    start=num(_safe_ratio(first[0], first[-1])),
                    end=num(_safe_ratio(last[0], last[-1])),
                    acc=num(acc, 3),
                )
            )
            if best is None or acc > best[1]:
                best = (setup, acc)
        if best:
            sentences.append(self.t("speed_best", setup=best[0], acc=num(best[1], 3)))
        blocks.append(self.text(*sentences))
        blocks.append(self.figure("learning_speed", grad_b_l=self.nm("grad_b_l")))
        self.section("h_speed", blocks)

    def clipping(self) -> None:
        c = self.data["clipping"]
        u, k = c["runs"]["unclipped"], c["runs"]["clipped"]
        sentences = [
            self.t(
                "clip_setup",
                c=num(c["clip_norm"]),
                hidden=m(c["hidden"]),
                width=m(c["width"]),
                lr=num(c["lr"]),
                lr_speed=num(self.data["learning_speed"]["lr"]),
            )
        ]
        chance = num(c["chance"], 2)
        if u["diverged"]:
            sentences.append(
                self.t(
                    "clip_unclipped_diverged",
                    epoch=m(u["diverged_at"]),
                    acc=num(_last_finite(u["val_accuracy"]), 3),
                    chance=chance,
                )
            )
        else:
            norms = [v if v is not None and math.isfinite(v) else -1 for v in u["grad_norm"]]
            peak = max(range(len(norms)), key=norms.__getitem__)
            sentences.append(
                self.t(
                    "clip_unclipped",
                    peak=num(norms[peak]),
                    peak_epoch=m(peak + 1),
                    dead=pct(u["dead_units"][-1]),
                    acc=num(u["val_accuracy"][-1], 3),
                    chance=chance,
                )
            )
        acc_u, acc_k = _last_finite(u["val_accuracy"]), k["val_accuracy"][-1]
        sentences.append(
            self.t(
                "clip_clipped",
                acc=num(acc_k, 3),
                epochs=m(c["epochs"]),
                dead=pct(k["dead_units"][-1]),
                ref=self.ref("clipping"),
            )
        )
        if not acc_k > (acc_u or 0) + 0.05:
            sentences.append(self.t("clip_failed", acc=num(acc_k, 3), acc_u=num(acc_u, 3)))
        at = c["at_init"]
        sentences.append(
            self.t("clip_init", before=num(at["total_norm_before"]), scale=num(at["scale"]))
        )
        self.section("h_clip", [self.text(*sentences), self.figure("clipping")])

    def l2(self) -> None:
        from .bound import product_value
        from .experiments import total_weight_norm

        r = self.data["l2"]
        sup = sp.sympify(
            self.data["symbolic"]["activation_maxima"][r["activation"]]["sup"]["exact"]
        )

        def bound(run: dict, epoch: int) -> float:
            """The product bound ‖δ^{(1)}‖/‖δ^{(L)}‖ with this epoch's spectral norms."""
            norms = run["spectral"][epoch]
            depth = len(norms)
            slopes = {t: sup for t in range(1, depth)}
            return float(
                product_value(1, depth, slopes, {t: norms[t - 1] for t in range(2, depth + 1)})
            )

        none, reg = r["none"], r["l2"]
        d0 = none["delta"][0]
        acc_n, acc_l = none["val_accuracy"][-1], reg["val_accuracy"][-1]
        sentences = [
            self.t(
                "l2_setup",
                factor=m(sp.latex(Norm(W(l + 1), 2))),
                ref=self.ref("l2"),
                hidden=m(r["hidden"]),
                width=m(r["width"]),
                act=r["activation"],
                init=init_name(r["init"]),
                eqref=rf"\eqref{{{BOUND_LABEL}}}",
                b0=num(bound(none, 0)),
                r0=num(_safe_ratio(d0[0], d0[-1])),
                epochs=m(r["epochs"]),
                lr=num(r["lr"]),
                lam=m(sp.latex(sp.Eq(sp.Symbol("lambda_2"), sp.Float(reg["lambda2"], 2)))),
                w0=num(total_weight_norm(none)[0], 3),
                wn=num(total_weight_norm(none)[-1], 3),
                wl=num(total_weight_norm(reg)[-1], 3),
                bn=num(bound(none, -1)),
                bl=num(bound(reg, -1)),
                acc_n=num(acc_n, 3),
                acc_l=num(acc_l, 3),
            )
        ]
        if not acc_l > acc_n:
            sentences.append(self.t("l2_failed"))
        self.section("h_l2", [self.text(*sentences), self.figure("l2")])

    def batchnorm(self) -> None:
        r = self.data["batchnorm"]
        plain, bn = r["plain"], r["bn"]
        depth = len(plain["W_at_init"])

        def epochs_to(run: dict, level: float):
            """The first epoch whose validation accuracy reaches `level` (None: never)."""
            hit = [e for e, a in zip(run["epoch"], run["val_accuracy"]) if a >= level]
            return hit[0] if hit else None

        acc_p, acc_b = plain["val_accuracy"][-1], bn["val_accuracy"][-1]
        level = round(0.9 * acc_p, 2)  # 90 % of the plain net's final accuracy
        e_p, e_b = epochs_to(plain, level), epochs_to(bn, level)
        sentences = [
            self.t(
                "bn_setup",
                ref=self.ref("batchnorm"),
                hidden=m(r["hidden"]),
                width=m(r["width"]),
                act=r["activation"],
                init=init_name(r["init"]),
                probe=m(r["probe"]),
                last=m(depth - 1),
                rp=num(plain["first_over_last_hidden_W"]),
                rb=num(bn["first_over_last_hidden_W"]),
                op=num(plain["spread_orders_hidden_W"]),
                ob=num(bn["spread_orders_hidden_W"]),
                epochs=m(r["epochs"]),
                lr=num(r["lr"]),
                acc_p=num(acc_p, 3),
                acc_b=num(acc_b, 3),
            )
        ]
        c, w = sp.Symbol("c"), sp.Symbol("W")
        sentences.append(
            self.t(
                "bn_why",
                inv=m(sp.latex(1 / c)),
                w=m(sp.latex(w)),
                cw=m(sp.latex(sp.Mul(c, w, evaluate=False), order="none")),
            )
        )
        if bn["W_at_init"][-1] == max(bn["W_at_init"]):
            sentences.append(self.t("bn_output"))
        if e_b is not None and (e_p is None or e_b < e_p):
            sentences.append(
                self.t("bn_faster", level=num(level), e_p=m(e_p) if e_p else "—", e_b=m(e_b))
            )
        if not acc_b > acc_p:
            sentences.append(self.t("bn_failed"))
        self.section("h_bn", [self.text(*sentences), self.figure("batchnorm")])

    def spec(self) -> None:
        us = self.data["spec"]
        t = us.get("coupled_layers", 0)  # layers 1 … t have no per-sample bound (bn)
        depth = len(next(iter(us["schemes"].values()))["measured_max_ratio"])
        at = t if t < depth else None  # the first layer with a bound (0-based), if any

        def scheme_text(scheme: str, v: dict) -> str:
            if at is None:
                return self.t(
                    "spec_scheme_measured",
                    init=init_name(scheme),
                    measured=num(v["measured_max_ratio"][0]),
                )
            values = {
                "init": init_name(scheme),
                "bound": num(v["bound_delta_l_over_delta_L"][at]),
                "measured": num(v["measured_max_ratio"][at]),
            }
            if at == 0:
                return self.t("spec_scheme", **values)
            return self.t("spec_scheme_at", l=m(at + 1), **values)

        per = [scheme_text(scheme, v) for scheme, v in us["schemes"].items()]
        failed = [init_name(s) for s, v in us["schemes"].items() if not v["bound_holds"]]
        delta_ratio = self.nm("delta_ratio")
        sentences = [
            self.t(
                "spec_setup",
                spec=r"\texttt{"
                + us["spec"].replace("_", r"\_").replace("-", r"-\allowbreak{}")
                + "}",
                ref=self.ref("spec_bound"),
                delta_ratio=delta_ratio,
                samples=m(us["samples"]),
                data=strings(self.lang)["data_digits" if us["data"] == "digits" else "data_random"],
                eqref=rf"\eqref{{{BOUND_LABEL}}}",
            )
        ]
        if us.get("mini_batch"):
            sentences.append(self.t("spec_batch", samples=m(us["samples"])))
            if us.get("dropout"):
                from ..engine.batchnorm import Q, keep_scale

                sentences.append(self.t("spec_dropout", keep=m(sp.latex(keep_scale(Q)))))
            if t == 1:
                sentences.append(self.t("spec_coupled_one"))
            elif t:
                sentences.append(self.t("spec_coupled", t=m(t)))
        sentences += [
            self.t("list_sep").join(per) + self.t("sentence_end"),
            self.t("spec_fails", inits=self.t("name_sep").join(failed))
            if failed
            else self.t("spec_holds_where" if t else "spec_holds"),
        ]
        self.section(
            "h_spec", [self.text(*sentences), self.figure("spec_bound", delta_ratio=delta_ratio)]
        )


def _trend(ratio) -> str:
    if ratio is None or not math.isfinite(ratio):
        return "trend_explode"
    if ratio < 0.1:
        return "trend_vanish"
    return "trend_explode" if ratio > 10 else "trend_flat"


def _safe_ratio(a, b):
    return a / b if a is not None and b else None


def _last_finite(values):
    good = [v for v in values if v is not None and math.isfinite(v)]
    return good[-1] if good else None


def chapter(
    data: dict, *, lang: str = "en", graphics_dir: str, recurrence_label: str = "eq:delta"
) -> dict:
    """The chapter's context: title, intro, sections of blocks, figure labels, LaTeX."""
    from ..render import render

    ch = Chapter(data, lang, graphics_dir, recurrence_label)
    sections = ch.build()
    context = {
        "title": strings(lang)["title"],
        "label": FLOW_LABEL,
        "figure_name": strings(lang)["figure"],
        "intro": fill(lang, "intro", eqref=ch.eqref, l=m(sp.latex(l)), lp1=m(sp.latex(l + 1))),
        "sections": sections,
        "figures": [fig_label(n) for n in ch.figures],
    }
    context["latex"] = render("latex", "flow.tex.jinja", **context)
    return context
