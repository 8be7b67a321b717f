"""`symfnn check`: a generated script's gradients against two independent references.

In float64 on a small random batch: (a) the script's `gradients`, (b) central finite
differences of the script's own `loss` (step scaled to float64's ε^(1/3)), and (c) for
small networks, SymPy's derivatives of the brute-force loss from the proof's machinery
(`verify.brute_force_risk`), which knows nothing of the recurrence. Small networks are
checked at every coordinate; large ones at a random subset per parameter, along random
directions, and by a Taylor-remainder test: |R(θ + h v) - R(θ) - h ∇R·v| must shrink like
h² (slope ≈ 2 on a log-log scale) — a test that cannot pass by accident.

Coordinates whose ±h perturbation moves some pre-activation of a kinked layer (ReLU-like)
across 0, or an L1-penalised weight across 0, are reported and skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import CheckError, ScriptError, SymfnnError

FULL_LIMIT = 400  # parameters: every coordinate below this, a subset above
SUBSET = 24  # coordinates per parameter for large networks
DIRECTIONS = 6
BRUTE_LIMIT = 60  # parameters: SymPy brute force (on one sample) up to this
SAMPLES = 3
H = np.finfo(np.float64).eps ** (1 / 3)  # central differences: error O(h²) + O(ε/h)

# relative error bands (CS231n's usual ones); doubtful and wrong fail the check
BANDS = ((1e-7, "good"), (1e-4, "acceptable"), (1e-2, "doubtful"), (math.inf, "wrong"))
FAILING = ("doubtful", "wrong")


def verdict(rel: float) -> str:
    return next(name for bound, name in BANDS if rel < bound)


def relative(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a| + |b|), guarded for all-zero gradients."""
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(a) + np.abs(b))), 1e-12))


@dataclass
class Row:
    """One parameter's comparison."""

    name: str
    shape: tuple
    checked: int
    skipped: int
    max_abs: float
    rel: float
    brute_rel: float | None = None  # vs SymPy's brute force on the batch's first sample

    @property
    def verdict(self) -> str:
        worst = max(self.rel, self.brute_rel or 0.0)
        return verdict(worst)


@dataclass
class Result:
    """The table, the Taylor test and the verdict of `run`."""

    title: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    taylor: list[tuple[float, float]] = field(default_factory=list)  # (h, remainder)
    directional: float | None = None

    @property
    def slope(self) -> float | None:
        if len(self.taylor) < 2:
            return None
        hs, es = zip(*self.taylor)
        if min(es) <= 0:
            return None
        return float(np.polyfit(np.log(hs), np.log(es), 1)[0])

    @property
    def ok(self) -> bool:
        if any(r.verdict in FAILING for r in self.rows):
            return False
        if self.directional is not None and verdict(self.directional) in FAILING:
            return False
        return not self.taylor or (self.slope is not None and 1.8 < self.slope < 2.5)

    def lines(self) -> list[str]:
        brute = any(r.brute_rel is not None for r in self.rows)
        head = f"{'param':6} {'shape':>10} {'checked':>8} {'kinks':>6} {'max abs err':>12} {'rel err':>10}"
        head += f" {'vs SymPy':>10}" if brute else ""
        out = [self.title, head + f"  {'verdict'}"]
        for r in self.rows:
            line = (
                f"{r.name:6} {'x'.join(map(str, r.shape)):>10} {r.checked:8d} {r.skipped:6d} "
                f"{r.max_abs:12.3e} {r.rel:10.3e}"
            )
            if brute:
                line += f" {r.brute_rel:10.3e}" if r.brute_rel is not None else f" {'-':>10}"
            out.append(f"{line}  {r.verdict}")
        if self.directional is not None:
            out.append(
                f"directional derivatives ({DIRECTIONS} random): rel err {self.directional:.3e}"
            )
        if self.taylor:
            rem = ", ".join(f"h={h:.1e}: {e:.2e}" for h, e in self.taylor)
            slope = self.slope
            out.append(
                f"Taylor remainder {rem}; slope {slope:.2f} (want ~2)"
                if slope
                else f"Taylor remainder {rem}"
            )
        out += self.notes
        out.append("bands: rel < 1e-7 good, < 1e-4 acceptable, < 1e-2 doubtful, else wrong")
        out.append(f"verdict: {'PASSED' if self.ok else 'FAILED'}")
        return out


