"""The gradient-flow plots, drawn with matplotlib's Agg backend, each as PNG and PDF.

Every figure is drawn at the width the chapter includes it at (`WIDTH_IN`, scale 1), with
no text below `MIN_POINTS`, so what is printed is legible; `draw_all` measures the smallest
text of each figure and returns it with the paths. Labels come from `flow.prose` in the
document's language (Chinese needs a CJK font; `cjk_font` finds one). Names follow
`flow.report.PLOT_NAMES`. Imported only when plots are drawn.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from .prose import strings

WIDTH_IN = 5.8  # the width the chapter includes every figure at (≈ 14.7 cm, inside A4 margins)
MIN_POINTS = 8.0  # the smallest text allowed at that width
INIT_STYLE = {
    "normal": ("N(0,1)", "tab:red", "o"),
    "xavier": ("Xavier", "tab:blue", "s"),
    "he": ("He", "tab:green", "^"),
}
STYLE = {
    "figure.dpi": 120,
    "savefig.dpi": 120,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "figure.titlesize": 9,
    "lines.markersize": 4,
    "pdf.fonttype": 42,  # TrueType in the PDF: no Type 3 fonts
}
# Fonts with Chinese glyphs, best first; Debian: fonts-noto-cjk, latex-cjk-chinese-arphic-*.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "AR PL UMing CN",
    "AR PL SungtiL GB",
    "AR PL KaitiM GB",
)


# Their files, for a font cache built before they were installed.
CJK_FILES = (
    "NotoSansCJK",
    "NotoSerifCJK",
    "SourceHanSans",
    "wqy-",
    "uming",
    "gbsn00lp",
    "gkai00mp",
)


def cjk_font() -> str | None:
    """The first installed font of CJK_FONTS (TrueType: matplotlib embeds it cleanly as
    Type 42), else TeX Live's Fandol, else None."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    found = next((n for n in CJK_FONTS if n in names), None)
    if found is None:
        for path in font_manager.findSystemFonts():
            if any(part in Path(path).name for part in CJK_FILES) and path.endswith(
                (".ttf", ".ttc")
            ):
                font_manager.fontManager.addfont(path)
        names = {f.name for f in font_manager.fontManager.ttflist}
        found = next((n for n in CJK_FONTS if n in names), None)
    return found or _fandol()


