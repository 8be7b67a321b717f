"""The gradient-flow experiments: what `symfnn analyze` measures, each a function of Settings.

Every gradient comes from `generated(spec)`, the module `symfnn generate` writes, loaded.
The batch-mean error ‖∂R/∂b^{(l)}‖ = ‖(1/N) Σ_n δ_n^{(l)}‖ is the article's (and Nielsen's)
"speed of learning" of layer l; per-sample ‖δ_n^{(l)}‖ comes from batches of one sample.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from functools import cache, lru_cache

import numpy as np

from ..engine.spec import NetworkSpec, parse_compact
from .bound import orders, product_value

ACTIVATIONS = ("sigmoid", "tanh", "relu")
SCHEMES = ("normal", "xavier", "he")
SCHEME_NAMES = {"normal": "N(0,1)", "xavier": "Xavier", "he": "He"}


@dataclass(frozen=True)
class Settings:
    """The size of every experiment; `QUICK` is what `make demo` runs."""

    chain_k: int = 4  # depth of Nielsen's one-neuron chain
    depth: int = 30  # hidden layers of the deep networks measured at initialisation
    width: int = 50
    probe: int = 500  # training samples the at-init norms are measured on
    speed_depth: int = 10  # hidden layers of the learning-speed runs
    speed_width: int = 30
    epochs: int = 30
    lr: float = 0.1
    batch: int = 32
    # Clipping is shown where it matters: ReLU + He trains at lr 0.1 but explodes at lr 2
    # (one step's gradient norm reaches ~1e12 and kills the ReLUs); clipped, it trains.
    # (Clipping cannot rescue an N(0,1) ReLU net: its forward pass already saturates the
    # softmax, so every bounded step is far too small.)
    clip_depth: int = 4
    clip_width: int = 30
    clip_epochs: int = 6
    clip_lr: float = 2.0
    clip_norm: float = 0.5
    l2: float = 1e-2
    l2_depth: int = 6  # tanh with N(0,1) weights: the bound allows explosion
    l2_width: int = 30
    # Batch normalisation: the article's deep sigmoid net with N(0,1) weights, without and
    # with `:bn` on every hidden layer (issue 11).
    bn_depth: int = 5
    bn_width: int = 30
    samples: int = 64  # per-sample δ for the user's spec
    seed: int = 0


FULL = Settings()
QUICK = replace(
    FULL,
    depth=20,
    width=32,
    probe=300,
    speed_depth=4,
    epochs=15,
    samples=32,
)


# -- the generated code --------------------------------------------------------------------


def deep_spec(
    activation: str, depth: int, width: int, l2: float = 0.0, bn: bool = False
) -> NetworkSpec:
    """64 inputs, `depth` hidden layers of `width` units (batch-normalised if `bn`), a
    softmax over the 10 digits."""
    hidden = "-".join([f"{width}:{activation}" + (":bn" if bn else "")] * depth)
    return parse_compact(f"64-{hidden}-10:softmax", l2=l2)


@cache
def generated(spec: NetworkSpec):
    """The module `symfnn generate` would write for `spec`, loaded (cached per spec)."""
    from ..engine.derive import derive
    from ..script import codegen  # lazy: the code generator imports SymPy and Jinja

    return codegen.load(derive(spec))


def _gradients(module, params, X, Y):
    with np.errstate(all="ignore"):  # an exploding run is allowed to overflow
        loss, grads = module.gradients(params, X, Y)
    return float(loss), grads


def per_layer(arrays: dict, name: str, depth: int) -> list[float]:
    """‖arrays[f"{name}{l}"]‖ (Frobenius for matrices) for l = 1 … L."""
    return [float(np.linalg.norm(arrays[f"{name}{l}" if name else l])) for l in range(1, depth + 1)]


def layer_norms(module, params, X, Y, depth: int) -> dict[str, list[float]]:
    """‖∂R/∂b^{(l)}‖ (the batch-mean δ^{(l)}) and ‖∂R/∂W^{(l)}‖_F for l = 1 … L."""
    _, grads = _gradients(module, params, X, Y)
    return _grad_norms(grads, depth)


def _grad_norms(grads: dict, depth: int) -> dict[str, list[float]]:
    # A batch-normalised layer has no b: β takes its place, and ∂R/∂β^{(l)} is the batch-mean
    # error of its output y (∂R/∂b would be 0 there, since the batch mean is subtracted).
    bias = {
        l: grads[f"b{l}"] if f"b{l}" in grads else grads[f"beta{l}"] for l in range(1, depth + 1)
    }
    return {"delta": per_layer(bias, "", depth), "W": per_layer(grads, "W", depth)}


def delta_rms(module, params, X, Y, depth: int) -> list[float]:
    """sqrt(mean_n ‖δ_n^{(l)}‖²): the per-sample errors, from the generated `return_deltas`."""
    with np.errstate(all="ignore"):
        _, _, deltas = module.gradients(params, X, Y, return_deltas=True)
    return [
        float(np.sqrt(np.mean(np.sum(deltas[f"Delta{l}"] ** 2, axis=1))))
        for l in range(1, depth + 1)
    ]


def _params(module, scheme: str, seed: int):
    params = module.init_params(seed=seed, scheme=scheme)
    return {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}


# -- data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Data:
    X: np.ndarray
    Y: np.ndarray  # one-hot
    X_val: np.ndarray
    y_val: np.ndarray


@lru_cache(maxsize=1)
def digits(seed: int = 0) -> Data:
    from ..datasets import load

    d = load("digits", seed)
    Y = np.eye(10)[d["y_train"]]
    return Data(d["X_train"].astype(np.float64), Y, d["X_val"].astype(np.float64), d["y_val"])


# -- experiments ---------------------------------------------------------------------------


def at_init(s: Settings, data: Data, progress) -> dict:
    """Per-layer norms at initialisation for every activation × init scheme."""
    X, Y = data.X[: s.probe], data.Y[: s.probe]
    runs = []
    for act in ACTIVATIONS:
        spec = deep_spec(act, s.depth, s.width)
        module = generated(spec)
        for scheme in SCHEMES:
            params = _params(module, scheme, s.seed)
            norms = layer_norms(module, params, X, Y, spec.depth)
            norms["delta_rms"] = delta_rms(module, params, X, Y, spec.depth)
            d = norms["delta"]
            runs.append(
                {
                    "activation": act,
                    "init": scheme,
                    "spec": spec.compact,
                    **norms,
                    "first_over_last_delta": _ratio(d[0], d[-1]),
                    "first_over_last_W": _ratio(norms["W"][0], norms["W"][-1]),
                    "spread_orders_W": orders(norms["W"]),  # flow.bound.orders_definition
                }
            )
        progress(f"  at init: {act:<7} × {', '.join(SCHEMES)} ({spec.depth} layers)")
    return {
        "depth": s.depth + 1,
        "hidden": s.depth,
        "width": s.width,
        "probe": len(X),
        "runs": runs,
    }


def _ratio(a: float, b: float) -> float | None:
    return a / b if b and math.isfinite(a / b) else None


def train(
    module,
    params: dict,
    data: Data,
    depth: int,
    *,
    epochs: int,
    lr: float,
    batch: int,
    seed: int,
    clip_norm: float | None = None,
    probe: int = 500,
    count_dead: bool = False,
) -> dict:
    """Train with the generated script's own `train` (plain SGD); after every epoch record,
    on a fixed probe batch, the per-layer gradient norms, the weight norms and the accuracy.
    """
    Xp, Yp = data.X[:probe], data.Y[:probe]
    keys = ("epoch", "delta", "W", "weight_norm", "spectral", "loss", "val_accuracy", "dead_units")
    hist = {k: [] for k in keys}

    def record(epoch: int, p: dict) -> bool:
        loss, grads = _gradients(module, p, Xp, Yp)
        norms = _grad_norms(grads, depth)
        hist["epoch"].append(epoch)
        hist["delta"].append(norms["delta"])
        hist["W"].append(norms["W"])
        hist["weight_norm"].append(per_layer(p, "W", depth))
        hist["loss"].append(loss)
        hist["val_accuracy"].append(_accuracy(module, p, data))
        if count_dead:  # a forward pass more per epoch: only where ReLUs can die
            hist["dead_units"].append(dead_units(module, p, Xp))
        # ‖W^{(l)}‖₂, the norms in the bound's factors (flow.bound.factor)
        hist["spectral"].append([_spectral(p[f"W{l}"]) for l in range(1, depth + 1)])
        return False  # never stop early

    record(0, params)
    arrays = {"X_train": data.X, "Y_train": data.Y}
    with np.errstate(all="ignore"):  # an exploding run is allowed to overflow
        history = module.train(
            params,
            arrays,
            epochs=epochs,
            batch_size=batch,
            lr=lr,
            optimizer="sgd",
            seed=seed,
            patience=None,
            diverging=None,  # an exploding run is what some experiments show: run it out
            callback=lambda epoch, p, h: record(len(hist["epoch"]), p),
            log=lambda *a, **k: None,
            clip_norm=clip_norm,
        )
    # The generated `train` stops at a non-finite loss and restores its best weights.
    stopped = str(history.get("stopped", ""))
    bad = [e for e, v in zip(hist["epoch"], hist["loss"]) if not math.isfinite(v)]
    if stopped.startswith("non-finite") and not bad:
        bad = [len(hist["epoch"])]
    return {
        **hist,
        "train_loss": [float(v) for v in history.get("loss", [])],
        "grad_norm": [float(v) for v in history.get("grad_norm", [])],  # mean, before clipping
        "stopped": stopped,
        "diverged": bool(bad),
        "diverged_at": bad[0] if bad else None,
    }


def _spectral(W: np.ndarray) -> float:
    """‖W‖₂; NaN once a diverged run has left non-finite weights (the SVD would fail)."""
    if not np.all(np.isfinite(W)):
        return float("nan")
    try:
        return float(np.linalg.norm(W, 2))
    except np.linalg.LinAlgError:  # seen once on finite weights; a missing point, not a crash
        return float("nan")


def _accuracy(module, params, data: Data) -> float:
    with np.errstate(all="ignore"):
        out = module.forward(params, data.X_val)
    probs = out[-1] if isinstance(out, (list, tuple)) else out
    if not np.all(np.isfinite(probs)):
        return float("nan")
    return float(np.mean(np.argmax(probs, axis=1) == data.y_val))


SPEED_RUNS = (("sigmoid", "normal"), ("sigmoid", "xavier"), ("tanh", "xavier"), ("relu", "he"))


def learning_speed(s: Settings, data: Data, progress) -> dict:
    """Nielsen's figure: ‖∂R/∂b^{(l)}‖ per layer against epoch, for a few set-ups."""
    runs = []
    for act, scheme in SPEED_RUNS:
        spec = deep_spec(act, s.speed_depth, s.speed_width)
        module = generated(spec)
        t = time.perf_counter()
        hist = _sgd_run(s, data, module, spec.depth, scheme)
        runs.append({"activation": act, "init": scheme, "spec": spec.compact, **hist})
        progress(
            f"  learning speed: {act}, {SCHEME_NAMES[scheme]}: {s.epochs} epochs, "
            f"val accuracy {hist['val_accuracy'][-1]:.3f} ({time.perf_counter() - t:.1f} s)"
        )
    return {
        "hidden": s.speed_depth,
        "width": s.speed_width,
        "chance": 1 / data.Y.shape[1],
        "epochs": s.epochs,
        "lr": s.lr,
        "batch": s.batch,
        "runs": runs,
    }


