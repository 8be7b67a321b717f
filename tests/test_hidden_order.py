"""A hidden layer's buffers are column-major in float32 (runtime hidden_order: BLAS runs the
step's products faster on them), rows otherwise; the output layer's and the gradients' stay
rows. The layout must not change what is computed: train() in float32 with the hidden
buffers column-major ends with the parameters of the same run with every buffer by rows,
and both agree with the textbook SGD update on float64 gradients (an independent
reference: the script's own `gradients()` in float64, whose buffers are rows).
"""

from __future__ import annotations

import numpy as np
import pytest

from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.script import codegen

L2 = 0.01
SPEC = "6-5:relu-4:sigmoid-3:softmax"


@pytest.fixture(scope="module")
def script():
    return codegen.load(derive(parse(SPEC, l2=L2)))


def _order(a: np.ndarray) -> str:
    return "C" if a.flags.c_contiguous else "F" if a.flags.f_contiguous else "?"


def test_hidden_buffers_column_major_in_float32_only(script):
    L = len(script.WIDTHS) - 1
    for dtype, hidden in ((np.float32, "F"), (np.float64, "C")):
        ws = script.NET.workspace(7, dtype)
        for name, a in ws.items():
            if a.ndim != 2 or a.shape[0] != 7 or a.shape[1] == 1:
                continue
            layer = int(name.lstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
            assert _order(a) == (hidden if layer < L else "C"), (dtype, name)


def _train(script, params: dict, data: dict, lr: float) -> dict:
    params = {k: v.copy() for k, v in params.items()}
    script.train(
        params, data, epochs=1, batch_size=len(data["X_train"]), lr=lr, optimizer="sgd",
        l2=L2, patience=0, seed=0, log=lambda *a, **k: None,
    )  # fmt: skip
    return params


def test_layout_leaves_the_update_unchanged():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((16, 6)).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)]
    data, lr = {"X_train": X, "Y_train": Y}, 0.1
    column = codegen.load(derive(parse(SPEC, l2=L2)))
    rows = codegen.load(derive(parse(SPEC, l2=L2)))
    rows.hidden_order = lambda dtype: "C"  # the script's global: every buffer by rows
    assert _order(rows.NET.workspace(16, np.float32)["Z1"]) == "C"
    assert _order(column.NET.workspace(16, np.float32)["Z1"]) == "F"
    params = column.init_params(1, None, np.float32)
    ours, theirs = _train(column, params, data, lr), _train(rows, params, data, lr)
    # the textbook step on float64 gradients: one epoch of one full batch
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    _, g = column.gradients(p64, X.astype(np.float64), Y.astype(np.float64), l2=L2)
    for k in params:
        assert np.allclose(ours[k], theirs[k], rtol=0, atol=1e-6), k
        assert np.allclose(ours[k], p64[k] - lr * g[k], rtol=0, atol=1e-5), k


def test_a_run_restores_its_own_weights_after_another_run(script):
    """train()'s copy of the weights for early stopping is kept by the network between runs
    (loop._kept_like): a run whose first epoch diverges must get back its own initial
    weights, not those the previous run of the same shape left in the kept copy."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((12, 6))
    Y = np.eye(3)[rng.integers(0, 3, 12)]
    data = {"X_train": X, "Y_train": Y}
    first = script.init_params(1, None, np.float64)
    _train(script, first, data, 0.1)
    second = script.init_params(2, None, np.float64)
    ours = {k: v.copy() for k, v in second.items()}  # lr 1e300: the first epoch overflows
    history = script.train(
        ours, data, epochs=2, batch_size=12, lr=1e300, optimizer="sgd", l2=L2, patience=0,
        seed=0, log=lambda *a, **k: None,
    )  # fmt: skip
    assert history["stopped"].startswith("non-finite"), history["stopped"]
    for k in second:
        assert np.array_equal(ours[k], second[k]), k
