"""The derivation engine: textbook results, matrix forms against NumPy, linear cost."""

import numpy as np
import pytest
import sympy as sp
from archs import ARCHITECTURES, spec

from symfnn.engine import derive as D
from symfnn.engine import matrixform
from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.engine.symbols import N, i, layer_symbols, p, q, target


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_every_step_is_checked(name):
    d = derive(spec(name))
    assert len(d.layers) == spec(name).depth
    for layer in d.layers:
        for step in (layer.forward_z, layer.forward_a, layer.delta, layer.grad_W, layer.grad_b):
            assert step.checked, step.label
            assert step.batch is not None
    assert len(set(d.labels)) == len(d.labels)


def test_dz_dw_and_dz_db_are_the_articles():
    g = D.general_steps()
    cur, prev = layer_symbols("l"), layer_symbols("l-1")
    assert g["dz_dW"].index == sp.KroneckerDelta(i, p) * prev.a[q]
    assert g["dz_db"].index == sp.KroneckerDelta(i, p)
    assert g["dz_db"].matrix == sp.Identity(cur.m)
    # SymPy's raw answer is a sum of Kronecker deltas; the folded one is not
    assert g["dz_dW"].raw.has(sp.Sum) and not g["dz_dW"].index.has(sp.Sum)


def test_generic_recurrence():
    g = D.general_steps()["delta"]
    cur, nxt = layer_symbols("l"), layer_symbols("l+1")
    k = sp.Symbol("k", integer=True)
    f = sp.Function("f_l")
    expected = sp.Derivative(f(cur.z[p]), cur.z[p]) * sp.Sum(
        nxt.W[k, p] * nxt.delta[k], (k, 1, nxt.m)
    )
    assert sp.simplify(g.index - expected) == 0


@pytest.mark.parametrize(
    "text, options, expected",
    [
        ("3-4:softmax", {}, "a - y"),
        ("3-4:sigmoid", {}, "a - y"),
        ("3-4:identity", {}, "a - y"),
        ("3-4:sigmoid", {"loss": "mse"}, "(a - y) * a * (1 - a)"),
        ("3-4:tanh", {"loss": "mse"}, "(a - y) * (1 - a**2)"),
    ],
)
def test_output_errors(text, options, expected):
    d = derive(parse(text, **options))
    out = layer_symbols(1)
    y = target()
    want = sp.sympify(expected, locals={"a": out.a[p], "y": y[p]})
    assert sp.simplify(d.layers[-1].delta.index - want) == 0


def _numpy_reference(spec_, params, X, Y):
    """An independent hand-written backprop for the architectures used below."""
    acts = {
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "tanh": np.tanh,
        "relu": lambda z: np.maximum(z, 0),
    }
    dacts = {
        "sigmoid": lambda a: a * (1 - a),
        "tanh": lambda a: 1 - a**2,
        "relu": lambda a: (a > 0) * 1.0,
    }
    A = [X]
    for l, layer in enumerate(spec_.layers, start=1):
        Z = A[-1] @ params[f"W{l}"].T + params[f"b{l}"].T
        if layer.activation == "softmax":
            E = np.exp(Z - Z.max(1, keepdims=True))
            A.append(E / E.sum(1, keepdims=True))
        else:
            A.append(acts[layer.activation](Z))
    n = X.shape[0]
    grads = {}
    delta = A[-1] - Y
    for l in range(spec_.depth, 0, -1):
        grads[f"W{l}"] = delta.T @ A[l - 1] / n + spec_.l2 * params[f"W{l}"]
        grads[f"b{l}"] = delta.sum(0, keepdims=True).T / n
        if l > 1:
            delta = dacts[spec_.layers[l - 2].activation](A[l - 1]) * (delta @ params[f"W{l}"])
    return A, grads