def _sgd_run(s: Settings, data: Data, module, depth: int, scheme: str) -> dict:
    """`train` from a fresh `scheme` init with the settings' SGD (epochs, lr, batch, seed)."""
    params = _params(module, scheme, s.seed)
    return train(
        module,
        params,
        data,
        depth,
        epochs=s.epochs,
        lr=s.lr,
        batch=s.batch,
        seed=s.seed,
        probe=s.probe,
    )


CLIP_RUN = ("relu", "he")  # the set-up of the clipping experiment (see Settings)


def clipping(s: Settings, data: Data, progress) -> dict:
    """A run that explodes at a high learning rate, and the same run with clipping by norm."""
    act, scheme = CLIP_RUN
    spec = deep_spec(act, s.clip_depth, s.clip_width)
    module = generated(spec)
    init = _params(module, scheme, s.seed)
    X, Y = data.X[: s.probe], data.Y[: s.probe]
    _, grads = _gradients(module, init, X, Y)
    total = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
    # Clip a copy with the generated script's own clipping (by value off, then by norm).
    clipped = {k: g.copy() for k, g in grads.items()}
    squares = {k: float(np.vdot(g, g)) for k, g in clipped.items()}
    _clip_of(module)(clipped, squares, None, s.clip_norm)
    after_total = math.sqrt(sum(float(np.sum(g * g)) for g in clipped.values()))
    runs = {}
    for name, clip in (("unclipped", None), ("clipped", s.clip_norm)):
        params = {k: v.copy() for k, v in init.items()}
        runs[name] = train(
            module,
            params,
            data,
            spec.depth,
            epochs=s.clip_epochs,
            lr=s.clip_lr,
            batch=s.batch,
            seed=s.seed,
            clip_norm=clip,
            probe=s.probe,
            count_dead=True,
        )
        r = runs[name]
        peak = max((v for v in r["grad_norm"] if math.isfinite(v)), default=float("nan"))
        progress(
            f"  clipping: {name:<9} largest mean gradient norm {peak:.3g}, "
            f"val accuracy {r['val_accuracy'][-1]:.3f}, dead units {r['dead_units'][-1]:.0%}"
            + (f", diverged by epoch {r['diverged_at']}" if r["diverged"] else "")
        )
    return {
        "spec": spec.compact,
        "activation": act,
        "init": scheme,
        "hidden": s.clip_depth,
        "width": s.clip_width,
        "clip_norm": s.clip_norm,
        "chance": 1 / data.Y.shape[1],
        "lr": s.clip_lr,
        "epochs": s.clip_epochs,
        "at_init": {
            "total_norm_before": total,
            "total_norm_after": after_total,
            "scale": after_total / total if total > 0 else 1.0,
            "W_before": per_layer(grads, "W", spec.depth),
            "W_after": per_layer(clipped, "W", spec.depth),
        },
        "runs": runs,
    }


