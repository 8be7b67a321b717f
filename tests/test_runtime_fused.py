"""train()'s fast path: the backward pass at the optimiser's scale and the fused update.

The references are the textbook updates written here on the script's own `gradients()`
(the whole gradient, penalty included): a scale applied twice or not at all, a decay with
the wrong factor, a lost L1 term or a bias given the weights' penalty fails these tests.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symfnn.engine import training
from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.script import codegen


@pytest.fixture(scope="module")
def script():
    return codegen.load(derive(parse("3-4:tanh-2:softmax", l2=0.05, l1=0.01)))


def _update(kind: str, theta: dict, state: dict, g: dict, lr: float) -> None:
    for k, value in theta.items():
        if kind == "sgd":
            theta[k] = value - lr * g[k]
        elif kind == "momentum":
            state[k] = 0.9 * state.get(k, 0.0) - lr * g[k]
            theta[k] = value + state[k]


@pytest.mark.parametrize("kind", ["sgd", "momentum"])
@pytest.mark.parametrize("clip", [None, 100.0])
def test_fused_training_equals_the_update_of_the_whole_gradient(script, kind, clip):
    """One full batch per epoch (the shuffle cannot matter): after each epoch the weights
    are the textbook update of gradients(), whose L2 and L1 terms apply to W only."""
    rng = np.random.default_rng(5)
    data = {"X_train": rng.normal(size=(6, 3)), "Y_train": np.eye(2)[rng.integers(0, 2, 6)]}
    start = script.init_params(2, "xavier", np.float64)
    theta, state, expected = {k: p.copy() for k, p in start.items()}, {}, []
    for _ in range(3):
        _, g = script.gradients(theta, data["X_train"], data["Y_train"])
        _update(kind, theta, state, g, 0.3)
        expected.append({k: p.copy() for k, p in theta.items()})
    params, seen = {k: p.copy() for k, p in start.items()}, []
    script.train(params, data, epochs=3, batch_size=6, lr=0.3, optimizer=kind, patience=0,
                 clip_norm=clip, callback=lambda e, p, h: seen.append({k: v.copy() for k, v in p.items()}),
                 log=lambda *a: None)  # fmt: skip
    for want, got in zip(expected, seen, strict=True):
        for k in got:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-12)


def test_the_gradient_scale_is_read_from_the_update_rule():
    assert codegen.gradient_scale(training.OPTIMIZERS["sgd"]) == training.ALPHA
    assert codegen.gradient_scale(training.OPTIMIZERS["momentum"]) == training.ALPHA
    assert codegen.gradient_scale(training.OPTIMIZERS["adam"]) == 1  # not linear in g


def test_a_recurrence_not_linear_in_the_next_error_cannot_carry_the_scale():
    D, W = sp.MatrixSymbol("Delta2", 5, 3), sp.MatrixSymbol("W2", 3, 4)
    A = sp.MatrixSymbol("A1", 5, 4)
    assert codegen.linear_in(sp.HadamardProduct(A, D * W), D)
    assert not codegen.linear_in(sp.HadamardProduct(D * W, D * W), D)
    assert not codegen.linear_in(D * W + A, D)


def test_gradients_returns_the_error_terms_unscaled(script):
    """deltas of gradients() are the equations' Delta_l, not the kept scale / N times them:
    the output layer's is A_L - Y exactly."""
    rng = np.random.default_rng(1)
    params = script.init_params(0, "xavier", np.float64)
    X, Y = rng.normal(size=(7, 3)), np.eye(2)[rng.integers(0, 2, 7)]
    _, _, deltas = script.gradients(params, X, Y, return_deltas=True)
    np.testing.assert_allclose(deltas["Delta2"], script.predict(params, X) - Y, rtol=1e-12)


def test_predict_and_error_in_chunks_equal_the_whole_forward_pass(script):
    """More rows than network.CHUNK: predict and error, computed a chunk at a time, agree
    with forward() over all rows at once, and hold one chunk's buffers."""
    rng = np.random.default_rng(2)
    params = script.init_params(0, "xavier", np.float64)
    n = 2 * script.CHUNK + 7
    X = rng.normal(size=(n, 3))
    Y = np.eye(2)[rng.integers(0, 2, n)]
    whole = script.forward(params, X)[-1]
    np.testing.assert_array_equal(script.predict(params, X), whole)
    wrong = np.count_nonzero(whole.argmax(1) != Y.argmax(1))
    assert script.error(params, X, Y) == wrong / n
    sizes = [len(ws["Z1"]) for ws in script.NET._workspaces.values()]
    assert max(sizes) <= script.CHUNK


@pytest.mark.parametrize(
    "text, loss",
    [
        ("5-4:relu-3:softmax", None),
        ("4-5:leaky_relu-3:elu-2:sigmoid", "binary_cross_entropy"),
        ("3-4:softplus-1:identity", "squared_error"),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_bound_step_is_the_printed_passes_to_the_bit(text, loss, dtype):
    """train()'s step (_passes: the printed statements with their arrays, functions and
    number operands bound once, `scale / N` and `0` as 0-d arrays of the batch's dtype)
    gives the very bits of the printed _forward and _backward run as written."""
    mod = codegen.load(derive(parse(text, loss=loss)))
    params = mod.init_params(0, None, dtype)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((7, mod.WIDTHS[0])).astype(dtype)
    Y = mod.NET.random_targets(rng, 7).astype(dtype)
    scale = 0.37
    buffers = lambda: mod.NET.forward_buffers(7, dtype) | mod.NET.backward_buffers(7, dtype)
    bound = mod.NET.passes(params, X, Y, buffers(), scale)()
    ws = buffers()
    A, Z = mod.NET.forward_pass(params, X, ws)
    printed = mod.NET.backward_pass(params, A, Z, Y, ws, scale)[0]
    assert bound.keys() == printed.keys()
    for k in printed:
        assert bound[k].dtype == dtype and np.array_equal(bound[k], printed[k]), k
