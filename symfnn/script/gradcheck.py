"""`symfnn check`: a generated script's loss and gradients against references that know
nothing of the script.

In float64, at two batch sizes (neither a layer width, so no hard-coded N passes):
(a) the script's `loss` against the risk R evaluated from the spec's definitions
    (`reference.risk`: the rule tables' SymPy definitions through `lambdify`, a plain forward
    pass), and its `forward` against that forward pass;
(b) the script's `gradients` against central differences of that reference risk — the
    comparison core of `runtime/gradcheck.py`, which the script's own `--gradcheck` runs too:
    every coordinate of a small network; for a large one a random subset per parameter,
    random directional derivatives and a Taylor-remainder test, |R(θ + h v) - R(θ) - h ∇R·v|
    shrinking like h² (slope ≈ 2), which cannot pass by accident;
(c) at the smaller batch (at least 2 samples) and on a sample of coordinates, SymPy's
    derivative of the risk written out from the definitions (`verify.brute_force_risk`),
    one coordinate a symbol and every other parameter a 30-digit number, so the cost is a
    forward pass per coordinate at any network size. Its risk is compared with (a)'s too.

A script whose loss and gradients are wrong together (doubled, L2 counted twice, a sum for
a mean, W used transposed) fails (a) and (b). The bands of the relative error follow from
the step h = ε^(1/3): a right float64 gradient agrees to ~1e-10, "good" ends at 100·(h² + ε/h)
≈ 7e-9, "acceptable" at 1e4·(h² + ε/h) ≈ 7e-7; anything worse fails.

Coordinates whose ±h step moves some pre-activation of a kinked layer (ReLU-like) across 0,
or an L1-penalised weight across 0, are reported and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import CheckError, ScriptError, SymfnnError
from . import reference
from .runtime import gradcheck as core

FULL_LIMIT = 200  # parameters: every coordinate up to this, a subset (and directions) above
SUBSET = 24  # coordinates per parameter for large networks
DIRECTIONS = 6
BRUTE_SAMPLE = 2  # coordinates per parameter for SymPy (each costs a forward pass in SymPy)
# SymPy's brute force goes down from the output layer for at most SYMPY_SECONDS of CPU (the
# output layer always), and never to a layer whose written-out risk per coordinate (`cost`:
# forward, tree nodes) is over SYMPY_BUDGET
SYMPY_SECONDS = 4
SYMPY_BUDGET = (60_000, 2_000)
BRUTE_BATCH = 2  # samples of the first batch SymPy writes out (at least 2: the mean matters)
DIGITS = 30  # SymPy's Floats: the float64 point exactly, and room to spare
DTYPE = np.float64
H = core.fd_step(DTYPE)


def verdict(rel: float) -> str:
    return core.fd_verdict(rel, DTYPE)


@dataclass
class Row:
    """One parameter's comparison at one batch size."""

    name: str
    shape: tuple
    batch: int
    checked: int
    skipped: int
    max_abs: float
    rel: float  # vs central differences of the reference risk
    brute_rel: float | None = None  # vs SymPy's brute force (sampled coordinates)
    brute_checked: int = 0

    @property
    def verdict(self) -> str:
        return verdict(max(self.rel, self.brute_rel or 0.0))


@dataclass
class LossRow:
    """The script's risk (and forward pass) against the reference's at one batch size."""

    batch: int
    script: float
    reference: float
    forward_rel: float = 0.0  # worst layer of the script's forward() against the reference's

    @property
    def rel(self) -> float:
        return max(core.relative_error([self.script], [self.reference]), self.forward_rel)

    @property
    def verdict(self) -> str:
        return verdict(self.rel)


