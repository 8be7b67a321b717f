"""The gradient-flow plots, drawn with matplotlib's Agg backend, each as PNG and PDF.

Every figure has labelled axes, a logarithmic scale where norms span orders of magnitude,
and a legend; names follow `flow_report.PLOT_NAMES`. Imported only when plots are drawn.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

INIT_STYLE = {
    "normal": ("N(0,1)", "tab:red", "o"),
    "xavier": ("Xavier", "tab:blue", "s"),
    "he": ("He", "tab:green", "^"),
}
plt.rcParams.update({"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3, "font.size": 9})


def _save(fig, out: Path, name: str) -> list[Path]:
    for ax in fig.axes:  # layers and epochs are whole numbers
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
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


def grad_vs_layer(result: dict, out: Path) -> list[Path]:
    """Per-layer ‖∂R/∂b‖ and ‖∂R/∂W‖ at init: one column per activation, a line per init."""
    init = result["at_init"]
    acts = list(dict.fromkeys(r["activation"] for r in init["runs"]))
    fig, axes = plt.subplots(2, len(acts), figsize=(4 * len(acts), 6.4), sharex=True)
    for col, act in enumerate(acts):
        for r in (r for r in init["runs"] if r["activation"] == act):
            label, color, marker = INIT_STYLE[r["init"]]
            layers = np.arange(1, len(r["W"]) + 1)
            for row, key in enumerate(("delta", "W")):
                axes[row, col].semilogy(
                    layers, _values(r[key]), marker=marker, ms=3, color=color, label=label
                )
        axes[0, col].set_title(f"{act}: {init['hidden']} hidden layers of {init['width']}")
        axes[0, col].set_ylabel(r"$\|\partial R/\partial b^{(l)}\|$ (batch-mean $\delta^{(l)}$)")
        axes[1, col].set_ylabel(r"$\|\partial R/\partial W^{(l)}\|_F$")
        axes[1, col].set_xlabel("layer $l$ (1 = first hidden, L = output)")
        axes[0, col].legend(title="initialisation")
    fig.suptitle(f"Gradient norm per layer at initialisation (digits, {init['probe']} samples)")
    return _save(fig, out, "grad_vs_layer")


def learning_speed(result: dict, out: Path) -> list[Path]:
    """Nielsen's figure: per-layer ‖∂R/∂b^{(l)}‖ against epoch, one panel per set-up."""
    speed = result["learning_speed"]
    runs = speed["runs"]
    fig, axes = plt.subplots(1, len(runs), figsize=(3.6 * len(runs), 3.8), sharey=True)
    for ax, r in zip(np.atleast_1d(axes), runs):
        d = np.array([_values(row) for row in r["delta"]])
        colors = plt.cm.viridis(np.linspace(0, 0.9, d.shape[1]))
        for l in range(d.shape[1]):
            ax.semilogy(r["epoch"], d[:, l], color=colors[l], label=f"layer {l + 1}")
        acc = r["val_accuracy"][-1]
        ax.set_title(f"{r['activation']}, {INIT_STYLE[r['init']][0]} (val acc {acc:.2f})")
        ax.set_xlabel("epoch")
    np.atleast_1d(axes)[0].set_ylabel(r"$\|\partial R/\partial b^{(l)}\|$ (speed of learning)")
    np.atleast_1d(axes)[-1].legend(fontsize=7, ncol=1 + d.shape[1] // 8, loc="best")
    fig.suptitle(
        f"Speed of learning per layer: {speed['hidden']} hidden layers of {speed['width']}, "
        f"SGD lr {speed['lr']:g}, batch {speed['batch']}"
    )
    return _save(fig, out, "learning_speed")


def clipping(result: dict, out: Path) -> list[Path]:
    """Left: per-layer gradient before/after clipping; right: the runs with and without it."""
    c = result["clipping"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.9))
    layers = np.arange(1, len(c["at_init"]["W_before"]) + 1)
    left.semilogy(layers, c["at_init"]["W_before"], "o-", color="tab:red", label="before clipping")
    left.semilogy(
        layers,
        c["at_init"]["W_after"],
        "s-",
        color="tab:blue",
        label=f"after clipping to global norm {c['clip_norm']:g}",
    )
    left.set_xlabel("layer $l$")
    left.set_ylabel(r"$\|\partial R/\partial W^{(l)}\|_F$ at initialisation")
    left.set_title(f"ReLU, N(0,1): {c['spec'].count(':relu')} hidden layers")
    left.legend()
    for name, color in (("unclipped", "tab:red"), ("clipped", "tab:blue")):
        r = c["runs"][name]
        loss = _values(r["loss"])
        right.plot(
            r["epoch"],
            np.where(np.isfinite(loss), loss, np.nan),
            "o-",
            color=color,
            label=name,
            ms=9 if name == "unclipped" else 5,
        )
        if r["diverged"]:
            right.axvline(
                r["diverged_at"],
                color=color,
                ls=":",
                label=f"{name}: loss non-finite at epoch {r['diverged_at']}, stopped",
            )
    right.set_xlabel("epoch")
    right.set_ylabel("risk R on the probe batch")
    right.set_title(f"Training with the generated train(), SGD lr {c['lr']:g}")
    right.legend()
    return _save(fig, out, "clipping")


