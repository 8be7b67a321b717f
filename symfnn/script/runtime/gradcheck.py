"""Central finite differences of a risk against a gradient: the comparison that `symfnn check`
and a generated script's `--gradcheck` both run.

Everything comes in as an argument (the risk and gradient functions, the parameters, the
batches); nothing is global. `symfnn check` passes the risk evaluated from the spec's
definitions (symfnn/script/reference.py), so a script whose loss and gradients are wrong together
fails; a script checking itself passes its own `loss`.

Included verbatim in every generated script: NumPy and the standard library only.
"""

import math

import numpy as np

# Batch sizes are drawn from these, skipping every layer width: a check at two sizes cannot be
# passed by a script that hard-codes one, nor by one that confuses N with a width.
BATCH_CANDIDATES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47)
TAYLOR_STEPS = (2e-3, 1e-3, 5e-4, 2.5e-4)  # small: a ReLU net has kinks nearby
TAYLOR_SLOPE = (1.8, 2.5)  # the remainder of a right gradient shrinks like h^2
# CS231n's usual bands of the relative error; fd_bands tightens them to what the step allows
USUAL_BANDS = (
    (1e-7, "good"),
    (1e-4, "acceptable"),
    (1e-2, "doubtful"),
    (math.inf, "wrong"),
)
FAILING = ("doubtful", "wrong")


def batch_sizes(widths, count=2):
    """The first `count` candidate batch sizes that equal no layer width."""
    return [n for n in BATCH_CANDIDATES if n not in set(widths)][:count]


def fd_step(dtype=np.float64):
    """h = eps^(1/3): it balances a central difference's O(h^2) truncation and O(eps/h)
    rounding (times max(1, |theta|) per coordinate)."""
    return float(np.finfo(dtype).eps) ** (1 / 3)


def fd_error(dtype=np.float64):
    """The relative error to expect of a central difference of a right gradient: h^2 + eps/h
    (about 7e-11 in float64, 5e-5 in float32)."""
    h = fd_step(dtype)
    return h * h + float(np.finfo(dtype).eps) / h


def fd_bands(dtype=np.float64):
    """((bound, name), ...): the usual bands, tightened to 1e2 and 1e4 times fd_error where
    the step allows it (float64: good < 7e-9, acceptable < 7e-7; float32: the usual)."""
    err = fd_error(dtype)
    good, acceptable = (
        min(USUAL_BANDS[0][0], 1e2 * err),
        min(USUAL_BANDS[1][0], 1e4 * err),
    )
    return ((good, "good"), (acceptable, "acceptable"), USUAL_BANDS[2], USUAL_BANDS[3])


def fd_verdict(rel, dtype=np.float64):
    """The band a relative error falls in."""
    return next(name for bound, name in fd_bands(dtype) if rel < bound)


def fd_floor(R, dtype=np.float64):
    """The smallest scale a central difference of a risk of size |R| can judge relatively.

    Rounding leaves about eps |R| / h in every difference quotient (measured: 0.5 to 1.2
    times that), so a gradient much smaller than |R| cannot be checked to fd_error by finite
    differences; it is judged against this floor instead, at which noise ten times the
    expected still lands in "good" (about 0.05 |R|). SymPy's comparison has no such floor."""
    noise = float(np.finfo(dtype).eps) / fd_step(dtype) * abs(float(R))
    return max(noise / (10 * fd_error(dtype)), 1e-12)