def _clip_of(module):
    """The generated script's clipping, clip(grads, squares, clip_value, clip_norm)."""
    net = getattr(module, "NET", None)
    return net.clip if net is not None else module._clip


def dead_units(module, params: dict, X: np.ndarray) -> float:
    """The share of hidden units whose activation is 0 on every sample of X (dead ReLUs)."""
    with np.errstate(all="ignore"):
        acts = module.forward(params, X)[1:-1]
    dead = sum(int(np.sum(np.all(~(a > 0), axis=0))) for a in acts)
    return dead / max(1, sum(a.shape[1] for a in acts))


L2_RUN = ("tanh", "normal")  # the set-up of the L2 experiment (see Settings)


def l2_runs(s: Settings, data: Data, progress) -> dict:
    """A network whose bound allows explosion (tanh, N(0,1): every factor ≈ √m_in + √m_out),
    trained without and with the L2 penalty: weight norms, the bound's factors, accuracy."""
    act, scheme = L2_RUN
    out = {}
    for name, lam in (("none", 0.0), ("l2", s.l2)):
        spec = deep_spec(act, s.l2_depth, s.l2_width, l2=lam)
        hist = _sgd_run(s, data, generated(spec), spec.depth, scheme)
        out[name] = {"lambda2": lam, "spec": spec.describe(), **hist}
        progress(
            f"  L2: λ2={lam:g}: total weight norm {total_weight_norm(hist)[0]:.1f} → "
            f"{total_weight_norm(hist)[-1]:.1f}, val accuracy {hist['val_accuracy'][-1]:.3f}"
        )
    return {
        "activation": act,
        "init": scheme,
        "hidden": s.l2_depth,
        "width": s.l2_width,
        "epochs": s.epochs,
        "lr": s.lr,
        **out,
    }


