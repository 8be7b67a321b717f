"""The proof: a derivation's gradients against brute-force differentiation of the loss.

The derivation makes each step once per layer type and renames it per layer, so the proof
runs on a *covering instance* (`cover.py`): a short network in which every adjacent pair of
the network's layer types occurs, ending in its output layer. It has three parts:

1. renaming: every layer's steps, renamed to the instance layer that stands for it, equal
   that layer's steps (structural equality of the SymPy expressions);
2. numeric: on the instance at width 2 (3 for a softmax output), the whole regularised risk
   is written as one scalar SymPy expression in explicit weight symbols, from the
   definitions (`bruteforce.py`), and differentiated by every weight and bias —
   independently of the recurrence. The instance's steps (the network's own, renamed) are
   evaluated on the same numbers; both sides agree to 1e-50 relative to the largest partial
   at 60 digits. A disagreement that shrinks when the point is recomputed at 120 digits is
   rounding, not an error: the comparison is then made at 120 digits, or called
   inconclusive if it does not settle;
3. symbolic: on the instance at width 1 (2 for softmax), recurrence minus brute force is
   reduced to 0 for every partial, in the region of each piecewise function that a point
   lies in — by `cancel`, by `cancel` after rewriting every power and hyperbolic function
   in exp and splitting exp of sums, by `expand_log`, or by `simplify`. A difference none
   of them reduces, but which vanishes at 60 digits at random points, is "numeric only".

PROVEN only when all three parts are complete.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

import mpmath
import sympy as sp

from ..errors import CheckError
from . import activations, matrixform
from .bruteforce import KINK_MARGIN, brute_force_risk, random_point
from .bruteforce import Instance as _Instance
from .bruteforce import activate as _activate
from .bruteforce import fix_region as _fix_region
from .bruteforce import instance as _instance
from .bruteforce import near_kink as _near_kink
from .cover import Cover, cover, instance_spec, shift
from .derive import LAMBDA1, LAMBDA2, Derivation
from .spec import NetworkSpec
from .symbols import N, layer_symbols

__all__ = [
    "DIGITS",
    "KINK_MARGIN",
    "Report",
    "_Instance",
    "_activate",
    "_fix_region",
    "_instance",
    "brute_force_risk",
    "recurrence_gradients",
    "small_instance",
    "smallest_instance",
    "verify",
]

DIGITS = 60
TOLERANCE = sp.Float("1e-50")  # relative to the largest partial at the point
SYMBOLIC_SECONDS = 90  # for the whole symbolic part
STEPS = ("forward_z", "forward_a", "delta", "grad_W", "grad_b")
DONE = ("cancel(difference) = 0", "difference = 0")  # how a complete symbolic part begins


@dataclass
class Report:
    """What the proof checked, how, and how close the two sides came."""

    instance: NetworkSpec
    samples: int
    partials: int
    points: int
    worst: float  # largest |derivation - brute force| / largest |partial| at the point
    symbolic: str  # 'cancel(difference) = 0 …', 'difference = 0 …', 'numeric only: …', FAILED
    mismatches: list[str] = field(default_factory=list)
    renaming: str = ""  # how the network's layers map onto the instance's, and that check
    inconclusive: str = ""  # why the numeric comparison says nothing, where it does not
    digits: int = DIGITS  # the precision the numeric comparison was decided at
    # how the symbolic part went: 0, on the whole risk at once; n, link by link (verify_bn):
    # the n links Z(l) -> Z(l+1), each with symbolic input, parameters and upstream error
    links: int = 0

    @property
    def verdict(self) -> str:
        """PROVEN, FAILED, INCONCLUSIVE (numbers too extreme) or NUMERIC ONLY."""
        if self.mismatches or self.symbolic.startswith("FAILED"):
            return "FAILED"
        if self.inconclusive:
            return "INCONCLUSIVE"
        if not self.symbolic.startswith(DONE):
            return "NUMERIC ONLY"
        return "PROVEN"

    @property
    def ok(self) -> bool:
        """Nothing disagrees (PROVEN, or a part could not be completed)."""
        return self.verdict != "FAILED"

    @property
    def proven(self) -> bool:
        return self.verdict == "PROVEN"

    def lines(self) -> list[str]:
        numeric = (
            f"{self.partials} partial derivatives x {self.points} random points, batch of "
            f"{self.samples} samples, {self.digits}-digit arithmetic"
        )
        out = [
            f"instance:   {self.instance.describe()} ({self.instance.parameter_count} parameters)",
        ]
        if self.renaming:
            out.append(f"renaming:   {self.renaming}")
        out += [
            f"numeric:    {numeric}",
            (
                f"worst relative difference: {self.worst:.3g} "
                f"(tolerance {float(TOLERANCE):.0e} of the largest partial)"
            ),
            f"symbolic:   {self.symbolic}",
            *(f"MISMATCH:   {m}" for m in self.mismatches),
        ]
        if self.inconclusive:
            out.append(f"inconclusive: {self.inconclusive}")
        out.append(f"verdict:    {self.verdict}")
        return out


def small_instance(spec: NetworkSpec, width: int = 2) -> NetworkSpec:
    """The same layer types at width 2 (3 for a softmax output, 2 inputs)."""
    widths = (
        [width]
        + [width] * (spec.depth - 1)
        + [3 if spec.layers[-1].activation == "softmax" else width]
    )
    return spec.with_widths(tuple(widths))


def recurrence_gradients(
    d: Derivation, inst: _Instance, values: dict, region: dict | None = None
) -> list[sp.Expr]:
    """The derivation's mini-batch forms evaluated on explicit matrices, in parameter order.

    `values` are put in for the instance's symbols (all of them: a numeric check; the data
    only: a symbolic one, whose piecewise branches are then chosen at `region`).
    """
    spec = d.spec
    sub = lambda M: M.xreplace(values) if values else M
    n = inst.X.rows
    env: dict = {LAMBDA1: sp.nsimplify(spec.l1), LAMBDA2: sp.nsimplify(spec.l2)}
    sizes = {N: n} | {layer_symbols(l).m: w for l, w in enumerate(spec.widths)}
    mats: dict = {}

    def ev(expr):
        return matrixform.evaluate(expr.xreplace(env), sizes, mats, region)

    mats[_batch("A", 0, d)] = sub(inst.X)
    mats[sp.MatrixSymbol("Y", N, layer_symbols(spec.depth).m)] = sub(inst.Y)
    for layer in d.layers:
        l = layer.l
        mats[_w(l)] = sub(inst.W[l - 1])
        mats[_b(l)] = sub(inst.b[l - 1])
        mats[layer.forward_z.batch_lhs] = ev(layer.forward_z.batch)
        mats[layer.forward_a.batch_lhs] = ev(layer.forward_a.batch)
    grads: list[sp.Expr] = []
    for layer in reversed(d.layers):
        mats[layer.delta.batch_lhs] = ev(layer.delta.batch)
    for layer in d.layers:
        gW, gb = ev(layer.grad_W.batch), ev(layer.grad_b.batch)
        grads += [*gW, *gb]
    return grads


def _batch(stem: str, l: int, d: Derivation) -> sp.MatrixSymbol:
    return sp.MatrixSymbol(f"{stem}{l}", N, layer_symbols(l).m)


def _w(l: int) -> sp.MatrixSymbol:
    return sp.MatrixSymbol(f"W{l}", layer_symbols(l).m, layer_symbols(l - 1).m)


def _b(l: int) -> sp.MatrixSymbol:
    return sp.MatrixSymbol(f"b{l}", layer_symbols(l).m, 1)


def verify(
    d: Derivation, *, points: int = 3, samples: int = 2, seed: int = 0, symbolic: bool = True
) -> Report:
    """Prove `d` on its covering instance; see the module docstring."""
    if d.spec.normalised:  # batch norm / dropout (issue 11): samples couple, see verify_bn
        from .verify_bn import verify as verify_normalised

        return verify_normalised(d, points=points, samples=samples, seed=seed, symbolic=symbolic)
    c = cover(d.spec)
    small = instance_spec(c, 2)
    d_small = transplant(d, c, small)
    mismatches = renaming_mismatches(d, c, d_small)
    inst = _instance(small, samples)
    rng = random.Random(seed)
    worst, used, digits, inconclusive = 0.0, [], DIGITS, ""
    brute: dict = {}
    for _ in range(points):
        point = _point_away_from_kinks(inst, rng)
        used.append(point)
        rel, bad = _compare(d_small, inst, point, DIGITS, brute)
        if bad:  # rounding shrinks with precision; a wrong formula does not
            rel2, bad2 = _compare(d_small, inst, point, 2 * DIGITS, brute)
            if rel2 < rel * mpmath.mpf(10) ** (-DIGITS // 2):
                digits = 2 * DIGITS
                rel, bad = rel2, bad2
                if bad:
                    inconclusive = (
                        f"the differences shrink from {float(rel):.2g} to {float(rel2):.2g} "
                        f"relative between {DIGITS} and {2 * DIGITS} digits: the parameters "
                        "make the arithmetic, not the derivation, decide the comparison"
                    )
                    bad = []
        worst = max(worst, float(rel))
        mismatches += bad
    status = "numeric only: the symbolic part was not run"
    if symbolic:
        status = _symbolic(d, c, used[0])
    renamed = _renaming_text(c)
    return Report(
        small,
        samples,
        len(inst.parameters),
        points,
        worst,
        status,
        mismatches[:10],
        renamed,
        inconclusive,
        digits,
    )


def _point_away_from_kinks(inst: _Instance, rng: random.Random) -> dict:
    for _try in range(200):
        point = random_point(inst, rng, DIGITS)
        if not _near_kink(inst, point):
            return point
    raise CheckError("could not find a point away from the kinks")


def _compare(d: Derivation, inst: _Instance, point: dict, digits: int, brute: dict):
    """(largest relative difference, mismatch lines) of the two sides at `point`."""
    params = inst.parameters
    point = {s: sp.Float(v, digits) if isinstance(v, sp.Float) else v for s, v in point.items()}
    smooth = not inst.spec.l1 and all(
        len(activations.TABLE[x.activation].pieces) == 1 for x in inst.spec.layers
    )
    with mpmath.workdps(digits):
        if smooth and "diffs" not in brute:  # a smooth risk is the same in every region
            risk = brute_force_risk(inst, region=point)
            # small risks: differentiate once for all points; else one variable at a time
            brute["diffs"] = (
                [sp.diff(risk, w) for w in params] if sp.count_ops(risk) < 3000 else None
            )
            brute["risk"] = risk
        if smooth and brute["diffs"] is not None:
            if "f" not in brute:  # compiled once: evaluating the trees point by point is slower
                symbols = sorted(point, key=str)
                brute["f"] = (symbols, sp.lambdify(symbols, brute["diffs"], "mpmath", cse=True))
            symbols, f = brute["f"]
            expected = f(*(mpmath.mpf(_mpf(point[s], digits)) for s in symbols))
        else:
            risk = brute["risk"] if smooth else brute_force_risk(inst, region=point)
            expected = [_partial(risk, w, point, digits) for w in params]
        got = [_mpf(g, digits) for g in recurrence_gradients(d, inst, point)]
        scale = max((abs(e) for e in expected), default=mpmath.mpf(1)) or mpmath.mpf(1)
        rel = max(abs(g - e) / scale for g, e in zip(got, expected))
        bad = [
            f"d R / d {w}: brute force {mpmath.nstr(e, 12)}, derivation {mpmath.nstr(g, 12)}"
            for w, e, g in zip(params, expected, got)
            if abs(g - e) > TOLERANCE * scale
        ]
    return rel, bad


def transplant(d: Derivation, c: Cover, small: NetworkSpec) -> Derivation:
    """The instance's derivation made of `d`'s own steps: instance layer k is the deep layer
    it copies (c.layers[k-1]) renamed to k, so a corrupted step of `d` is what gets checked."""
    layers = []
    for k, l in enumerate(c.layers, start=1):
        deep = d.layers[l - 1]
        steps = {name: _renamed(getattr(deep, name), k - l, k) for name in STEPS}
        width, fan_in = small.widths[k], small.widths[k - 1]
        layers.append(replace(deep, l=k, width=width, fan_in=fan_in, **steps))
    return replace(d, spec=small, layers=tuple(layers))


def _renamed(step, by: int, k: int):
    label = step.label.rsplit("-", 1)[0] + f"-{k}"
    return replace(
        step,
        label=label,
        **{
            f: shift(getattr(step, f), by)
            for f in ("lhs", "index", "matrix_lhs", "matrix", "batch_lhs", "batch")
        },
    )


def renaming_mismatches(d: Derivation, c: Cover, d_small: Derivation) -> list[str]:
    """Every layer l of `d`, renamed to the instance layer k it maps to, equals layer k."""
    out = []
    for l, k in enumerate(c.image, start=1):
        for name in STEPS:
            mine = _renamed(getattr(d.layers[l - 1], name), k - l, k)
            theirs = getattr(d_small.layers[k - 1], name)
            for f in ("index", "matrix", "batch"):
                if getattr(mine, f) != getattr(theirs, f):
                    out.append(
                        f"layer {l}'s {name} ({f}) is not instance layer {k}'s renamed: "
                        f"{getattr(mine, f)} vs {getattr(theirs, f)}"
                    )
                    break
    return out


def _renaming_text(c: Cover) -> str:
    n = len(c.image) * len(STEPS)
    return (
        f"network layers -> instance layers {c.describe()}; {n} steps compared after "
        f"renaming; instance pairs {', '.join(c.pairs())}"
    )


def smallest_instance(spec: NetworkSpec) -> NetworkSpec:
    """Every width 1 (2 for a softmax output): the instance of the symbolic proof."""
    return spec.with_widths(
        (1,) * spec.depth + (2 if spec.layers[-1].activation == "softmax" else 1,)
    )


def _symbolic(d: Derivation, c: Cover, point: dict, seconds: int = SYMBOLIC_SECONDS) -> str:
    """recurrence - brute force reduced to 0 with the weights as symbols.

    One sample whose inputs and targets are exact rationals (a one-hot target makes Σy = 1
    hold, as the derivation assumes), on the covering instance at width 1, in the region of
    each piecewise function that the point lies in.
    """
    small = instance_spec(c, 1)
    d_small = transplant(d, c, small)
    inst = _instance(small, 1)
    rng = random.Random(1)
    data = {
        s: _as_rational(v)
        for s, v in random_point(inst, rng, DIGITS).items()
        if s in set(inst.X) | set(inst.Y)
    }
    region = {s: point.get(s, sp.Float(0.5)) for s in inst.parameters} | data
    if _near_kink(inst, region):
        region = {s: sp.Float(rng.choice((-1, 1)) * 0.7) for s in inst.parameters} | data
    how: dict[str, int] = {}
    unreduced = []
    try:
        with _time_limit(seconds):
            risk = brute_force_risk(inst, region).xreplace(data)
            got = recurrence_gradients(d_small, inst, data, region)
            for w, g in zip(inst.parameters, got):
                difference = _fix_region(g, region) - sp.diff(risk, w)
                method = reduce_to_zero(difference)
                if method is None:
                    unreduced.append((w, difference))
                else:
                    how[method] = how.get(method, 0) + 1
            for w, difference in unreduced:  # does it vanish numerically, or not?
                size = _size_at_random_weights(difference, inst.parameters, rng)
                if size > 1e-40:
                    return f"FAILED: d R / d {w} differs by {size:.3g} at random weights"
    except TimeoutError:
        return (
            f"numeric only: the symbolic reduction did not finish in {seconds} s "
            f"({sum(how.values())} of {len(inst.parameters)} partials reduced to 0)"
        )
    n = len(inst.parameters)
    if unreduced:
        names = ", ".join(str(w) for w, _ in unreduced)
        return (
            f"numeric only: SymPy reduced {n - len(unreduced)} of {n} partials to 0; for "
            f"{names} no rewriting tried (cancel, exp form, expand_log, simplify) reached 0, "
            "though the difference vanishes to 60 digits at random weights"
        )
    if set(how) == {"cancel"}:
        return f"cancel(difference) = 0 for all {n} partials of {small.compact}"
    ways = ", ".join(f"{count} by {method}" for method, count in how.items())
    return f"difference = 0 for all {n} partials of {small.compact} ({ways})"


def reduce_to_zero(difference: sp.Expr) -> str | None:
    """The cheapest rewriting that shows `difference` is 0, or None.

    `cancel` sees rational functions of exp(…) and log(…) as opaque; a softplus after a
    softplus gives exp(b + w log(1 + e^z)) on one side and (1 + e^z)^w e^b on the other,
    equal only once both are written in exp with sums split.
    """
    if sp.cancel(difference) == 0:
        return "cancel"
    in_exp = _exp_form(difference)
    if sp.cancel(in_exp) == 0:
        return "cancel in exp form"
    if sp.cancel(sp.expand_log(in_exp, force=True)) == 0:
        return "expand_log"
    if sp.simplify(difference) == 0:
        return "simplify"
    return None


def _exp_form(e: sp.Expr) -> sp.Expr:
    """u**w (w not a number) -> exp(w log u); tanh, sinh, … -> exp; exp(a + b) -> exp(a) exp(b)."""
    e = e.replace(
        lambda x: isinstance(x, sp.Pow) and not x.exp.is_Number,
        lambda x: sp.exp(x.exp * sp.log(x.base)),
    )
    e = e.rewrite(sp.exp)
    return sp.expand(e, power_exp=True, mul=False, multinomial=False, power_base=False, log=False)


def _size_at_random_weights(difference: sp.Expr, params: list, rng: random.Random) -> float:
    """The largest |difference| at three random points, at 60 digits."""
    size = 0.0
    for _ in range(3):
        at = {w: sp.Float(rng.uniform(-1.5, 1.5), DIGITS) for w in params}
        size = max(size, float(abs(sp.N(difference.xreplace(at), DIGITS))))
    return size


def _partial(risk: sp.Expr, w: sp.Symbol, point: dict, digits: int = DIGITS) -> mpmath.mpf:
    """∂R/∂w at `point`: every other symbol is put in first, so `diff` sees one variable.

    (Differentiating the whole multivariate risk and then evaluating costs far more: the
    chain rule copies every nested sub-expression.) Floats of `digits` digits evaluate as
    the tree is rebuilt; lambdify's printing of such nested expressions is slower still.
    """
    one_variable = risk.xreplace({s: v for s, v in point.items() if s != w})
    return _mpf(sp.diff(one_variable, w).xreplace({w: point[w]}), digits)


def _mpf(value: sp.Expr, digits: int = DIGITS) -> mpmath.mpf:
    return mpmath.mpf(sp.Float(sp.N(value, digits), digits)._mpf_)


def _as_rational(v) -> sp.Rational:
    return sp.Rational(round(float(v) * 8), 8)


class _time_limit:
    """SIGALRM-based limit for SymPy calls that may not finish (main thread only)."""

    def __init__(self, seconds: int):
        self.seconds = seconds

    def __enter__(self):
        import signal
        import threading

        self.active = threading.current_thread() is threading.main_thread()
        if self.active:

            def fire(*_):
                raise TimeoutError

            self.old = signal.signal(signal.SIGALRM, fire)
            signal.alarm(self.seconds)
        return self

    def __exit__(self, *exc):
        import signal

        if self.active:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, self.old)
        return False