@dataclass
class Result:
    """The tables, the Taylor tests and the verdict of `run`."""

    title: str
    rows: list[Row]
    losses: list[LossRow]
    batches: list[int]
    notes: list[str] = field(default_factory=list)
    directional: dict[int, float] = field(default_factory=dict)  # batch -> rel err
    taylor: dict[int, list[tuple[float, float]]] = field(default_factory=dict)  # batch -> (h, r)
    sympy_risk: tuple[float, float] | None = None  # SymPy's data term, the reference's rel err

    @property
    def slopes(self) -> dict[int, float | None]:
        return {n: core.taylor_slope(t) for n, t in self.taylor.items()}

    @property
    def ok(self) -> bool:
        rels = [r.verdict for r in self.rows] + [x.verdict for x in self.losses]
        rels += [verdict(d) for d in self.directional.values()]
        if self.sympy_risk is not None:
            rels.append(verdict(self.sympy_risk[1]))
        if any(v in core.FAILING for v in rels):
            return False
        low, high = core.TAYLOR_SLOPE
        return all(s is not None and low < s < high for s in self.slopes.values())

    def lines(self) -> list[str]:
        out = [self.title, *self.notes[:1]]
        out.append(
            f"{'risk R':6} {'N':>3} {'script':>22} {'reference':>22} {'rel err':>10}"
            f" {'forward':>10}  verdict"
        )
        for x in self.losses:
            out.append(
                f"{'':6} {x.batch:3d} {x.script:22.15e} {x.reference:22.15e}"
                f" {core.relative_error([x.script], [x.reference]):10.3e} {x.forward_rel:10.3e}"
                f"  {x.verdict}"
            )
        brute = any(r.brute_rel is not None for r in self.rows)
        head = (
            f"{'param':6} {'N':>3} {'shape':>9} {'checked':>8} {'kinks':>6} {'max abs err':>12}"
            f" {'rel err':>10}"
        )
        head += f" {'vs SymPy':>10}" if brute else ""
        out.append(head + "  verdict")
        for r in self.rows:
            line = (
                f"{r.name:6} {r.batch:3d} {'x'.join(map(str, r.shape)):>9} {r.checked:8d}"
                f" {r.skipped:6d} {r.max_abs:12.3e} {r.rel:10.3e}"
            )
            if brute:
                line += f" {r.brute_rel:10.3e}" if r.brute_rel is not None else f" {'-':>10}"
            out.append(f"{line}  {r.verdict}")
        for n, d in self.directional.items():
            out.append(f"directional derivatives ({DIRECTIONS} random, N={n}): rel err {d:.3e}")
        for n, remainders in self.taylor.items():
            rem = ", ".join(f"h={h:.1e}: {e:.2e}" for h, e in remainders)
            slope = self.slopes[n]
            tail = f"; slope {slope:.2f} (want ~2)" if slope is not None else ""
            out.append(f"Taylor remainder (N={n}) {rem}{tail}")
        if self.sympy_risk is not None:
            value, rel = self.sympy_risk
            out.append(
                f"SymPy's data term of R = {value:.15e} (the reference's rel err {rel:.1e},"
                f" {verdict(rel)})"
            )
        out += self.notes[1:]
        bands = core.fd_bands(DTYPE)
        out.append(
            f"bands (float64, from h): rel < {bands[0][0]:.1e} good, < {bands[1][0]:.1e}"
            f" acceptable, < {bands[2][0]:.0e} doubtful, else wrong"
        )
        out.append(f"verdict: {'PASSED' if self.ok else 'FAILED'}")
        return out


def _spec_of(module, path) -> object:
    """The spec a script was generated from, re-derived from its SPEC (and checked against
    SPEC's own lists, so a compact text that does not round-trip is caught)."""
    from ..engine.spec import parse

    try:
        info = module.SPEC
        spec = parse(info["compact"], loss=info["loss"], l1=info["l1"], l2=info["l2"])
    except SymfnnError:
        raise
    except Exception as e:  # noqa: BLE001 -- anything in SPEC may be wrong
        raise ScriptError(f"{path}: not a symfnn training script (SPEC: {e})") from None
    stated = {k: info[k] for k in ("widths", "activations", "params") if k in info}
    derived = {
        "widths": list(spec.widths),
        "activations": [layer.activation for layer in spec.layers],
        "params": [layer.param for layer in spec.layers],
    }
    for key, value in stated.items():
        if list(value) != derived[key]:
            raise ScriptError(
                f"{path}: SPEC's compact text {info['compact']!r} gives {key} {derived[key]},"
                f" SPEC says {list(value)}"
            )
    return spec