BN_RUN = ("sigmoid", "normal")  # the set-up of the batch-normalisation experiment


def batchnorm_runs(s: Settings, data: Data, progress) -> dict:
    """The deep sigmoid network with N(0,1) weights, without and with batch normalisation on
    every hidden layer: per-layer ‖∂R/∂W^{(l)}‖_F at init on the probe batch, then training."""
    act, scheme = BN_RUN
    X, Y = data.X[: s.probe], data.Y[: s.probe]
    out = {}
    for name, bn in (("plain", False), ("bn", True)):
        spec = deep_spec(act, s.bn_depth, s.bn_width, bn=bn)
        module = generated(spec)
        t = time.perf_counter()
        init = layer_norms(module, _params(module, scheme, s.seed), X, Y, spec.depth)
        hist = _sgd_run(s, data, module, spec.depth, scheme)
        out[name] = {
            "spec": spec.compact,
            "W_at_init": init["W"],
            "first_over_last_W": _ratio(init["W"][0], init["W"][-1]),
            # the output layer has no bn: the hidden layers alone show what bn changes
            "first_over_last_hidden_W": _ratio(init["W"][0], init["W"][-2]),
            "spread_orders_W": orders(init["W"]),
            "spread_orders_hidden_W": orders(init["W"][:-1]),
            **hist,
        }
        progress(
            f"  batch norm: {name:<5} ‖∂R/∂W1‖/‖∂R/∂W{spec.depth - 1}‖ at init "
            f"{out[name]['first_over_last_hidden_W'] or float('nan'):.3g}, val accuracy "
            f"{hist['val_accuracy'][-1]:.3f} ({time.perf_counter() - t:.1f} s)"
        )
    return {
        "activation": act,
        "init": scheme,
        "hidden": s.bn_depth,
        "width": s.bn_width,
        "epochs": s.epochs,
        "lr": s.lr,
        "batch": s.batch,
        "probe": len(X),
        "chance": 1 / data.Y.shape[1],
        **out,
    }