def relative_error(a, b, floor=1e-12):
    """max |a - b| / max(max(|a| + |b|), floor): the relative error, guarded for gradients
    near 0 (floor: fd_floor for finite differences)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a) + np.abs(b))), floor)
    return float(np.max(np.abs(a - b))) / scale


def plus_minus(p, i, h, f):
    """f() with entry i of p moved by +h and by -h; p is left as it was."""
    old = p.flat[i]
    p.flat[i] = old + h
    up = f()
    p.flat[i] = old - h
    down = f()
    p.flat[i] = old
    return up, down


def random_direction(params, rng):
    """A random unit vector in parameter space, {key: array}."""
    v = {k: rng.normal(size=p.shape) for k, p in params.items()}
    norm = math.sqrt(sum(float(np.vdot(x, x)) for x in v.values()))
    return {k: x / norm for k, x in v.items()}


def _fd_along(params, v, h, f):
    """f() at params + h v; params are put back exactly afterwards."""
    saved = {k: p.copy() for k, p in params.items()}
    for k, p in params.items():
        p += h * v[k]
    try:
        return f()
    finally:
        for k, p in params.items():
            np.copyto(p, saved[k])


def _fd_dot(grads, v):
    return sum(float(np.vdot(grads[k], v[k])) for k in v)


def _fd_same(params, v, steps, signs):
    """Do the kink sign patterns stay as at params for every step h v? (signs: None, or
    a function of no arguments giving the patterns at the current params)."""
    if signs is None:
        return True
    base = signs()
    for h in steps:
        moved = _fd_along(params, v, h, signs)
        if any((a != b).any() for a, b in zip(base, moved)):
            return False
    return True


def fd_directional(params, grads, risk, rng, count, h, floor=1e-12, signs=None):
    """Relative error of `count` random directional derivatives grad . v against
    (risk(theta + h v) - risk(theta - h v)) / 2h; a direction whose step crosses a kink
    (signs, see _fd_same) is drawn again, up to 4 count draws."""
    num, ana = [], []
    for _ in range(4 * count):
        if len(num) == count:
            break
        v = random_direction(params, rng)
        if not _fd_same(params, v, (h, -h), signs):
            continue
        up, down = _fd_along(params, v, h, risk), _fd_along(params, v, -h, risk)
        num.append((up - down) / (2 * h))
        ana.append(_fd_dot(grads, v))
    return relative_error(num, ana, floor)


def fd_taylor(params, grads, risk, rng, steps=TAYLOR_STEPS, signs=None):
    """[(h, |risk(theta + h v) - risk(theta) - h grad . v|)] along one random direction v
    (drawn again, up to 8 times, while a step crosses a kink: signs, see _fd_same)."""
    for _ in range(8):
        v = random_direction(params, rng)
        if _fd_same(params, v, steps, signs):
            break
    slope, base = _fd_dot(grads, v), risk()
    return [(h, abs(_fd_along(params, v, h, risk) - base - h * slope)) for h in steps]


def taylor_slope(remainders):
    """The slope of log(remainder) against log(h): about 2 for a right gradient, 1 for a
    wrong one; None when it cannot be measured."""
    if len(remainders) < 2 or min(e for _, e in remainders) <= 0:
        return None
    hs, es = zip(*remainders)
    return float(np.polyfit(np.log(hs), np.log(es), 1)[0])


def fd_compare(
    risk,
    gradients,
    params,
    X,
    Y,
    *,
    coords=None,
    pattern=None,
    l1=False,
    rng=None,
    directions=0,
):
    """Central differences of risk(params, X, Y) against gradients(params, X, Y) on one batch.

    coords: None checks every coordinate; an int, that many random ones per parameter (rng).
    pattern(params, X) -> the sign patterns of the kinked layers' z: a coordinate whose +-h
    step changes them is skipped, as is (with l1) a weight within h of its kink at 0.
    directions > 0 adds that many random directional derivatives and a Taylor-remainder test.
    Relative errors are taken against fd_floor of the risk where the gradient is smaller.
    `params` is perturbed in place and restored. Returns {"N", "rows", "directional",
    "taylor", "floor"}; a row is {"name", "shape", "checked", "skipped", "max_abs", "rel",
    "at", "skipped_at"} ("at": the flat indices compared)."""
    rng = np.random.default_rng(0) if rng is None else rng
    dtype = next(iter(params.values())).dtype
    H = fd_step(dtype)
    grads = gradients(params, X, Y)
    R = lambda: float(risk(params, X, Y))
    floor = fd_floor(R(), dtype)

    def crosses(key, p, i, h):
        if l1 and key.startswith("W") and abs(float(p.flat[i])) <= h:
            return True
        if pattern is None:
            return False
        up, down = plus_minus(p, i, h, lambda: pattern(params, X))
        return any((u != d).any() for u, d in zip(up, down))

    rows = []
    for key, p in params.items():
        if coords is None:
            idx = np.arange(p.size)
        else:
            idx = np.sort(rng.choice(p.size, min(coords, p.size), replace=False))
        num, ana, at, skipped_at = [], [], [], []
        for i in idx:
            i = int(i)
            h = H * max(1.0, abs(float(p.flat[i])))
            if crosses(key, p, i, h):
                skipped_at.append(i)
                continue
            up, down = plus_minus(p, i, h, R)
            num.append((up - down) / (2 * h))
            ana.append(float(grads[key].flat[i]))
            at.append(i)
        diff = np.abs(np.subtract(num, ana))
        rows.append(
            {
                "name": key,
                "shape": p.shape,
                "checked": len(at),
                "skipped": len(skipped_at),
                "max_abs": float(diff.max()) if diff.size else 0.0,
                "rel": relative_error(num, ana, floor),
                "at": at,
                "skipped_at": skipped_at,
            }
        )
    out = {"N": len(X), "rows": rows, "directional": None, "taylor": [], "floor": floor}
    if directions:
        signs = None if pattern is None else (lambda: pattern(params, X))
        along = fd_directional(params, grads, R, rng, directions, H, floor, signs)
        out["directional"] = along
        out["taylor"] = fd_taylor(params, grads, R, rng, signs=signs)
    return out


def fd_passed(result, dtype=np.float64):
    """True when every row, the directional derivatives and the Taylor slope of a `compare`
    result are in a passing band."""
    if any(fd_verdict(r["rel"], dtype) in FAILING for r in result["rows"]):
        return False
    d = result["directional"]
    if d is not None and fd_verdict(d, dtype) in FAILING:
        return False
    if not result["taylor"]:
        return True
    slope = taylor_slope(result["taylor"])
    return slope is not None and TAYLOR_SLOPE[0] < slope < TAYLOR_SLOPE[1]


def fd_report(results, dtype=np.float64):
    """(ok, lines): a table of `fd_compare` results (one per batch size) and the verdict."""
    head = ("N", "parameter", "checked", "skipped", "max abs err", "rel err")
    lines = ["{:>3} {:10} {:>8} {:>8} {:>12} {:>10}  verdict".format(*head)]
    for result in results:
        for r in result["rows"]:
            lines.append(
                f"{result['N']:3d} {r['name']:10} {r['checked']:8d} {r['skipped']:8d}"
                f" {r['max_abs']:12.3e} {r['rel']:10.3e}  {fd_verdict(r['rel'], dtype)}"
            )
        if result["directional"] is not None:
            lines.append(
                f"N={result['N']}: directional derivatives rel err {result['directional']:.3e}"
            )
        if result["taylor"]:
            slope = taylor_slope(result["taylor"])
            lines.append(
                f"N={result['N']}: Taylor remainder slope "
                + ("-" if slope is None else f"{slope:.2f}")
                + " (want ~2)"
            )
    bands = fd_bands(dtype)
    lines.append(
        f"bands ({np.dtype(dtype).name}, step h = {fd_step(dtype):.1e}): rel < {bands[0][0]:.1e}"
        f" good, < {bands[1][0]:.1e} acceptable, < {bands[2][0]:.0e} doubtful, else wrong"
    )
    ok = all(fd_passed(result, dtype) for result in results)
    lines.append("gradient check: " + ("PASSED" if ok else "FAILED"))
    return ok, lines


def check_gradients(net, params=None, X=None, Y=None, seed=0, coords=8):
    """A script's own --gradcheck: `net.gradients` against central differences of `net.loss`,
    in float64, at two batch sizes (batch_sizes), `coords` random coordinates per parameter.

    The reference is the script's own loss, so this shows the two agree; `symfnn check
    --script` compares both with the spec's definitions. X, Y: the first rows are used
    (random ones when None); params None: a fresh init_params. bn/dropout (NormNet): a batch
    is one whole mini-batch, its masks those of seed 0 in the loss and the gradients alike.
    Returns (ok, lines)."""
    rng = np.random.default_rng(seed)
    if params is None:
        params = net.init_params(seed, net.default_init, np.float64)
    params = {k: np.array(p, dtype=np.float64) for k, p in params.items()}
    # a bn layer's running mean and variance have no gradient: passed along, not perturbed
    stats = {k: params.pop(k) for k in list(params) if k not in net.trainable()}
    sizes = batch_sizes(net.widths)
    if X is None:
        X = rng.standard_normal((max(sizes), net.widths[0]))
        Y = net.random_targets(rng, max(sizes))
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    # a penalty too small to see would go unchecked: at least 0.01 where the script has one
    l1 = None if net.l1 is None else max(net.l1, 1e-2)
    l2 = None if net.l2 is None else max(net.l2, 1e-2)
    kinked = list(net.kink_layers)

    results = [
        fd_compare(
            lambda p, Xb, Yb: net.loss(p | stats, Xb, Yb, l1, l2),
            lambda p, Xb, Yb: net.gradients(p | stats, Xb, Yb, l1, l2)[1],
            params,
            X[:n],
            Y[:n],
            coords=coords,
            pattern=(lambda p, Xb: net.kink_signs(p | stats, Xb)) if kinked else None,
            l1=bool(l1),
            rng=rng,
        )
        for n in [n for n in sizes if n <= len(X)] or [len(X)]
    ]  # a tiny data set: all of it
    return fd_report(results)