def run(
    *, spec=None, script: str | Path | None = None, seed: int = 0, sympy: bool = True
) -> Result:
    """Check a spec's freshly generated script, or a script file (possibly user-edited);
    `sympy=False` leaves out (c), SymPy's brute force (seconds on a large network)."""
    from . import codegen

    if (spec is None) == (script is None):
        raise ScriptError("give a spec or a script, not both")
    if script is not None:
        path = Path(script)
        if not path.is_file():
            raise ScriptError(f"no such script: {path}")
        module = codegen.load(path)
        spec = _spec_of(module, path)
        title = f"gradient check of {path} ({spec.describe()})"
    else:
        from ..engine.derive import derive

        d = derive(spec)
        module = codegen.load(d)
        title = f"gradient check of the generated script for {spec.describe()}"
    for name in ("gradients", "loss"):
        if not callable(getattr(module, name, None)):
            raise ScriptError(f"the script has no {name}; is it a symfnn training script?")
    return check(module, spec, seed=seed, title=title, sympy=sympy)


def _parameters(spec, rng) -> dict[str, np.ndarray]:
    """Random float64 parameters of the spec's shapes, biases non-zero, z of a few units.

    Drawn here, not by the script's init_params: the point is the checker's."""
    params = {}
    for l in range(1, spec.depth + 1):
        fan_in, fan_out = spec.widths[l - 1], spec.widths[l]
        params[f"W{l}"] = rng.normal(0.0, 1.0 / np.sqrt(fan_in), (fan_out, fan_in)) + rng.normal(
            0.0, 0.2, (fan_out, fan_in)
        )
        if spec.layers[l - 1].batchnorm:  # γ, β off 1 and 0; running statistics (not trained)
            params[f"gamma{l}"] = rng.normal(1.0, 0.3, fan_out)
            params[f"beta{l}"] = rng.normal(0.0, 0.3, fan_out)
            params[f"mean{l}"] = rng.normal(0.0, 0.3, fan_out)
            params[f"var{l}"] = rng.uniform(0.5, 1.5, fan_out)
        else:
            params[f"b{l}"] = rng.normal(0.0, 0.3, fan_out)
    return params