def _fandol() -> str | None:
    """The Chinese document's own font (TeX Live's Fandol, OpenType CFF): the last resort."""
    import shutil
    import subprocess

    if shutil.which("kpsewhich") is None:
        return None
    found = subprocess.run(
        ["kpsewhich", "FandolSong-Regular.otf"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not found:
        return None
    font_manager.fontManager.addfont(found)
    return font_manager.FontProperties(fname=found).get_name()


def _quiet_font_subsetting() -> None:
    """fontTools warns about harmless table quirks of some CJK fonts while embedding them."""
    import logging

    logging.getLogger("fontTools").setLevel(logging.ERROR)


def _style(lang: str) -> tuple[dict, str]:
    """matplotlib's settings, and the language the labels can be drawn in (English when
    no Chinese font is installed)."""
    style = dict(STYLE)
    if lang == "zh":
        font = cjk_font()
        if font is None:
            return style, "en"
        style["font.family"] = ["DejaVu Sans", font]  # Latin and math from DejaVu
        _quiet_font_subsetting()
        style["axes.unicode_minus"] = False
    return style, lang


def smallest_text(fig) -> float:
    """The smallest font size (points) of any visible, non-empty text of the figure."""
    sizes = [
        t.get_fontsize()
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_figure() is fig
    ]
    return min(sizes) if sizes else float("inf")


def _save(fig, out: Path, name: str, sizes: dict, rect=(0, 0, 1, 1)) -> list[Path]:
    """Lay out (inside `rect`, leaving room for a figure legend), measure, write PNG and PDF."""
    for ax in fig.axes:  # layers and epochs are whole numbers
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.set_size_inches(WIDTH_IN, fig.get_size_inches()[1])
    fig.tight_layout(rect=rect)
    inches = [float(x) for x in fig.get_size_inches()]
    sizes[name] = {"min_points": smallest_text(fig), "inches": inches}
    paths = []
    for ext in ("png", "pdf"):
        path = out / f"{name}.{ext}"
        tmp = out / f".{name}.tmp.{ext}"
        fig.savefig(tmp, format=ext)
        tmp.replace(path)  # atomic, like fileio.write_atomic
        paths.append(path)
    plt.close(fig)
    return paths


def _values(v):
    return np.array([np.nan if x is None else x for x in v], dtype=float)


def _layer_colors(n: int):
    return plt.cm.viridis(np.linspace(0, 0.9, n))


def grad_vs_layer(result: dict, out: Path, w: dict, sizes: dict) -> list[Path]:
    """Per-layer ‖∂R/∂b‖ and ‖∂R/∂W‖ at init: one column per activation, a line per init."""
    init = result["at_init"]
    acts = list(dict.fromkeys(r["activation"] for r in init["runs"]))
    fig, axes = plt.subplots(2, len(acts), figsize=(WIDTH_IN, 4.2), sharex=True)
    for col, act in enumerate(acts):
        for r in (r for r in init["runs"] if r["activation"] == act):
            label, color, marker = INIT_STYLE[r["init"]]
            layers = np.arange(1, len(r["W"]) + 1)
            for row, key in enumerate(("delta", "W")):
                axes[row, col].semilogy(
                    layers, _values(r[key]), marker=marker, ms=3, color=color, label=label
                )
        axes[0, col].set_title(act)
        axes[1, col].set_xlabel(w["p_layer"])
    axes[0, 0].set_ylabel(r"$\|\partial R/\partial b^{(l)}\|$")
    axes[1, 0].set_ylabel(r"$\|\partial R/\partial W^{(l)}\|_F$")
    axes[0, 0].legend(title=w["p_init"])
    return _save(fig, out, "grad_vs_layer", sizes)


def learning_speed(result: dict, out: Path, w: dict, sizes: dict) -> list[Path]:
    """Nielsen's figure: per-layer ‖∂R/∂b^{(l)}‖ against epoch, one panel per set-up."""
    runs = result["learning_speed"]["runs"]
    cols = 2
    rows = -(-len(runs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH_IN, 2.0 * rows + 0.6), sharex=True)
    axes = np.atleast_1d(axes).ravel()
    for ax, r in zip(axes, runs):
        d = np.array([_values(row) for row in r["delta"]])
        colors = _layer_colors(d.shape[1])
        for l in range(d.shape[1]):
            ax.semilogy(r["epoch"], d[:, l], color=colors[l], label=f"{l + 1}")
        acc = r["val_accuracy"][-1]
        ax.set_title(f"{r['activation']}, {INIT_STYLE[r['init']][0]} ({w['p_acc']} {acc:.2f})")
    for ax in axes[len(runs) :]:
        ax.set_visible(False)
    for ax in axes[-cols:]:
        ax.set_xlabel(w["p_epoch"])
    for ax in axes[::cols]:
        ax.set_ylabel(r"$\|\partial R/\partial b^{(l)}\|$")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        title=w["p_layer"],
        loc="lower center",
        ncol=min(len(labels), 11),
        frameon=False,
    )
    return _save(fig, out, "learning_speed", sizes, rect=(0, 0.12, 1, 1))


def clipping(result: dict, out: Path, w: dict, sizes: dict) -> list[Path]:
    """Left: mean gradient norm per epoch (before clipping); right: validation accuracy."""
    c = result["clipping"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH_IN, 2.6))
    for name, color, marker in (("unclipped", "tab:red", "o"), ("clipped", "tab:blue", "s")):
        r = c["runs"][name]
        norms = _values(r["grad_norm"])
        epochs = np.arange(1, len(norms) + 1)
        left.semilogy(epochs, np.where(norms > 0, norms, np.nan), marker=marker, color=color)
        right.plot(r["epoch"], _values(r["val_accuracy"]), marker=marker, color=color)
        right.plot([], [], marker=marker, color=color, label=w[f"p_{name}"])
    left.axhline(c["clip_norm"], color="0.3", ls="--", lw=1, label=w["p_threshold"])
    left.set_xlabel(w["p_epoch"])
    left.set_ylabel(w["p_grad_mean"])
    left.legend(loc="upper right")
    _accuracy(right, c["chance"], w, "center right")
    return _save(fig, out, "clipping", sizes)


