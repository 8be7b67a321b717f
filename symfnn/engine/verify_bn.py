"""The proof for networks with batch normalisation or dropout (issue 11).

The derivation makes each layer's steps once per layer type and renames them, so the proof
runs on a *covering instance* (`cover_bn.py`): a short network in which every adjacent pair
of the network's layer types (bn and dropout included) occurs, each of the network's links
Z(l) -> Z(l+1) one of the instance's renamed. On the instance at width 2 (3 for softmax;
a batch of 3: with 2, ẑ = ±1 and the variance's path is nearly invisible), from the
definitions alone — μ, σ² (biased), ẑ, γ ẑ + β, f, the dropout mask as fixed data scaled
by 1/(1 − q):

0. renaming: both layers of every network link, renamed, equal the two layers of the
   instance link that stands for it, in every form the proof evaluates (structural
   equality), so the instance's links are the network's;
1. symbolic, link by link (`blocks`): each link Z(l) -> Z(l+1) of the instance, with its
   input Z(l), its parameters and the upstream error D = N ∂R/∂Z(l+1) as symbols. Each
   derivation step it holds (δ(l) through μ and σ², ∂R/∂γ, ∂R/∂β, ∂R/∂W(l+1), ∂R/∂b(l+1))
   minus the derivative of Σ D ⊙ Z(l+1) (the last link: of N R) is reduced to 0 by cancel,
   per coefficient of D, and so is its forward value Z(l+1) minus the definition's. The
   chain rule joins the links into the whole gradient; no part
   holds two layers' square roots, which is what made cancel on the whole risk too slow.
2. numeric: the instance's whole regularised risk of one mini-batch, differentiated by
   every weight, γ, β and bias (reverse accumulation over the definitions' stages,
   `brute_force_partials`), against the derivation's mini-batch forms evaluated on the
   same numbers, to ~1e-50 at 60 digits: one random point as a cross-check of the wiring
   when part 1 is complete, every requested point when it is not.

PROVEN only when part 0 found every network layer equal to its instance layers, part 1
reduced every entry to 0 and part 2 agrees. The work grows with the number of distinct
pairs of layer types, not with depth.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import mpmath
import sympy as sp

from ..errors import CheckError, DerivationError
from . import activations, losses, matrixform
from .batchnorm import EPSILON, EPSILON_VALUE, batch_backward, batch_forward, keep_scale, names
from .bruteforce import random_point
from .cover import instance_spec
from .cover_bn import (
    compared_layers,
    cover_normalised,
    describe_links,
    repeated_links,
    transplant,
)
from .derive import LAMBDA1, LAMBDA2, Derivation
from .spec import NetworkSpec
from .symbols import N, layer_symbols
from .verify import (
    DIGITS,
    DONE,
    KINK_MARGIN,
    Report,
    _activate,
    _b,
    _batch,
    _fix_region,
    _mpf,
    _time_limit,
    _w,
)

MIN_SAMPLES = 3
SECONDS_PER_LINK = 10  # the symbolic part's time limit, per link (a bn link takes ~2 s)


class Instance:
    """Explicit symbols for one mini-batch: data, parameters (W, b or γ, β) and masks."""

    def __init__(self, spec: NetworkSpec, samples: int, rng: random.Random):
        sym = lambda name: sp.Symbol(name, real=True)
        w = spec.widths
        self.spec = spec
        self.X = sp.ImmutableMatrix(samples, w[0], lambda n, j: sym(f"x{n + 1}_{j + 1}"))
        self.Y = sp.ImmutableMatrix(samples, w[-1], lambda n, j: sym(f"y{n + 1}_{j + 1}"))
        self.params: list[dict[str, sp.ImmutableMatrix]] = []
        self.masks: list[sp.ImmutableMatrix | None] = []
        for l, layer in enumerate(spec.layers, start=1):
            vec = lambda stem, l=l: sp.ImmutableMatrix(
                w[l], 1, lambda i, _: sym(f"{stem}{l}_{i + 1}")
            )
            entry = {
                "W": sp.ImmutableMatrix(
                    w[l], w[l - 1], lambda i, j, l=l: sym(f"w{l}_{i + 1}{j + 1}")
                )
            }
            if layer.batchnorm:
                entry |= {"gamma": vec("gamma"), "beta": vec("beta")}
            else:
                entry |= {"b": vec("b")}
            self.params.append(entry)
            self.masks.append(_mask(samples, w[l], rng) if layer.dropout else None)

    @property
    def parameters(self) -> list[sp.Symbol]:
        return [s for entry in self.params for M in entry.values() for s in M]


def _mask(samples: int, width: int, rng: random.Random) -> sp.ImmutableMatrix:
    """A fixed 0/1 mask with both values present (so a wrong mask term shows)."""
    while True:
        bits = [rng.randrange(2) for _ in range(samples * width)]
        if 0 < sum(bits) < len(bits):
            return sp.ImmutableMatrix(samples, width, bits)


def _net_input(A: sp.Matrix, P: dict, layer) -> sp.Matrix:
    """Z = A Wᵀ (+ 1 bᵀ; a normalised layer has no b)."""
    Z = A * P["W"].T
    if not layer.batchnorm:
        Z = Z + sp.ones(Z.rows, 1) * P["b"].T
    return Z


def _activation_input(Z: sp.Matrix, P: dict, layer) -> sp.Matrix:
    """U = γ ẑ + β per unit over the batch (μ, biased σ², ε) for bn; else Z itself."""
    if not layer.batchnorm:
        return sp.Matrix(Z)
    eps = EPSILON_VALUE
    cols = []
    for j in range(Z.cols):
        col = Z[:, j]
        mean = sum(col) / Z.rows
        variance = sum((v - mean) ** 2 for v in col) / Z.rows
        zhat = [(v - mean) / sp.sqrt(variance + eps) for v in col]
        cols.append([P["gamma"][j] * v + P["beta"][j] for v in zhat])
    return sp.Matrix([[cols[j][n] for j in range(Z.cols)] for n in range(Z.rows)])


def _output(U: sp.Matrix, layer, mask, region: dict | None, seen: list | None) -> sp.Matrix:
    """A = f(U) row by row, then ⊙ mask / (1 − q) for dropout."""
    if seen is not None and len(activations.TABLE[layer.activation].pieces) > 1:
        seen.extend(float(v.xreplace(region)) for v in U)
    A = sp.Matrix.vstack(*(_activate(layer, U[n, :].T, region).T for n in range(U.rows)))
    if mask is not None:
        A = A.multiply_elementwise(mask) * keep_scale(sp.nsimplify(layer.dropout))
    return A


def _data_risk(A: sp.Matrix, Y: sp.Matrix, spec: NetworkSpec) -> sp.Expr:
    """(1/N) Σ_n Σ_i ℓ(a_ni, y_ni)."""
    ell = losses.LOSSES[spec.loss].ell
    total = sum(
        ell.xreplace({losses.a: A[n, i], losses.y: Y[n, i]})
        for n in range(A.rows)
        for i in range(A.cols)
    )
    return total / A.rows


def _penalty(W: sp.Matrix, spec: NetworkSpec) -> sp.Expr:
    """Ω(W): L1/L2 penalise W only."""
    out = sp.S.Zero
    for value, name in ((spec.l2, "l2"), (spec.l1, "l1")):
        if value:
            omega = losses.REGULARISERS[name].omega
            out += sum(omega.xreplace({losses.W: w, losses.lam: sp.nsimplify(value)}) for w in W)
    return out


def brute_force_risk(
    inst: Instance, region: dict | None = None, seen: list | None = None, tape: list | None = None
) -> sp.Expr:
    """R of one mini-batch from the definitions alone (no step of the derivation).

    With `seen`, the value at `region` of every input of a piecewise activation is recorded.
    With `tape`, every entry of each stage (Z, the activation's input, A) is a fresh symbol
    defined on the tape by its expression in the previous stage's symbols, and its value
    is put into `region` (which must then hold every input's value): the risk is a small
    expression over the last stage, each step of the definitions a small expression.
    """
    spec = inst.spec
    stage = (lambda M: M) if tape is None else (lambda M: _stage(M, tape, region))
    A = inst.X
    for P, layer, mask in zip(inst.params, spec.layers, inst.masks):
        U = stage(_activation_input(stage(_net_input(A, P, layer)), P, layer))
        A = stage(_output(U, layer, mask, region, seen))
    return _data_risk(A, inst.Y, spec) + sum(_penalty(P["W"], spec) for P in inst.params)


def _stage(M: sp.Matrix, tape: list, values: dict) -> sp.Matrix:
    """M's entries as fresh symbols: (symbol, entry) on the tape, the entry's value in
    `values` (a number: evaluated at DIGITS where SymPy leaves a function unevaluated)."""
    out = []
    for e in M:
        s = sp.Dummy("t", real=True)
        v = e.xreplace(values)
        values[s] = v if v.is_Number else sp.N(v, DIGITS)
        tape.append((s, e))
        out.append(s)
    return sp.Matrix(M.rows, M.cols, out)


def recurrence_gradients(
    d: Derivation, inst: Instance, values: dict, region: dict | None = None
) -> list[sp.Expr]:
    """Every forward and backward step of `d` evaluated on explicit matrices, in parameter order."""
    spec = inst.spec
    sub = lambda M: M.xreplace(values)
    env = {
        LAMBDA1: sp.nsimplify(spec.l1),
        LAMBDA2: sp.nsimplify(spec.l2),
        EPSILON: EPSILON_VALUE,
    }
    sizes = {N: inst.X.rows} | {layer_symbols(l).m: w for l, w in enumerate(spec.widths)}
    mats: dict = {
        _batch("A", 0, d): sub(inst.X),
        sp.MatrixSymbol("Y", N, layer_symbols(spec.depth).m): sub(inst.Y),
    }
    ev = lambda e: matrixform.evaluate(e.xreplace(env), sizes, mats, region)
    for layer, P, mask in zip(d.layers, inst.params, inst.masks):
        l = layer.l
        mats[_w(l)] = sub(P["W"])
        if "b" in P:
            mats[_b(l)] = sub(P["b"])
        else:
            x = names(l)
            mats[x.gamma], mats[x.beta] = sub(P["gamma"]), sub(P["beta"])
        if mask is not None:
            mats[names(l).Mask] = mask
        for step in batch_forward(layer):
            mats[step.batch_lhs] = ev(step.batch)
    grads: dict[int, list[sp.Expr]] = {}
    for layer in reversed(d.layers):  # each δ, then its layer's gradients (W first)
        steps = batch_backward(layer)
        first = next(n for n, step in enumerate(steps) if step is layer.grad_W)
        grads[layer.l] = []
        for n, step in enumerate(steps):
            value = ev(step.batch)
            mats[step.batch_lhs] = value
            if n >= first:  # dW, then db or dgamma, dbeta
                grads[layer.l] += list(value)
    return [g for l in sorted(grads) for g in grads[l]]


def brute_force_partials(inst: Instance, point: dict) -> list[mpmath.mpf]:
    """∂R/∂w at `point` for every parameter w of `inst`, in `inst.parameters` order.

    The risk from the definitions, staged (`brute_force_risk` with a tape: every stage's
    entries named, each defined by a small expression), is differentiated by reverse
    accumulation: each tape entry's `diff` by each of its symbols, at the point's values,
    times the adjoint of the entry, summed into the symbol's adjoint. The same derivative as
    `diff` of the whole tree, whose shared subexpressions (every sample's normalisation reads
    the same batch statistics) `diff` would copy once per path — exponential in the number
    of bn layers — at a cost linear in the network's size and one sweep for all parameters.
    """
    values, tape = dict(point), []
    R = sp.Dummy("R", real=True)
    tape.append((R, brute_force_risk(inst, region=values, tape=tape)))
    adjoint: dict = {R: sp.Integer(1)}
    for c, e in reversed(tape):
        bar = adjoint.pop(c, 0)
        if bar == 0:
            continue
        for u in e.free_symbols:
            slope = sp.diff(e, u).xreplace(values)
            adjoint[u] = adjoint.get(u, 0) + bar * (
                slope if slope.is_Number else sp.N(slope, DIGITS)
            )
    return [_mpf(adjoint.get(w, 0)) for w in inst.parameters]


def _near_kink(inst: Instance, point: dict) -> bool:
    """Some input of a piecewise activation within KINK_MARGIN of 0 (or a weight, with L1)."""
    if inst.spec.l1 and any(abs(point[w]) < KINK_MARGIN for P in inst.params for w in P["W"]):
        return True
    if all(len(activations.TABLE[x.activation].pieces) == 1 for x in inst.spec.layers):
        return False
    seen: list[float] = []
    brute_force_risk(inst, region=dict(point), seen=seen, tape=[])
    return any(abs(v) < KINK_MARGIN for v in seen)


def verify(
    d: Derivation,
    *,
    points: int = 3,
    samples: int = MIN_SAMPLES,
    seed: int = 0,
    symbolic: bool = True,
) -> Report:
    """Prove `d` (a spec with bn or dropout layers) on its covering instance; see the
    docstring.

    The symbolic part runs first: where it is complete (a proof on its own), one numeric
    point cross-checks the instance's wiring; otherwise all `points` are compared.
    """
    samples = max(samples, MIN_SAMPLES)
    c = cover_normalised(d.spec)
    small = instance_spec(c, 2)
    d_small, mismatches = transplant(d, c, small)
    status = _symbolic(d, samples=samples) if symbolic else "skipped"
    if status.startswith(DONE):
        points = min(points, 1)
    rng = random.Random(seed)
    inst = Instance(small, samples, rng)
    params = inst.parameters
    worst = 0.0
    with mpmath.workdps(DIGITS):
        for _ in range(points):
            for _try in range(200):
                point = random_point(inst, rng, DIGITS)
                if not _near_kink(inst, point):
                    break
            else:
                raise CheckError("could not find a point away from the kinks")
            expected = brute_force_partials(inst, point)
            got = [_mpf(g) for g in recurrence_gradients(d_small, inst, point)]
            for w, e, g in zip(params, expected, got):
                diff = abs(g - e)
                worst = max(worst, float(diff))
                if diff > mpmath.mpf("1e-50") * max(1, abs(e)):
                    mismatches.append(
                        f"d R / d {w}: brute force {mpmath.nstr(e, 12)}, "
                        f"derivation {mpmath.nstr(g, 12)}"
                    )
    links = small.depth + 1 if symbolic else 0  # data -> Z(1), Z(l) -> Z(l+1), Z(L) -> R
    return Report(
        small,
        samples,
        len(params),
        points,
        worst,
        status,
        mismatches[:10],
        renaming=_renaming_text(c),
        links=links,
    )


def _renaming_text(c) -> str:
    """Which network layers and links each instance layer and link stands for."""
    L, K = c.spec.depth, len(c.layers)
    pairs = ", ".join(c.pairs())
    if c.layers == tuple(range(1, L + 1)):
        return f"none: the network is its own covering instance (pairs {pairs})"
    return (
        f"network layers -> instance layers {c.describe()}; network links -> instance "
        f"links {describe_links(c)} (link 0: the data to Z(1), link l: Z(l) to Z(l+1), link "
        f"{L}: Z({L}) to the risk): the instance's {K + 1} links proven, the network's "
        f"{L + 1} links are them renamed (the steps of a network layer and of its instance "
        f"layer equal after renaming, {len(compared_layers(c))} comparisons); instance pairs "
        f"{pairs}"
    )


# -- the symbolic part: layer by layer, joined by the chain rule ------------------------------


@dataclass
class Block:
    """One link of the chain, from the definitions: Z(l) -> Z(l+1) (block l; block 0 starts
    at the data, block L ends in the risk), with its inputs, parameters and the upstream
    error D = N ∂R/∂Z(l+1) as free symbols.

    `objective` is what each derivation output must be the derivative of: Σ D ⊙ Z(l+1) for
    a link (δ(l) = ∂/∂Z(l); ∂R/∂γ, ∂R/∂β, ∂R/∂b = (1/N) ∂/∂(·); ∂R/∂W = (1/N) ∂/∂W + Ω′),
    N R_data for the last (δ(L) = ∂/∂Z(L)).
    """

    l: int
    mats: dict  # the derivation's names -> explicit symbol matrices (or data)
    steps: list  # derivation steps to evaluate in order (forward from Z(l), then backward)
    wanted: list  # (what, step, brute-force matrix): "Z" a forward value, else partials
    upstream: list  # the symbols of D (none for the last link)


def _symbols(stem: str, rows: int, cols: int) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix(
        rows, cols, lambda n, j: sp.Symbol(f"{stem}_{n + 1}{j + 1}", real=True)
    )


def _partials(objective: sp.Expr, wrt: sp.Matrix, scale: sp.Expr = 1, extra=None) -> sp.Matrix:
    out = sp.Matrix(wrt.rows, wrt.cols, lambda i, j: scale * sp.diff(objective, wrt[i, j]))
    if extra is not None:
        out += sp.Matrix(wrt.rows, wrt.cols, lambda i, j: sp.diff(extra, wrt[i, j]))
    return out


def blocks(
    d: Derivation, inst: Instance, data: dict, region: dict, skip: frozenset = frozenset()
) -> list[Block]:
    """The links of `inst` (every layer's steps, once each) with their brute-force partials;
    the links Z(l) -> Z(l+1) numbered in `skip` left out."""
    spec, L, n = inst.spec, inst.spec.depth, inst.X.rows
    layers = d.layers
    out = []
    Z = [None] + [_symbols(f"z{l}", n, spec.widths[l]) for l in range(1, L + 1)]
    D = [None] + [_symbols(f"d{l}", n, spec.widths[l]) for l in range(1, L + 1)]
    P = inst.params
    third = sp.Rational(1, n)

    def mats_of(l: int) -> dict:
        """Layer l's parameters and mask under the derivation's names."""
        m = {_w(l): P[l - 1]["W"]}
        if "b" in P[l - 1]:
            m[_b(l)] = P[l - 1]["b"]
        else:
            x = names(l)
            m[x.gamma], m[x.beta] = P[l - 1]["gamma"], P[l - 1]["beta"]
        if inst.masks[l - 1] is not None:
            m[names(l).Mask] = inst.masks[l - 1]
        return m

    def next_parameters(l: int, objective, nxt) -> list:
        """∂R/∂W(nxt) and ∂R/∂b(nxt) (no b when nxt is normalised): Z(nxt) is built here."""
        layer = layers[nxt - 1]
        Pn = P[nxt - 1]
        wanted = [
            ("W", layer.grad_W, _partials(objective, Pn["W"], third, _penalty(Pn["W"], spec)))
        ]
        if "b" in Pn:
            wanted.append(("b", layer.grad_b, _partials(objective, Pn["b"], third)))
        return wanted

    # block 0: the data to Z(1)
    X = inst.X.xreplace(data)
    Z1 = _net_input(X, P[0], spec.layers[0])
    objective = sum(D[1].multiply_elementwise(Z1))
    mats = {_batch("A", 0, d): X, layers[0].delta.batch_lhs: D[1]} | mats_of(1)
    wanted = [("Z", layers[0].forward_z, Z1), *next_parameters(0, objective, 1)]
    out.append(Block(0, mats, [], wanted, list(D[1])))
    # block l: Z(l) -> Z(l+1)
    for l in range(1, L):
        if l in skip:
            continue
        layer, spec_l, Pl = layers[l - 1], spec.layers[l - 1], P[l - 1]
        U = _activation_input(Z[l], Pl, spec_l)
        A = _output(U, spec_l, inst.masks[l - 1], region, None)
        Znext = _net_input(A, P[l], spec.layers[l])
        objective = sum(D[l + 1].multiply_elementwise(Znext))
        forward = list(batch_forward(layer))[1:]  # from Z(l) on
        backward = list(batch_backward(layer))
        first = backward.index(layer.grad_W)
        delta = backward[first - 1]
        # the forward steps too: Z(l+1) from Z(l), so each link starts where the last ended
        wanted = [("Z", layers[l].forward_z, Znext), ("delta", delta, _partials(objective, Z[l]))]
        if spec_l.batchnorm:
            norm = layer.norm
            wanted += [
                ("gamma", norm.grad_gamma, _partials(objective, Pl["gamma"], third)),
                ("beta", norm.grad_beta, _partials(objective, Pl["beta"], third)),
            ]
        wanted += next_parameters(l, objective, l + 1)
        mats = {layer.forward_z.batch_lhs: Z[l], layers[l].delta.batch_lhs: D[l + 1]}
        mats |= mats_of(l) | mats_of(l + 1)
        # A(l) feeds ∂R/∂W(l+1): computed by the derivation's forward steps from Z(l)
        steps = forward + backward[: first - 1]
        out.append(Block(l, mats, steps, wanted, list(D[l + 1])))
    # block L: Z(L) to the risk
    last, spec_L = layers[L - 1], spec.layers[L - 1]
    Y = inst.Y.xreplace(data)
    A = _output(Z[L], spec_L, None, region, None)
    objective = n * _data_risk(A, Y, spec)
    mats = {last.forward_z.batch_lhs: Z[L], sp.MatrixSymbol("Y", N, layer_symbols(L).m): Y}
    mats |= mats_of(L)
    wanted = [("delta", last.delta, _partials(objective, Z[L]))]
    out.append(Block(L, mats, [last.forward_a], wanted, []))
    return out


def _region(inst: Instance, rng: random.Random) -> dict | None:
    """Random values for every symbol of the links, with each input of a piecewise
    activation (and, with L1, each weight) at least KINK_MARGIN from its kink."""
    spec, n, L = inst.spec, inst.X.rows, inst.spec.depth
    Z = [None] + [_symbols(f"z{l}", n, spec.widths[l]) for l in range(1, L + 1)]
    D = [None] + [_symbols(f"d{l}", n, spec.widths[l]) for l in range(1, L + 1)]
    free = [*inst.parameters, *(s for M in Z[1:] + D[1:] for s in M)]
    for _try in range(200):
        region = {s: sp.Float(rng.uniform(-1.5, 1.5), DIGITS) for s in free}
        inputs = [
            v
            for l, layer in enumerate(spec.layers, start=1)
            if len(activations.TABLE[layer.activation].pieces) > 1
            for v in (
                _activation_input(Z[l], inst.params[l - 1], layer) if l < L else Z[l]
            ).xreplace(region)
        ]
        weights = [region[w] for P in inst.params for w in P["W"]] if spec.l1 else []
        if all(abs(v) >= KINK_MARGIN for v in [*inputs, *weights]):
            return region
    return None


def _symbolic(
    d: Derivation, seconds: int | None = None, width: int = 2, samples: int = MIN_SAMPLES
) -> str:
    """Layer by layer: each link's derivation outputs minus the derivatives of its objective
    (`Block`), with every input, parameter and upstream error a symbol, reduced to 0.

    It runs on the covering instance of `d` (`cover_bn`), whose steps are `d`'s renamed; a
    network layer that differs from its instance layers after renaming fails it.
    By the chain rule the links prove the whole: δ(L) = N ∂R/∂Z(L) (the last link), and if
    δ(l+1) = N ∂R/∂Z(l+1), the link Z(l) -> Z(l+1), proven for every value of D, gives δ(l)
    and the gradients of the parameters inside it. The forward steps are proven the same way:
    Z(1) from the data, and Z(l+1) from Z(l), equal their definitions, so every value a link
    reads is the network's. Each layer's steps are evaluated once, on
    the numeric part's instance (width 2, 3 for softmax; a batch of 3; exact data, fixed
    masks); a wrong entry is told apart from one cancel cannot reduce by its value at the
    region's point. A step the links cannot evaluate (say, one reading a matrix outside its
    link) leaves the part incomplete.
    """
    c = cover_normalised(d.spec)
    small = instance_spec(c, width)
    d, mismatches = transplant(d, c, small)  # the instance's steps: the network's, renamed
    if mismatches:
        return f"FAILED: {mismatches[0]}"
    if seconds is None:  # the work is one link per layer: the limit grows with them
        seconds = max(30, SECONDS_PER_LINK * (small.depth + 1))
    reused = repeated_links(d)  # j -> j0: link j is link j0 renamed, proven once
    rng = random.Random(1)
    inst = Instance(small, samples, rng)
    for j, j0 in reused.items():  # its mask too: the same link, to the data
        inst.masks[j - 1] = inst.masks[j0 - 1]
    exact = random_point(inst, rng, DIGITS)
    data = {
        s: sp.Rational(round(float(v) * 8), 8)
        for s, v in exact.items()
        if s in set(inst.X) | set(inst.Y)
    }
    env = {
        LAMBDA1: sp.nsimplify(small.l1),
        LAMBDA2: sp.nsimplify(small.l2),
        EPSILON: EPSILON_VALUE,
    }
    sizes = {N: samples} | {layer_symbols(l).m: w for l, w in enumerate(small.widths)}
    count, forward, left, per_link = 0, 0, [], {}
    try:
        with _time_limit(seconds):
            region = _region(inst, rng)
            if region is None:
                return "numeric only: no point of the instance is away from the kinks"
            for b in blocks(d, inst, data, region, skip=frozenset(reused)):
                per_link[b.l] = (count, forward)
                mats = dict(b.mats)
                for step in b.steps:
                    mats[step.batch_lhs] = _ev(step.batch, env, sizes, mats, region)
                for what, step, expected in b.wanted:
                    got = _ev(step.batch, env, sizes, mats, region)
                    for i, (g, e) in enumerate(zip(got, expected)):
                        difference = _fix_region(g, region) - _fix_region(e, region)
                        if what == "Z":
                            forward += 1
                        else:
                            count += 1
                        if _vanishes(difference, b.upstream if what != "Z" else []):
                            continue
                        size = abs(sp.N(difference.xreplace(region), DIGITS))
                        if size > 1e-40:
                            should = (
                                "its definition"
                                if what == "Z"
                                else "the derivative of its link's objective"
                            )
                            return (
                                f"FAILED: {step.label}, entry {i + 1}, is not {should} "
                                f"(off by {float(size):.3g})"
                            )
                        left.append(f"{step.label}[{i + 1}]")
                per_link[b.l] = (count - per_link[b.l][0], forward - per_link[b.l][1])
    except DerivationError as e:
        return f"numeric only: a step could not be evaluated within its link ({e})"
    except TimeoutError:
        return (
            f"numeric only: the layer-by-layer cancellation did not finish in {seconds} s "
            f"({count} partials and {forward} forward values reduced to 0)"
        )
    if left:
        return (
            f"numeric only: cancel left forms for {', '.join(left)} that are 0 to {DIGITS} digits"
        )
    renamed = sum(per_link[j0][0] for j0 in reused.values())
    forward += sum(per_link[j0][1] for j0 in reused.values())
    how = f"{count} by cancel per layer from symbolic inputs and upstream errors"
    if reused:
        how += (
            f", {renamed} by renaming links {', '.join(map(str, reused))} "
            f"to links {', '.join(map(str, reused.values()))}"
        )
    return (
        f"difference = 0 for all {count + renamed} partials of {small.compact} "
        f"({how} with {forward} forward values too)"
    )


def _ev(e, env: dict, sizes: dict, mats: dict, region: dict) -> sp.Matrix:
    return matrixform.evaluate(e.xreplace(env), sizes, mats, region)


def _vanishes(difference: sp.Expr, upstream: list) -> bool:
    """`difference` is 0, by cancel on each coefficient of the upstream error D.

    Both sides are linear in D. Where every ∂(difference)/∂d is free of D the difference is
    affine in D, so it is 0 exactly when its value at D = 0 and each of those coefficients
    is: each coefficient holds one sample's f′, not the product of all the samples'
    denominators that cancel on the whole sum has to expand. Otherwise: cancel on the whole.
    """
    coefficients = [sp.diff(difference, d) for d in upstream]
    if any(c.has(*upstream) for c in coefficients):
        return sp.cancel(difference) == 0
    rest = difference.xreplace({d: 0 for d in upstream})
    return all(sp.cancel(c) == 0 for c in [rest, *coefficients])