def _batch(spec, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """n inputs and targets of the loss's kind (one-hot, 0/1 labels or real)."""
    X = rng.normal(0.0, 1.0, (n, spec.widths[0]))
    m = spec.widths[-1]
    if spec.layers[-1].activation == "softmax":
        Y = np.eye(m)[rng.integers(0, m, n)]
    elif spec.loss == "binary_cross_entropy":
        Y = rng.integers(0, 2, (n, m)).astype(np.float64)
    else:
        Y = rng.normal(0.0, 1.0, (n, m))
    return X, Y


def _problem(spec, rng):
    """Parameters, one batch per batch size, and the λ's to check with."""
    params = _parameters(spec, rng)
    batches = [_batch(spec, n, rng) for n in core.batch_sizes(spec.widths)]
    # a penalty too small to see would go unchecked: use at least 0.01
    l1 = max(spec.l1, 0.01) if spec.l1 else None
    l2 = max(spec.l2, 0.01) if spec.l2 else None
    return params, batches, l1, l2


def _kinked(spec) -> list[int]:
    from ..engine import activations

    return [
        l
        for l, layer in enumerate(spec.layers, 1)
        if len(activations.TABLE[layer.activation].pieces) > 1
    ]


def check(
    module, spec, *, seed: int = 0, title: str = "gradient check", sympy: bool = True
) -> Result:
    """(a), (b) and (c) of the module docstring for a loaded script `module` of `spec`."""
    rng = np.random.default_rng(seed)
    params, batches, l1, l2 = _problem(spec, rng)
    kinked = _kinked(spec)
    # bn/dropout (issue 11): the running statistics are not differentiated (kept aside and
    # passed along); each batch is one whole mini-batch, with one fixed dropout mask
    stats = {k: params.pop(k) for k in list(params) if k.startswith(("mean", "var"))}
    masks = {
        len(X): {
            f"Mask{l}": (rng.random((len(X), spec.widths[l])) >= layer.dropout).astype(float)
            for l, layer in enumerate(spec.layers, 1)
            if layer.dropout
        }
        for X, _ in batches
    }
    fixed = (lambda X: {"masks": masks[len(X)]}) if spec.normalised else (lambda X: {})

    def script_gradients(p, X, Y):
        try:
            _, grads = module.gradients(p | stats, X, Y, l1, l2, **fixed(X))
            grads = {k: np.asarray(grads[k], np.float64) for k in p}
        except Exception as e:  # noqa: BLE001 -- an edited script may fail in any way
            raise CheckError(f"the script's gradients failed: {type(e).__name__}: {e}") from None
        for k, g in grads.items():
            if g.shape != p[k].shape:
                raise CheckError(f"the script's gradient {k} is {g.shape}, not {p[k].shape}")
        return grads

    def script_loss(p, X, Y):
        try:
            return float(module.loss(p | stats, X, Y, l1, l2, **fixed(X)))
        except Exception as e:  # noqa: BLE001 -- an edited script may fail in any way
            raise CheckError(f"the script's loss failed: {type(e).__name__}: {e}") from None

    def script_forward(p, X) -> float:
        """The worst relative error of the script's activations a0..aL (predict's too)."""
        if not callable(getattr(module, "forward", None)):
            return 0.0
        try:
            A = [np.asarray(a, np.float64) for a in module.forward(p | stats, X)]
        except Exception as e:  # noqa: BLE001 -- an edited script may fail in any way
            raise CheckError(f"the script's forward failed: {type(e).__name__}: {e}") from None
        _, ref = reference.forward(spec, p | stats, X)  # evaluation mode
        if len(A) != len(ref) or any(a.shape != r.shape for a, r in zip(A, ref)):
            raise CheckError("the script's forward does not return [a0, ..., aL] of the spec")
        return max(core.relative_error(a, r) for a, r in zip(A, ref))

    def risk(p, X, Y):  # the reference: the spec's definitions, not the script
        return reference.risk(spec, p | stats, X, Y, l1 or 0.0, l2 or 0.0, masks.get(len(X)))

    def pattern(p, X):
        Z, _ = reference.forward(spec, p | stats, X, masks.get(len(X)), train=True)
        return [Z[l - 1] > 0 for l in kinked]

    total = sum(p.size for p in params.values())
    full = total <= FULL_LIMIT
    sizes = [len(X) for X, _ in batches]
    result = Result(title, [], [], sizes)
    sweeps = []
    for X, Y in batches:
        result.losses.append(
            LossRow(
                len(X), script_loss(params, X, Y), risk(params, X, Y), script_forward(params, X)
            )
        )
        sweep = core.fd_compare(
            risk,
            script_gradients,
            params,
            X,
            Y,
            coords=None if full else SUBSET,
            pattern=pattern if kinked else None,
            l1=bool(l1),
            rng=rng,
            directions=0 if full else DIRECTIONS,
        )
        sweeps.append(sweep)
        for r in sweep["rows"]:
            result.rows.append(
                Row(
                    r["name"],
                    r["shape"],
                    len(X),
                    r["checked"],
                    r["skipped"],
                    r["max_abs"],
                    r["rel"],
                )
            )
        if sweep["directional"] is not None:
            result.directional[len(X)] = sweep["directional"]
            result.taylor[len(X)] = sweep["taylor"]
    notes = [
        f"{key}{np.unravel_index(i, params[key].shape)} (N={s['N']})"
        for s in sweeps
        for r in s["rows"]
        for key, i in ((r["name"], i) for i in r["skipped_at"])
    ]
    if spec.normalised:
        result.notes.append(
            "bn/dropout: SymPy's brute force of these layers is `symfnn derive SPEC --verify`"
        )
    elif sympy:
        _brute(result, spec, params, batches[0], sweeps[0], l1, l2, script_gradients, rng, total)
    result.notes.insert(
        0,
        f"float64, batches of {' and '.join(map(str, sizes))} samples, reference R from the"
        f" spec's definitions, step h = {H:.1e}·max(1, |θ|)"
        + (f", l1 = {l1}" if l1 else "")
        + (f", l2 = {l2}" if l2 else ""),
    )
    if notes:
        shown = ", ".join(notes[:8]) + (f", ... {len(notes) - 8} more" if len(notes) > 8 else "")
        result.notes.append(f"skipped (the step crosses a kink): {shown}")
    return result


def _brute(result, spec, params, batch, sweep, l1, l2, script_gradients, rng, total) -> None:
    """(c): the script's gradients against SymPy's at sampled coordinates, on the first
    BRUTE_BATCH samples of the first batch (away from kinks: the coordinates come from
    those its finite differences compared), layer by layer from the output down: the
    output layer always (if `affordable`), the layers below for SYMPY_SECONDS of CPU."""
    X, Y = batch[0][:BRUTE_BATCH], batch[1][:BRUTE_BATCH]
    sampled = {}
    for r in sweep["rows"]:
        at = r["at"]
        if len(at) > BRUTE_SAMPLE:
            at = sorted(rng.choice(at, BRUTE_SAMPLE, replace=False).tolist())
        sampled[r["name"]] = at
    partials, coords, value, layers = {}, {}, None, []
    left = float(SYMPY_SECONDS)
    for l in range(spec.depth, 0, -1):
        if not affordable(spec, l, len(X)) or left <= 0:
            break
        layer = {k: sampled[k] for k in (f"W{l}", f"b{l}")}
        try:
            with _cpu_limit(left if layers else None) as clock:
                found, value = brute_force(spec, params, X, Y, l1, l2, layer)
        except TimeoutError:
            break
        if layers:  # the output layer is free: it also pays for SymPy's first calls
            left -= clock.spent
        partials |= found
        coords |= layer
        layers.append(l)
    if not layers:
        result.notes.append(
            "vs SymPy: skipped, even the output layer's written-out risk is over the budget"
            f" ({cost(spec, spec.depth, len(X))} > {SYMPY_BUDGET} nodes: forward, tree)"
        )
        return
    grads = script_gradients(params, X, Y)
    rows = {r.name: r for r in result.rows if r.batch == len(batch[0])}
    for key, at in coords.items():
        got = grads[key].flat[at]
        # relative to the whole gradient's size: a sampled coordinate may be ~0
        scale = max(
            float(np.max(np.abs(grads[key]))), float(np.max(np.abs(partials[key]), initial=0))
        )
        diff = float(np.max(np.abs(got - partials[key]), initial=0.0))
        rows[key].brute_rel = min(diff / max(scale, 1e-12), 1.0)
        rows[key].brute_checked = len(at)
    ref = reference.risk(spec, params, X, Y)  # the data term: λ = 0
    result.sympy_risk = (value, core.relative_error([value], [ref]))
    count = sum(map(len, coords.values()))
    skipped = [l for l in range(1, spec.depth + 1) if l not in layers]
    result.notes.append(
        f"vs SymPy: ∂R/∂θ of verify.brute_force_risk at {count} of {total} coordinates"
        f" ({BRUTE_SAMPLE} sampled per parameter), on the batch's first {len(X)} samples,"
        f" {DIGITS}-digit arithmetic"
        + (
            f"; layers {', '.join(map(str, sorted(skipped)))}: finite differences only (SymPy's"
            f" written-out risk of the network above them takes over {SYMPY_SECONDS:g} s CPU)"
            if skipped
            else ""
        )
    )


class _cpu_limit:
    """Raise TimeoutError after `seconds` of this process's CPU time (SIGPROF: the main
    thread only; None or elsewhere: no limit); `.spent` says how much it used."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds

    def __enter__(self):
        import signal
        import threading
        import time

        self.begun, self.spent = time.process_time(), 0.0
        self.active = self.seconds is not None and (
            threading.current_thread() is threading.main_thread()
        )
        if self.active:

            def fire(*_):
                raise TimeoutError

            self.old = signal.signal(signal.SIGPROF, fire)
            signal.setitimer(signal.ITIMER_PROF, max(self.seconds, 0.01))
        return self

    def __exit__(self, *exc):
        import signal
        import time

        if self.active:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, self.old)
        self.spent = time.process_time() - self.begun
        return False


def _linear(activation: str) -> bool:
    """Every piece of the activation is linear in z (identity, ReLU-like): SymPy folds a sum
    of such units into one term, so the written-out risk does not branch there."""
    import sympy as sp

    from ..engine import activations

    z = activations.z
    pieces = activations.TABLE[activation].pieces
    return all(e.is_polynomial(z) and sp.degree(e, z) <= 1 for e, _, _ in pieces)


def cost(spec, l: int, samples: int) -> tuple[int, int]:
    """(forward, tree): the size of SymPy's written-out risk for one coordinate of layer l.

    brute_force writes out the network from layer l on: its forward pass with numbers (one
    node per weight and sample: cheap, ~30 µs each) and the sub-expressions that hold the
    coordinate (costly, ~1 ms each). Those branch: every unit of a non-linear layer above l
    holds its own copy of what the layer below holds, and SymPy's diff and xreplace walk each
    copy, so the tree grows as the product of those widths (times the outputs, twice for
    softmax's normaliser), for each sample.
    """
    w, L = spec.widths, spec.depth
    forward = sum(w[k] * (w[k - 1] + 1) for k in range(l, L + 1))
    tree = w[L] * (w[L] if spec.layers[-1].activation == "softmax" else 1)
    for k in range(l + 1, L):
        if not _linear(spec.layers[k - 1].activation):
            tree *= w[k]
    return samples * forward, samples * tree


def affordable(spec, l: int, samples: int) -> bool:
    """SymPy can write out the risk for a coordinate of layer l in about a second."""
    forward, tree = cost(spec, l, samples)
    return forward <= SYMPY_BUDGET[0] and tree <= SYMPY_BUDGET[1]


def brute_force(
    spec, params: dict, X: np.ndarray, Y: np.ndarray, l1, l2, coords: dict[str, list[int]]
) -> tuple[dict[str, np.ndarray], float]:
    """SymPy's ∂R/∂θ_i at `coords` ({"W1": [flat indices], ...}), and R's data term.

    The data term (1/N) Σ_n L(y_n, a_n) is written out by `verify.brute_force_risk` from the
    definitions, once per coordinate, with that coordinate a symbol t and every other
    parameter and datum a number, differentiated by t and evaluated at θ_i. For a coordinate
    of layer l only the network from layer l on is written out, fed with the reference's
    float64 activations a_{l-1} of the samples (R depends on the layers below only through
    them; for l = 1 they are the data themselves). The penalty Ω = Σ Ω(w) is a sum over the
    weights one by one, so its part of ∂R/∂w is `diff` of the table's Ω(w) at w alone.
    One coordinate at a time is cheaper than all at once: SymPy's `diff` and `xreplace`
    rebuild every sub-expression that holds a symbol.
    """
    import sympy as sp

    from ..engine import losses
    from ..engine.verify import _Instance, brute_force_risk

    F = lambda v: sp.Float(float(v), DIGITS)  # the float64 value, exactly
    _, A = reference.forward(spec, params, X)
    t = sp.Symbol("t")  # no assumptions: SymPy would ask the sign of every sum it builds
    dOmega = sum(
        sp.diff(losses.REGULARISERS[name].omega.subs(losses.lam, sp.nsimplify(lam)), losses.W)
        for name, lam in (("l1", l1), ("l2", l2))
        if lam
    )

    def instance(l: int, key: str | None = None, i: int = 0) -> _Instance:
        """The network from layer l on, its input a_{l-1}, with entry i of `key` being t."""
        sub = replace(spec, input_width=spec.widths[l - 1], layers=spec.layers[l - 1 :])
        sub = replace(sub, l1=0.0, l2=0.0)
        W, b = [], []
        for k in range(l, spec.depth + 1):
            for stem, out in (("W", W), ("b", b)):
                p = params[f"{stem}{k}"]
                entries = [F(v) for v in p.flat]
                if f"{stem}{k}" == key:
                    entries[i] = t
                out.append(sp.ImmutableMatrix(p.shape[0], p.size // p.shape[0], entries))
        data = [sp.ImmutableMatrix(*M.shape, [F(v) for v in M.flat]) for M in (A[l - 1], Y)]
        return _Instance(sub, *data, W, b)

    partials = {}
    for key, at in coords.items():
        values = []
        for i in at:
            point = {t: F(params[key].flat[i])}
            risk = brute_force_risk(instance(int(key[1:]), key, i), region=point)
            value = sp.diff(risk, t).xreplace(point)
            if key.startswith("W") and dOmega:  # biases are not penalised
                value += sp.sympify(dOmega).xreplace({losses.W: point[t]})
            values.append(float(value))
        partials[key] = np.array(values)
    lowest = min((int(key[1:]) for key in coords), default=spec.depth)
    return partials, float(brute_force_risk(instance(lowest), region={}))