def test_batch_forms_against_independent_numpy():
    spec_ = parse("3-4:sigmoid-5:relu-4:tanh-3:softmax", l2=0.05)
    d = derive(spec_)
    rng = np.random.default_rng(0)
    n = 4
    X = rng.normal(size=(n, 3))
    Y = np.eye(3)[rng.integers(0, 3, n)]
    params = {}
    for l, (m, m_prev) in enumerate(zip(spec_.widths[1:], spec_.widths), start=1):
        params[f"W{l}"] = rng.normal(size=(m, m_prev))
        params[f"b{l}"] = rng.normal(size=(m, 1))
    A_ref, g_ref = _numpy_reference(spec_, params, X, Y)
    sizes = {N: n} | {layer_symbols(l).m: w for l, w in enumerate(spec_.widths)}
    values = {
        sp.MatrixSymbol("A0", N, layer_symbols(0).m): sp.Matrix(X),
        sp.MatrixSymbol("Y", N, layer_symbols(spec_.depth).m): sp.Matrix(Y),
        D.LAMBDA2: None,
    }
    values.pop(D.LAMBDA2)
    for l in range(1, spec_.depth + 1):
        values[sp.MatrixSymbol(f"W{l}", layer_symbols(l).m, layer_symbols(l - 1).m)] = sp.Matrix(
            params[f"W{l}"]
        )
        values[sp.MatrixSymbol(f"b{l}", layer_symbols(l).m, 1)] = sp.Matrix(params[f"b{l}"])
    ev = lambda e: np.array(
        matrixform.evaluate(e.xreplace({D.LAMBDA2: sp.Float(0.05)}), sizes, values), dtype=float
    )
    for layer in d.layers:
        values[layer.forward_z.batch_lhs] = sp.Matrix(ev(layer.forward_z.batch))
        values[layer.forward_a.batch_lhs] = sp.Matrix(ev(layer.forward_a.batch))
        np.testing.assert_allclose(ev(layer.forward_a.batch), A_ref[layer.l], rtol=1e-10)
    for layer in reversed(d.layers):
        values[layer.delta.batch_lhs] = sp.Matrix(ev(layer.delta.batch))
    for layer in d.layers:
        np.testing.assert_allclose(
            ev(layer.grad_W.batch), g_ref[f"W{layer.l}"], rtol=1e-9, atol=1e-12
        )
        np.testing.assert_allclose(
            ev(layer.grad_b.batch), g_ref[f"b{layer.l}"], rtol=1e-9, atol=1e-12
        )


def test_matrix_conversion_check_can_fail():
    cur, nxt = layer_symbols("l"), layer_symbols("l+1")
    mats = D._mats("l", "l+1")
    k = sp.Symbol("k", integer=True)
    index = sp.Sum(nxt.W[k, p] * nxt.delta[k], (k, 1, nxt.m))
    right = matrixform.to_matrix(index, (p,), mats)
    assert right == mats[nxt.W].T * mats[nxt.delta]
    matrixform.check(index, right, (p,), mats, D._sizes())
    square = D._sizes() | {cur.m: 2, nxt.m: 2}  # same shapes, so a missing transpose is well-formed
    with pytest.raises(Exception, match="disagrees"):
        matrixform.check(index, mats[nxt.W] * mats[nxt.delta], (p,), mats, square)


def test_cost_is_per_layer_type_not_per_layer():
    D._layer_templates.cache_clear()
    derive(parse("4-" + "-".join(["6:tanh", "6:relu"] * 15) + "-3:softmax"))
    info = D._layer_templates.cache_info()
    assert info.misses == 2 and info.hits == 28


def test_regulariser_gradients():
    d = derive(parse("3-2:softmax", l1=0.1, l2=0.2))
    W = layer_symbols(1).W
    idx = d.layers[0].grad_W.index
    assert (
        sp.simplify(
            idx
            - (
                D.LAMBDA2 * W[p, q]
                + D.LAMBDA1 * sp.sign(W[p, q])
                + d.general["grad_W"].index.xreplace(D._rename_map("l", 1))
            )
        )
        == 0
    )
    assert d.coefficients == {D.LAMBDA1: 0.1, D.LAMBDA2: 0.2}
    assert derive(parse("3-2:softmax")).regulariser is None