def _spec_of(module, path) -> object:
    from .spec import parse

    try:
        info = module.SPEC
        return parse(info["compact"], loss=info["loss"], l1=info["l1"], l2=info["l2"])
    except SymfnnError:
        raise
    except Exception as e:  # noqa: BLE001 -- anything in SPEC may be wrong
        raise ScriptError(f"{path}: not a symfnn training script (SPEC: {e})") from None


def run(*, spec=None, script: str | Path | None = None, seed: int = 0) -> Result:
    """Check a spec's freshly generated script, or a script file (possibly user-edited)."""
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
        from .derive import derive

        module = codegen.load(derive(spec))
        title = f"gradient check of the generated script for {spec.describe()}"
    for name in ("init_params", "gradients", "loss", "forward", "WIDTHS"):
        if not hasattr(module, name):
            raise ScriptError(f"the script has no {name}; is it a symfnn training script?")
    return _check(module, spec, seed, title)


def _problem(module, spec, rng):
    """float64 parameters (biases non-zero), a batch, and the λ's to check with."""
    params = module.init_params(seed=int(rng.integers(1 << 31)), scheme="xavier", dtype=np.float64)
    for k, p in params.items():
        p += rng.normal(0.0, 0.3 if k.startswith("b") else 0.2, p.shape)
    X = rng.normal(0.0, 1.0, (SAMPLES, spec.widths[0]))
    m = spec.widths[-1]
    if spec.layers[-1].activation == "softmax":
        Y = np.eye(m)[rng.integers(0, m, SAMPLES)]
    elif spec.loss == "binary_cross_entropy":
        Y = rng.integers(0, 2, (SAMPLES, m)).astype(np.float64)
    else:
        Y = rng.normal(0.0, 1.0, (SAMPLES, m))
    # a penalty too small to see would go unchecked: use at least 0.01
    l1 = max(spec.l1, 0.01) if spec.l1 else None
    l2 = max(spec.l2, 0.01) if spec.l2 else None
    return params, X, Y, l1, l2


def _kinked(spec) -> list[int]:
    from . import activations

    return [
        l
        for l, layer in enumerate(spec.layers, 1)
        if len(activations.TABLE[layer.activation].pieces) > 1
    ]


def _check(module, spec, seed: int, title: str) -> Result:
    rng = np.random.default_rng(seed)
    params, X, Y, l1, l2 = _problem(module, spec, rng)
    try:
        _, grads = module.gradients(params, X, Y, l1, l2)
        R = lambda: float(module.loss(params, X, Y, l1, l2))
        R()
    except Exception as e:  # noqa: BLE001 -- an edited script may fail in any way
        raise CheckError(f"the script's gradients/loss failed: {type(e).__name__}: {e}") from None
    kinked = _kinked(spec)

    def pattern():
        A = module.forward(params, X)
        return [A[l] > 0 for l in kinked]

    def crosses(key, i, h) -> bool:
        p = params[key]
        if l1 and key.startswith("W") and abs(p.flat[i]) <= h:
            return True
        if not kinked:
            return False
        up, down = _plus_minus(p, i, h, pattern)
        return any((u != d).any() for u, d in zip(up, down))

    total = sum(p.size for p in params.values())
    full = total <= FULL_LIMIT
    brute = None
    if total <= BRUTE_LIMIT:  # on one sample: SymPy's diff of the written-out loss is slow
        brute = _brute_force(spec, params, X[:1], Y[:1], l1, l2)
        _, one = module.gradients(params, X[:1], Y[:1], l1, l2)
    rows, notes = [], []
    for key, p in params.items():
        idx = np.arange(p.size) if full else rng.choice(p.size, min(SUBSET, p.size), replace=False)
        num, ana, ref, skipped = [], [], [], 0
        for i in idx:
            h = H * max(1.0, abs(float(p.flat[i])))
            if crosses(key, i, h):
                skipped += 1
                notes.append(
                    f"skipped {key}{np.unravel_index(i, p.shape)}: the step crosses a kink"
                )
                continue
            up, down = _plus_minus(p, i, h, R)
            num.append((up - down) / (2 * h))
            ana.append(grads[key].flat[i])
            if brute is not None:
                ref.append(brute[key].flat[i] - one[key].flat[i])
        num, ana = np.array(num), np.array(ana)
        max_abs = float(np.max(np.abs(num - ana))) if num.size else 0.0
        brute_rel = None
        if brute is not None:  # script vs SymPy on the first sample
            diff = np.array(ref)
            scale = max(float(np.max(np.abs(one[key]))), 1e-12)
            brute_rel = float(np.max(np.abs(diff)) / scale) if diff.size else 0.0
        rows.append(Row(key, p.shape, num.size, skipped, max_abs, relative(num, ana), brute_rel))
    result = Result(
        title, rows, notes[:10] + ([f"... {len(notes) - 10} more"] if len(notes) > 10 else [])
    )
    result.notes.insert(
        0,
        f"batch of {SAMPLES} samples, float64, step h = {H:.1e}·max(1, |θ|)"
        + (f", l1 = {l1}" if l1 else "")
        + (f", l2 = {l2}" if l2 else ""),
    )
    if brute is None:
        result.notes.insert(
            1, f"SymPy brute force skipped: {total} parameters (limit {BRUTE_LIMIT})"
        )
    if not full:
        result.directional = _directional(params, grads, R, rng)
        result.taylor = _taylor(params, grads, R, rng)
    return result


