"""What `analyze` wrote and how it reads: `FlowResult`, the summary, the Markdown report
and the LaTeX chapter (`templates/flow.tex.jinja`), all read from the JSON's data.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .experiments import SCHEME_NAMES, total_weight_norm

TITLE = "Vanishing and exploding gradients"
JSON_NAME, REPORT_NAME = "flow.json", "report.md"
PLOT_NAMES = ("grad_vs_layer", "learning_speed", "clipping", "l2", "batchnorm", "spec_bound")


@dataclass
class FlowResult:
    """What `analyze` wrote: the JSON, the Markdown report, the plots; `data` is the JSON."""

    out_dir: Path
    json_path: Path
    report_path: Path
    plots: list[Path] = field(default_factory=list)
    data: dict = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        return summary_lines(self.data) + [
            f"wrote {self.json_path}, {self.report_path} and {len(self.plots)} plot files"
        ]


def summary_lines(data: dict) -> list[str]:
    art = data["symbolic"]["article"]
    ex = art["exploding"]
    lines = [
        (
            f"σ' ≤ {art['sigmoid_prime_max']['exact']} (at z = {art['sigmoid_prime_argmax']['exact']}); "
            f"|w| < 1 ⇒ |∂C/∂b1| < |∂C/∂b3| · {art['vanishing']['ratio_bound']['exact']}; "
            f"w = {ex['w']['exact']}, z = {ex['z']['exact']} ⇒ factor {ex['factor']['exact']}, "
            f"∂C/∂b1 / ∂C/∂b{art['depth']} = {ex['first_last_power']['exact']} "
            f"= {ex['grad_b1_over_grad_bk']['exact']}; "
            f"P(|w| < 1) = {art['p_abs_w_below_1']['float']:.4f}"
        ),
    ]
    init = data.get("at_init")
    if init:
        for r in init["runs"]:
            if (r["activation"], r["init"]) in (("sigmoid", "normal"), ("relu", "he")):
                lines.append(
                    f"{init['depth']} layers, {r['activation']} {SCHEME_NAMES[r['init']]}: "
                    f"‖∂R/∂W1‖/‖∂R/∂WL‖ = {_fmt(r['first_over_last_W'])}"
                )
    return lines


def _missing(v) -> bool:
    """None (JSON's stand-in for NaN and infinity) or a non-finite number."""
    return v is None or not math.isfinite(v)


def _fmt(v) -> str:
    return "n/a" if _missing(v) else f"{v:.3g}"


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def _e(v) -> str:
    return "n/a" if _missing(v) else f"{v:.2e}"


def report(data: dict) -> str:
    """The Markdown report: tables a person can read without the plots."""
    sym, art = data["symbolic"], data["symbolic"]["article"]
    ch, ex, va = art["chain"], art["exploding"], art["vanishing"]
    k = art["depth"]
    md = [f"# {TITLE}", ""]
    md += [
        (
            f"Settings: {'quick' if data['quick'] else 'full'} run, {data['seconds']:.1f} s. "
            "Every gradient below comes from the generated training code (`symfnn generate`)."
        ),
        "",
    ]
    md += [
        "## Derived (SymPy)",
        "",
        f"Nielsen's chain of {k} one-neuron sigmoid layers, cost C(a_{k}):",
        "",
    ]
    md += [
        (
            f"- ∂C/∂b_1 = `{ch['grad_b1']['exact']}` (equals the article's product: "
            f"{ch['grad_b1_equals_product']}; numeric check with the real σ, max rel. error "
            f"{ch['numeric_check_max_relative_error']:.1e})"
        ),
        (
            f"- ∂C/∂b_1 / ∂C/∂b_3 = `{ch['ratio_b1_over_b3']['exact']}` = "
            f"`{ch['ratio_article']['exact']}` × `{ch['ratio_over_article']['exact']}` "
            "(the article's two factors, times the second, which is 1 when its two arguments are equal)"
        ),
        f"- max σ'(z) = {art['sigmoid_prime_max']['exact']} at z = {art['sigmoid_prime_argmax']['exact']}",
        (
            f"- |w| < 1 ⇒ |w σ'(z)| < {va['factor_bound']['exact']} and "
            f"|∂C/∂b_1| < |∂C/∂b_3| · {va['ratio_bound']['exact']}"
        ),
        (
            f"- w = {ex['w']['exact']}, z = {ex['z']['exact']} (e.g. b_2 = {ex['bias_for_z']['exact']}) ⇒ "
            f"w σ'(z) = {ex['factor']['exact']}; ∂C/∂x / ∂C/∂a_k = {ex['growth_k']['exact']} "
            f"= {ex['growth_depth']['exact']} for k = {k}; ∂C/∂b_1 / ∂C/∂b_k = "
            f"`{ex['quotient_first_last']['exact']}` = {ex['first_last_power']['exact']} = "
            f"{ex['grad_b1_over_grad_bk']['exact']}"
        ),
        (
            f"- P(|w| < 1) for w ~ N(0,1) = `{art['p_abs_w_below_1']['exact']}` ≈ "
            f"{art['p_abs_w_below_1']['float']:.4f}"
        ),
        "",
    ]
    md += _table(
        ["activation", "f'(z)", "sup \\|f'\\|", "at z"],
        [
            [
                n,
                f"`{m['fprime']['exact']}`",
                m["sup"]["exact"],
                (m["at"]["exact"] if m["at"] else "approached only"),
            ]
            for n, m in sym["activation_maxima"].items()
        ],
    )
    sb = sym["spec"]
    md += [
        "",
        f"### Your spec: {sb['spec']}",
        "",
        (
            "Per hidden layer l the error shrinks or grows at most by the largest slope of f_l "
            "times the norm of W^(l+1); that norm is estimated as "
            f"`{sb['norm_estimate']['exact']}` for normal entries of standard deviation s."
        ),
        "",
    ]
    rows = []
    for scheme, v in sb["schemes"].items():
        factors = ", ".join(
            f"{r['factor_bound']['float']:.3g}" if r["factor_bound"] else "bn" for r in v["layers"]
        )
        product = _e(v["product"]["float"]) if v["product"] else "none (bn)"
        rows.append([SCHEME_NAMES[scheme], factors or "–", product])
    md += _table(["init", "factor bound per layer", "product"], rows)
    us = data["spec"]
    if sb.get("normalised_layers"):
        md += [
            "",
            (
                f"Batch-normalised layers {', '.join(map(str, sb['normalised_layers']))}: a "
                "sample's δ there depends on the whole batch's (through the batch mean and "
                "variance), so those layers have no per-sample factor (bn) and the product no "
                "bound."
            ),
        ]
    if sb.get("dropout_layers"):
        md += ["", "A dropout layer's factor includes 1/(1 − q): a kept unit's δ is scaled so."]
    md += [
        "",
        f"Measured on {us['samples']} samples ({us['data']}), with the actual spectral norms:",
    ]
    if us.get("mini_batch"):
        t = us.get("coupled_layers", 0)
        md[-1] += (
            " one mini-batch, in training mode — batch statistics, one dropout mask drawn from "
            "the seed (what a training step and the gradient check see); δ_n^(l) is row n of "
            "the batch's Δ^(l)."
        )
        if t:
            md[-1] += (
                f" Layers 1 … {t} are at or below a normalised layer: no per-sample bound there "
                "(n/a); 'bound holds' is over the layers that have one."
            )
    md.append("")
    md += _table(
        ["init", "max_n ‖δ^(1)‖/‖δ^(L)‖", "bound", "bound holds"],
        [
            [
                SCHEME_NAMES[sc],
                _e(v["measured_max_ratio"][0]),
                _e(v["bound_delta_l_over_delta_L"][0]),
                v["bound_holds"],
            ]
            for sc, v in us["schemes"].items()
        ],
    )
    if us.get("mini_batch"):  # layer by layer: where the bound starts to apply
        schemes = list(us["schemes"])
        md += ["", "Per layer, max_n ‖δ_n^(l)‖/‖δ_n^(L)‖ (bound):", ""]
        md += _table(
            ["l", *(SCHEME_NAMES[sc] for sc in schemes)],
            [
                [
                    str(l + 1),
                    *(
                        f"{_e(us['schemes'][sc]['measured_max_ratio'][l])} "
                        f"({_e(us['schemes'][sc]['bound_delta_l_over_delta_L'][l])})"
                        for sc in schemes
                    ),
                ]
                for l in range(len(us["schemes"][schemes[0]]["measured_max_ratio"]))
            ],
        )
    ai = data["at_init"]
    md += [
        "",
        "## Measured at initialisation",
        "",
        (
            f"{ai['hidden']} hidden layers of {ai['width']} + softmax output, digits ({ai['probe']} samples). "
            "‖∂R/∂b^(l)‖ is the batch-mean δ^(l); rms ‖δ_n^(l)‖ is over the per-sample δ's. "
            "O, the orders spanned, is log10(max_l ‖∂R/∂W^(l)‖ / min_l ‖∂R/∂W^(l)‖)."
        ),
        "",
    ]
    md += _table(
        [
            "activation",
            "init",
            "‖∂R/∂W^(1)‖",
            "‖∂R/∂W^(L)‖",
            "first/last",
            "orders spanned O",
            "‖∂R/∂b^(1)‖",
            "‖∂R/∂b^(L)‖",
            "rms ‖δ_n^(1)‖",
            "rms ‖δ_n^(L)‖",
        ],
        [
            [
                r["activation"],
                SCHEME_NAMES[r["init"]],
                _e(r["W"][0]),
                _e(r["W"][-1]),
                _e(r["first_over_last_W"]),
                _fmt(r["spread_orders_W"]),
                _e(r["delta"][0]),
                _e(r["delta"][-1]),
                _e(r["delta_rms"][0]),
                _e(r["delta_rms"][-1]),
            ]
            for r in ai["runs"]
        ],
    )
    sp_ = data["learning_speed"]
    md += [
        "",
        "## Speed of learning per layer",
        "",
        (
            f"{sp_['hidden']} hidden layers of {sp_['width']}, SGD lr {sp_['lr']:g}, batch {sp_['batch']}; "
            "‖∂R/∂b^(l)‖ at the start and the end, and the validation accuracy."
        ),
        "",
    ]
    rows = []
    for r in sp_["runs"]:
        first, last = r["delta"][0], r["delta"][-1]
        rows.append(
            [
                f"{r['activation']}, {SCHEME_NAMES[r['init']]}",
                " / ".join(_e(v) for v in first),
                " / ".join(_e(v) for v in last),
                f"{r['val_accuracy'][-1]:.3f}",
            ]
        )
    md += _table(
        ["set-up", "epoch 0 (layer 1 / … / L)", f"epoch {sp_['epochs']}", "val accuracy"], rows
    )
    c = data["clipping"]
    md += [
        "",
        "## Remedy: gradient clipping by norm",
        "",
        (
            f"{c['spec']}, {SCHEME_NAMES[c['init']]} weights, SGD at the high lr {c['lr']:g}, "
            f"clip to global norm {c['clip_norm']:g}. "
            f"At init the global gradient norm is {_e(c['at_init']['total_norm_before'])}, "
            f"scaled by {_e(c['at_init']['scale'])} to {_e(c['at_init']['total_norm_after'])}."
        ),
        "",
    ]
    md += _table(
        ["run", "mean ‖∇R‖ per epoch (before clipping)", "val accuracy", "dead units", "diverged"],
        [
            [
                name,
                ", ".join(_fmt(v) for v in r["grad_norm"]),
                _fmt(r["val_accuracy"][-1]),
                f"{r['dead_units'][-1]:.0%}" if r.get("dead_units") else "n/a",
                f"epoch {r['diverged_at']}" if r["diverged"] else "no",
            ]
            for name, r in c["runs"].items()
        ],
    )
    l2 = data["l2"]
    md += ["", "## Remedy: L2", ""]
    md += _table(
        ["λ2", "Σ‖W‖_F² at epoch 0 → end", "val accuracy"],
        [
            [
                f"{l2[n]['lambda2']:g}",
                f"{total_weight_norm(l2[n])[0] ** 2:.1f} → {total_weight_norm(l2[n])[-1] ** 2:.1f}",
                f"{l2[n]['val_accuracy'][-1]:.3f}",
            ]
            for n in ("none", "l2")
        ],
    )
    bn = data.get("batchnorm")
    if bn:
        md += ["", "## Remedy: batch normalisation", ""]
        md += _table(
            ["spec", "‖∂R/∂W^(l)‖_F at init, l = 1 … L", "val accuracy per epoch"],
            [
                [
                    f"`{bn[n]['spec']}`",
                    ", ".join(_e(v) for v in bn[n]["W_at_init"]),
                    ", ".join(_fmt(v) for v in bn[n]["val_accuracy"]),
                ]
                for n in ("plain", "bn")
            ],
        )
    md += ["", "## Remedies side by side", ""]
    md += _table(
        ["set-up", "‖∂R/∂W^(1)‖/‖∂R/∂W^(L)‖ at init", "orders spanned", "val accuracy"],
        [
            [
                r["remedy"],
                _e(r["first_over_last_W"]),
                _fmt(r["spread_orders_W"]),
                _fmt(r["val_accuracy"]),
            ]
            for r in data["remedies"]
        ],
    )
    md += ["", "## Plots", ""] + [f"- `{p}`" for p in data["plots"] if p.endswith(".png")]
    return "\n".join(md) + "\n"


def tex_chapter(
    result_or_json_path: FlowResult | str | Path,
    *,
    lang: str | None = None,
    graphics_dir: str | None = None,
    recurrence_label: str = "eq:delta",
) -> dict:
    """The `--flow` chapter for `symfnn derive --pdf --flow`, as a dict for the document.

    Keys: `title`; `latex`, the chapter body rendered from `templates/flow.tex.jinja` (a
    `\\section` onwards, no preamble; needs amsmath, graphicx, booktabs); `sections`, its
    blocks; `figures`, the figure labels, each referenced in the text; `plots`, the figure
    files as {`path` (as the .tex names it), `file` (where it is)}. `graphics_dir` is how the
    .tex names the folder of the plots: relative to the .tex (e.g. `doc-flow`) so that the
    .tex recompiles on its own; default, the folder's absolute path. `lang` defaults to the
    plots' language; `recurrence_label` is the main derivation's δ recurrence (eq:delta).
    """
    from .chapter import chapter

    if isinstance(result_or_json_path, FlowResult):
        data, path = result_or_json_path.data, result_or_json_path.json_path
    else:
        path = Path(result_or_json_path)
        data = json.loads(path.read_text(encoding="utf-8"))
    folder = Path(path).resolve().parent
    graphics_dir = graphics_dir if graphics_dir is not None else folder.as_posix()
    context = chapter(
        data,
        lang=lang or data.get("lang", "en"),
        graphics_dir=graphics_dir,
        recurrence_label=recurrence_label,
    )
    context["plots"] = [
        {"path": f"{graphics_dir}/{name}.pdf", "file": str(folder / f"{name}.pdf")}
        for name in PLOT_NAMES
    ]
    context["json_path"] = str(Path(path).resolve())
    return context


def place_plots(flow: dict | None, folder: Path) -> None:
    """Copy the chapter's plots to where a .tex compiled in `folder` looks for them."""
    import shutil

    for plot in (flow or {}).get("plots", []):
        target = Path(folder) / plot["path"]
        if Path(plot["path"]).is_absolute() or target.resolve() == Path(plot["file"]).resolve():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(plot["file"], target)