def _accuracy(ax, chance: float, w: dict, where: str) -> None:
    """A panel of validation accuracy by epoch: chance level dotted, 0 to 1, labelled."""
    ax.axhline(chance, color="0.3", ls=":", lw=1, label=w["p_chance"])
    ax.set_ylim(0, 1)
    ax.set_xlabel(w["p_epoch"])
    ax.set_ylabel(w["p_val_acc"])
    ax.legend(loc=where)


def l2(result: dict, out: Path, w: dict, sizes: dict) -> list[Path]:
    """Total weight norm (left) and validation accuracy (right), without and with L2."""
    from .experiments import total_weight_norm

    r = result["l2"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH_IN, 2.6))
    for name, color, marker in (("none", "tab:red", "o"), ("l2", "tab:blue", "s")):
        lam = rf"$\lambda_2 = {r[name]['lambda2']:g}$"
        left.plot(r[name]["epoch"], total_weight_norm(r[name]), marker=marker, color=color)
        right.plot(r[name]["epoch"], _values(r[name]["val_accuracy"]), marker=marker, color=color)
        right.plot([], [], marker=marker, color=color, label=lam)
    left.set_xlabel(w["p_epoch"])
    left.set_ylabel(r"$(\sum_l \|W^{(l)}\|_F^2)^{1/2}$")
    _accuracy(right, result["learning_speed"]["chance"], w, "upper left")
    return _save(fig, out, "l2", sizes)


def batchnorm(result: dict, out: Path, w: dict, sizes: dict) -> list[Path]:
    """Per-layer ‖∂R/∂W^{(l)}‖_F at init (left) and validation accuracy (right), without
    and with batch normalisation."""
    r = result["batchnorm"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH_IN, 2.6))
    for name, color, marker in (("plain", "tab:red", "o"), ("bn", "tab:blue", "s")):
        norms = _values(r[name]["W_at_init"])
        left.semilogy(np.arange(1, len(norms) + 1), norms, marker=marker, color=color)
        right.plot(r[name]["epoch"], _values(r[name]["val_accuracy"]), marker=marker, color=color)
        right.plot([], [], marker=marker, color=color, label=w[f"p_bn_{name}"])
    left.set_xlabel(w["p_layer"])
    left.set_ylabel(r"$\|\partial R/\partial W^{(l)}\|_F$")
    left.set_title(w["p_at_init"])
    _accuracy(right, r["chance"], w, "lower right")
    return _save(fig, out, "batchnorm", sizes)


def spec_bound(result: dict, out: Path, w: dict, sizes: dict) -> list[Path]:
    """The user's spec: per-sample ‖δ^{(l)}‖/‖δ^{(L)}‖ (max over samples) vs the bound."""
    s = result["spec"]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 2.6))
    for scheme, row in s["schemes"].items():
        label, color, marker = INIT_STYLE[scheme]
        layers = np.arange(1, len(row["measured_max_ratio"]) + 1)
        ax.semilogy(
            layers,
            _values(row["measured_max_ratio"]),
            marker=marker,
            ls="none",
            color=color,
            label=f"{label}: {w['p_measured']}",
        )
        ax.semilogy(
            layers,
            _values(row["bound_delta_l_over_delta_L"]),
            "--",
            color=color,
            label=f"{label}: {w['p_bound']}",
        )
    ax.set_xlabel(w["p_layer"])
    ax.set_ylabel(r"$\|\delta^{(l)}\| / \|\delta^{(L)}\|$")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, out, "spec_bound", sizes)


DRAW = (grad_vs_layer, learning_speed, clipping, l2, batchnorm, spec_bound)


def draw_all(result: dict, out: Path, lang: str = "en") -> tuple[list[Path], dict]:
    """Every plot in `out`; returns the paths and, per plot, its smallest text, its size and
    the language of its labels."""
    style, drawn = _style(lang)
    words, sizes, paths = strings(drawn), {}, []
    with plt.rc_context(style):
        for draw in DRAW:
            paths += draw(result, Path(out), words, sizes)
    for text in sizes.values():
        text["lang"] = drawn
    return paths, sizes