def l2(result: dict, out: Path) -> list[Path]:
    """‖W^{(l)}‖_F per layer over training, without (solid) and with (dashed) L2."""
    r = result["l2"]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    w0 = np.array(r["none"]["weight_norm"])
    colors = plt.cm.viridis(np.linspace(0, 0.9, w0.shape[1]))
    for name, ls in (("none", "-"), ("l2", "--")):
        w = np.array(r[name]["weight_norm"])
        for l in range(w.shape[1]):
            ax.plot(
                r[name]["epoch"],
                w[:, l],
                ls,
                color=colors[l],
                label=f"layer {l + 1}" if name == "none" else None,
            )
    ax.plot([], [], "k-", label=r"$\lambda_2 = 0$")
    ax.plot([], [], "k--", label=rf"$\lambda_2 = {r['l2']['lambda2']:g}$")
    ax.set_xlabel("epoch")
    ax.set_ylabel(r"$\|W^{(l)}\|_F$ (Frobenius norm)")
    ax.set_title(f"L2 keeps the weights small ({r['activation']}, {INIT_STYLE[r['init']][0]} init)")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, out, "l2")


def spec_bound(result: dict, out: Path) -> list[Path]:
    """The user's spec: per-sample ‖δ^{(l)}‖/‖δ^{(L)}‖ (max over samples) vs the bound."""
    s = result["spec"]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for scheme, row in s["schemes"].items():
        label, color, marker = INIT_STYLE[scheme]
        layers = np.arange(1, len(row["measured_max_ratio"]) + 1)
        ax.semilogy(
            layers,
            _values(row["measured_max_ratio"]),
            marker=marker,
            color=color,
            label=f"{label}: measured (max over samples)",
        )
        ax.semilogy(
            layers,
            _values(row["bound_delta_l_over_delta_L"]),
            "--",
            color=color,
            label=rf"{label}: bound $\prod \max|f'|\,\|W\|_2$",
        )
    ax.set_xlabel("layer $l$")
    ax.set_ylabel(r"$\|\delta^{(l)}\| / \|\delta^{(L)}\|$ per sample")
    ax.set_title(f"{s['spec']}\n({s['samples']} samples, {s['data'].split(' (')[0]})", fontsize=8)
    ax.legend(fontsize=7)
    return _save(fig, out, "spec_bound")


def draw_all(result: dict, out: Path) -> list[Path]:
    paths = []
    for draw in (grad_vs_layer, learning_speed, clipping, l2, spec_bound):
        paths += draw(result, Path(out))
    return paths