def total_weight_norm(hist: dict) -> list[float]:
    """sqrt(Σ_l ‖W^{(l)}‖_F²) per recorded epoch of a `train` history."""
    return [math.sqrt(sum(w * w for w in row)) for row in hist["weight_norm"]]


def coupled_layers(spec: NetworkSpec) -> int:
    """The deepest batch-normalised layer t (0: none). For l ≤ t a sample's δ^{(l)} depends on
    the whole batch's (through μ and σ² of layer t), so no per-sample bound holds there."""
    return max((l for l, x in enumerate(spec.layers, start=1) if x.batchnorm), default=0)


def keep_scales(spec: NetworkSpec) -> dict[int, float]:
    """Per hidden layer t: 1/(1 − q) for inverted dropout (a kept unit's δ is scaled so), else 1."""
    import sympy as sp

    from ..engine.batchnorm import keep_scale

    return {
        t: float(keep_scale(sp.nsimplify(x.dropout)))
        for t, x in enumerate(spec.layers[:-1], start=1)
    }


def user_spec(spec: NetworkSpec, symbolic: dict, s: Settings, data: Data, progress) -> dict:
    """Per-sample ‖δ_n^{(l)}‖ / ‖δ_n^{(L)}‖ at init vs the derived bound ∏ max|f'| ‖W‖.

    A plain network's samples are independent: each δ_n comes from a batch of one. With
    batch normalisation or dropout the δ_n are the rows of one mini-batch's Δ^{(l)} from the
    generated `gradients(..., return_deltas=True)` in training mode — batch statistics, and
    one dropout mask drawn from the seed (what a training step and the gradient check see);
    a batch of one has no variance to normalise by. A kept unit's δ is scaled by 1/(1 − q),
    which the bound's slope includes; below a normalised layer there is no per-sample bound.
    """
    module = generated(spec)
    if spec.input_width != data.X.shape[1] or spec.layers[-1].width != data.Y.shape[1]:
        X = np.random.default_rng(s.seed).normal(size=(s.samples, spec.input_width))
        Y = np.eye(spec.layers[-1].width)[np.arange(s.samples) % spec.layers[-1].width]
        source = "random inputs (the spec does not fit digits' 64 inputs and 10 classes)"
    else:
        X, Y, source = data.X[: s.samples], data.Y[: s.samples], "digits"
    L = spec.depth
    coupled = coupled_layers(spec)
    scales = keep_scales(spec)
    sup = {k: v["sup"]["float"] for k, v in symbolic["activations"].items()}
    out = {"spec": spec.compact, "data": source, "samples": len(X), "schemes": {}}
    out["mini_batch"] = spec.normalised  # one batch of all the samples, not batches of one
    out["coupled_layers"] = coupled
    out["dropout"] = any(x.dropout for x in spec.layers)
    for scheme in SCHEMES:
        params = _params(module, scheme, s.seed)
        if spec.normalised:
            with np.errstate(all="ignore"):
                _, _, deltas = module.gradients(params, X, Y, seed=s.seed, return_deltas=True)
            per_sample = np.stack(
                [np.linalg.norm(deltas[f"Delta{l}"], axis=1) for l in range(1, L + 1)], axis=1
            )
            last = per_sample[:, -1:]
            with np.errstate(all="ignore"):
                ratios = np.where(last > 0, per_sample / np.where(last > 0, last, 1), np.nan)
        else:
            ratios = np.zeros((len(X), L))
            for n in range(len(X)):
                norms = layer_norms(module, params, X[n : n + 1], Y[n : n + 1], L)["delta"]
                ratios[n] = np.asarray(norms) / norms[-1] if norms[-1] > 0 else np.nan
        spectral = [float(np.linalg.norm(params[f"W{l}"], 2)) for l in range(1, L + 1)]
        slopes = {t: sup[_act_key(spec.layers[t - 1])] * scales[t] for t in range(1, L)}
        factors = [slopes[l] * spectral[l] for l in range(1, L)]
        # the product bound (flow.bound.product, the one the chapter prints), layer by layer;
        # none at or below a normalised layer
        norms = {t: spectral[t - 1] for t in range(2, L + 1)}
        bound = [
            float(product_value(t, L, slopes, norms)) if t > coupled else None
            for t in range(1, L + 1)
        ]
        with np.errstate(all="ignore"):
            measured_max = np.nanmax(ratios, axis=0)
            measured_mean = np.nanmean(ratios, axis=0)
        bounded = [t for t in range(L) if bound[t] is not None]
        rows = symbolic["schemes"][scheme]["layers"]
        out["schemes"][scheme] = {
            "W_spectral_norm": spectral,
            "W_norm_estimate": [None] + [r["W_next_norm_estimate"]["float"] for r in rows],
            "factor_measured_norm": factors,
            "bound_delta_l_over_delta_L": bound,
            "measured_max_ratio": [float(v) for v in measured_max],
            "measured_mean_ratio": [float(v) for v in measured_mean],
            "bound_holds": bool(all(measured_max[t] <= bound[t] * (1 + 1e-9) for t in bounded)),
        }
    how = "one mini-batch, training mode" if spec.normalised else "batches of one"
    progress(f"  your spec {spec.compact}: per-sample δ ratios vs bound, {len(X)} samples ({how})")
    return out


