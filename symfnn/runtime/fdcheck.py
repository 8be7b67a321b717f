"""A generated script's own gradient check (central differences of its loss).

Temporary: engineer B's `runtime/gradcheck.py` replaces it.
"""

import numpy as np


def check_gradients(net, params=None, X=None, Y=None, seed=0, samples=4, coords=8):
    """Central finite differences of `net.loss` against `net.gradients`, in float64.

    Returns (ok, lines). Coordinates whose perturbation moves some z of a kinked layer
    across 0 (or an L1 weight across 0) are skipped and counted."""
    rng = np.random.default_rng(seed)
    if params is None:
        params = net.init_params(seed, net.default_init, np.float64)
    params = {k: p.astype(np.float64) for k, p in params.items()}
    if X is None:
        X = rng.standard_normal((samples, net.widths[0]))
        Y = net.random_targets(rng, samples)
    X, Y = np.asarray(X, np.float64)[:samples], np.asarray(Y, np.float64)[:samples]
    l1 = net.l1 if net.l1 is None else max(net.l1, 1e-2)
    l2 = net.l2 if net.l2 is None else max(net.l2, 1e-2)
    _, grads = net.gradients(params, X, Y, l1, l2)
    h, ok, lines = 1e-6, True, []
    head = ("parameter", "checked", "skipped", "max abs err", "rel err")
    lines.append("{:10} {:>8} {:>8} {:>12} {:>10}".format(*head))
    for k, p in params.items():
        idx = rng.choice(p.size, min(coords, p.size), replace=False)
        num, ana, skipped = [], [], 0
        for i in idx:
            old = p.flat[i]
            p.flat[i] = old + h
            up, pattern_up = net.loss(params, X, Y, l1, l2), _pattern(net, params, X)
            p.flat[i] = old - h
            down, pattern_down = (
                net.loss(params, X, Y, l1, l2),
                _pattern(net, params, X),
            )
            p.flat[i] = old
            if any((a != b).any() for a, b in zip(pattern_up, pattern_down)) or (
                l1 and k.startswith("W") and abs(old) < h
            ):
                skipped += 1
                continue
            num.append((up - down) / (2 * h))
            ana.append(grads[k].flat[i])
        num, ana = np.array(num), np.array(ana)
        err = float(np.max(np.abs(num - ana))) if num.size else 0.0
        scale = float(np.max(np.abs(num) + np.abs(ana))) if num.size else 0.0
        rel = err / max(scale, 1e-8)
        ok &= rel < 1e-5
        lines.append(f"{k:10} {num.size:8d} {skipped:8d} {err:12.3e} {rel:10.3e}")
    lines.append("gradient check: " + ("PASSED" if ok else "FAILED"))
    return ok, lines


def _pattern(net, params, X):
    """The sign pattern of z in every kinked layer (a > 0 exactly when z > 0)."""
    A = net.forward(params, X)
    return [A[l] > 0 for l in net.kink_layers]
