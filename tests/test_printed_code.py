"""The proof covers what is printed: every generated script's gradients against brute force.

For every output activation / loss pair the spec allows, and every hidden activation (each
one appears in both hidden positions of some case), the script printed from the derivation
is executed at two batch sizes — 5 (unlike every layer width) and 2 (equal to the output
width, where a vector of the wrong length still fits) — and compared with the
brute-force risk written from the rule tables' definitions (`bruteforce.reference_gradients`),
which knows nothing of the derivation, the recurrence or the printer.
"""

import numpy as np
import pytest

from symfnn.engine import activations, bruteforce, losses
from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.script import codegen

HIDDEN = [name for name, act in activations.TABLE.items() if not act.output_only]
PARAMS = {"leaky_relu": "=0.2", "elu": "=0.5"}  # non-default values, so binding is tested
WIDTHS = (2, 3, 4, 2)  # every W non-square: a transposed W cannot fit
BATCHES = (5, 2)


def _pairs() -> list[tuple[str, str]]:
    """(output activation, loss) for every pair the loss table allows."""
    return [
        (out, loss.name)
        for out in activations.TABLE
        for loss in losses.LOSSES.values()
        if loss.fits is None or out in loss.fits
    ]


def _cases() -> list[tuple[str, dict]]:
    cases = []
    for n, (out, loss) in enumerate(_pairs()):
        h1, h2 = HIDDEN[n % len(HIDDEN)], HIDDEN[(n + 1) % len(HIDDEN)]
        m0, m1, m2, m3 = WIDTHS
        text = f"{m0}-{m1}:{h1}{PARAMS.get(h1, '')}-{m2}:{h2}-{m3}:{out}"
        reg = ({}, {"l2": 0.05}, {"l1": 0.02, "l2": 0.01})[n % 3]
        cases.append((text, {"loss": loss, **reg}))
    return cases


CASES = _cases()


def test_the_cases_cover_every_pair_and_hidden_type():
    assert len(_pairs()) == 10  # softmax: CE, SE; sigmoid: BCE, SE; six more with SE
    texts = " ".join(text for text, _ in CASES)
    for name in HIDDEN:
        assert texts.count(f":{name}") >= 2, name
    assert {opts["loss"] for _, opts in CASES} == set(losses.LOSSES)


def _data(spec, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(n, spec.input_width))
    C = spec.widths[-1]
    if spec.loss == "cross_entropy":
        return X, np.eye(C)[rng.integers(0, C, n)]
    if spec.loss == "binary_cross_entropy":
        return X, rng.integers(0, 2, (n, C)).astype(float)
    return X, rng.normal(size=(n, C))


def _params(spec, rng) -> dict[str, np.ndarray]:
    """Weights of the article's shapes W_l (m_l, m_{l-1}), b_l (m_l,), made here."""
    w = spec.widths
    out = {}
    for l in range(1, len(w)):
        out[f"W{l}"] = rng.normal(0, 0.8, (w[l], w[l - 1]))
        out[f"b{l}"] = rng.normal(0, 0.3, w[l])
    return out


def _worst(module, spec, params, n: int, rng) -> float:
    """The largest |script - reference| over all partials, relative to the largest partial;
    asserts the risks agree and the shapes match."""
    X, Y = _data(spec, n, rng)
    risk, grads = module.gradients({k: v.copy() for k, v in params.items()}, X, Y)
    ref_risk, ref = bruteforce.reference_gradients(spec, X, Y, params)
    assert risk == pytest.approx(ref_risk, rel=1e-11), f"risk, batch of {n}"
    scale = max(float(np.max(np.abs(g))) for g in ref.values())
    worst = 0.0
    for key, expected in ref.items():
        got = np.asarray(grads[key])
        assert got.shape == expected.shape, key
        worst = max(worst, float(np.max(np.abs(got - expected))) / scale)
    return worst


@pytest.mark.parametrize("text, options", CASES, ids=[f"{t} {o['loss']}" for t, o in CASES])
def test_printed_gradients_equal_brute_force(text, options):
    spec = parse(text, **options)
    module = codegen.load(derive(spec))
    rng = np.random.default_rng(len(text))
    params = _params(spec, rng)
    for n in BATCHES:
        assert _worst(module, spec, params, n, rng) < 1e-10, f"batch of {n}"


def test_the_old_softmax_squared_error_misprint_is_caught(tmp_path):
    """Put back the misprint this file was written for: Σ_k over the batch-sized `ones`."""
    spec = parse("2-3:tanh-4:sigmoid-2:softmax", loss="squared_error")
    text = codegen.script(derive(spec))
    lines = text.splitlines(keepends=True)
    bad = [
        line.replace(").sum(axis=1, keepdims=True)", " @ ones) @ ones")
        if "Delta3" in line
        else line
        for line in lines
    ]
    assert bad != lines
    (tmp_path / "bad.py").write_text("".join(bad), encoding="utf-8")
    module = codegen.load(tmp_path / "bad.py")
    rng = np.random.default_rng(0)
    params = _params(spec, rng)
    with pytest.raises(ValueError):  # batch 5: the (5,) ones against 2 classes
        _worst(module, spec, params, 5, rng)
    assert _worst(module, spec, params, 2, rng) > 1e-3  # batch 2 = classes: silently wrong