def _act_key(layer) -> str:
    """How flow.symbolic.spec_bounds names an activation with its parameter."""
    return layer.activation if layer.param is None else f"{layer.activation}={layer.param:g}"


def remedies(result: dict) -> list[dict]:
    """Side by side: each remedy's first/last gradient ratio at init and accuracy after training."""
    rows = []
    by = {(r["activation"], r["init"]): r for r in result["at_init"]["runs"]}
    speed = {(r["activation"], r["init"]): r for r in result["learning_speed"]["runs"]}
    for (act, scheme), what in (
        (("sigmoid", "normal"), "baseline: sigmoid, N(0,1)"),
        (("relu", "normal"), "ReLU instead of sigmoid (N(0,1))"),
        (("sigmoid", "xavier"), "fan-in init: sigmoid, Xavier"),
        (("tanh", "xavier"), "tanh, Xavier"),
        (("relu", "he"), "ReLU + fan-in init (He)"),
    ):
        r = by[(act, scheme)]
        s = speed.get((act, scheme))
        rows.append(
            {
                "remedy": what,
                "first_over_last_W": r["first_over_last_W"],
                "spread_orders_W": r["spread_orders_W"],
                "val_accuracy": s["val_accuracy"][-1] if s else None,
            }
        )
    bn = result.get("batchnorm")
    for name, what in (("plain", "sigmoid, N(0,1), no bn"), ("bn", "… with batch normalisation")):
        if bn:
            rows.append(
                {
                    "remedy": what,
                    "first_over_last_W": bn[name]["first_over_last_W"],
                    "spread_orders_W": bn[name]["spread_orders_W"],
                    "val_accuracy": bn[name]["val_accuracy"][-1],
                }
            )
    clip = result["clipping"]["runs"]
    for name, what in (
        ("unclipped", "ReLU, He, high learning rate, no clipping"),
        ("clipped", "… with clipping by norm"),
    ):
        rows.append(
            {
                "remedy": what,
                "first_over_last_W": None,
                "spread_orders_W": None,
                "val_accuracy": clip[name]["val_accuracy"][-1],
                "diverged": clip[name]["diverged"],
            }
        )
    return rows