def _direction(params, rng) -> dict:
    v = {k: rng.normal(size=p.shape) for k, p in params.items()}
    norm = math.sqrt(sum(float(np.vdot(x, x)) for x in v.values()))
    return {k: x / norm for k, x in v.items()}


def _shift(params, v, h):
    for k, p in params.items():
        p += h * v[k]


def _directional(params, grads, R, rng) -> float:
    num, ana = [], []
    for _ in range(DIRECTIONS):
        v = _direction(params, rng)
        _shift(params, v, H)
        up = R()
        _shift(params, v, -2 * H)
        down = R()
        _shift(params, v, H)
        num.append((up - down) / (2 * H))
        ana.append(sum(float(np.vdot(grads[k], v[k])) for k in params))
    return relative(np.array(num), np.array(ana))


def _taylor(params, grads, R, rng) -> list[tuple[float, float]]:
    v = _direction(params, rng)
    slope = sum(float(np.vdot(grads[k], v[k])) for k in params)
    base = R()
    out = []
    for h in (2e-3, 1e-3, 5e-4, 2.5e-4):  # small: a ReLU net has kinks nearby
        _shift(params, v, h)
        out.append((h, abs(R() - base - h * slope)))
        _shift(params, v, -h)
    return out


def _brute_force(spec, params, X, Y, l1, l2) -> dict | None:
    """∂R/∂θ from SymPy's diff of the whole loss written out (verify.brute_force_risk)."""
    import sympy as sp

    from .verify import _instance, brute_force_risk

    inst_spec = replace(spec, l1=l1 or 0.0, l2=l2 or 0.0)
    inst = _instance(inst_spec, len(X))
    point = {}
    for n in range(len(X)):
        for j in range(X.shape[1]):
            point[inst.X[n, j]] = sp.Float(float(X[n, j]), 30)
        for j in range(Y.shape[1]):
            point[inst.Y[n, j]] = sp.Float(float(Y[n, j]), 30)
    for l in range(1, spec.depth + 1):
        W, b = params[f"W{l}"], params[f"b{l}"]
        for (i, j), s in np.ndenumerate(np.empty(W.shape)):
            point[inst.W[l - 1][i, j]] = sp.Float(float(W[i, j]), 30)
        for i in range(b.size):
            point[inst.b[l - 1][i, 0]] = sp.Float(float(b[i]), 30)
    risk = brute_force_risk(inst, region=point)
    values = {s: float(sp.diff(risk, s).xreplace(point)) for s in inst.parameters}
    out = {}
    for l in range(1, spec.depth + 1):
        for stem, mat in (("W", inst.W[l - 1]), ("b", inst.b[l - 1])):
            shape = params[f"{stem}{l}"].shape
            out[f"{stem}{l}"] = np.array([values[s] for s in mat]).reshape(shape)
    return out


def _plus_minus(p: np.ndarray, i: int, h: float, f):
    """f() with entry i of p moved by +h and by -h; p is left as it was."""
    old = p.flat[i]
    p.flat[i] = old + h
    up = f()
    p.flat[i] = old - h
    down = f()
    p.flat[i] = old
    return up, down
