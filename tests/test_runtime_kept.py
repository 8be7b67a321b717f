"""train() keeps what it builds for a run (its flat weights, its plan of bound steps) on the
script's network for the next run of the same shape: runs of other shapes, dtypes and
learning rates in between must not leak into a run.

The reference is the textbook SGD update on the script's own `gradients()` (one epoch of
one full batch: neither the shuffle nor early stopping's choice of epoch can matter), which
uses none of train()'s kept arrays.
"""

from __future__ import annotations

import numpy as np
import pytest

from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.script import codegen

L2 = 0.01


@pytest.fixture(scope="module")
def script():
    return codegen.load(derive(parse("5-4:relu-3:softmax", l2=L2)))


def _reference(script, params: dict, data: dict, lr: float, epochs: int) -> dict:
    theta = {k: v.copy() for k, v in params.items()}
    for _ in range(epochs):
        _, g = script.gradients(theta, data["X_train"], data["Y_train"], l2=L2)
        theta = {k: theta[k] - lr * g[k] for k in theta}  # g holds L2's term already
    return theta


def test_runs_of_other_shapes_between_two_runs_leave_no_trace(script):
    rng = np.random.default_rng(3)
    runs = [  # (dtype, rows = batch, lr): the first one again at the end
        (np.float64, 8, 0.1),
        (np.float64, 8, 0.3),  # the first's shape at another learning rate
        (np.float32, 8, 0.1),
        (np.float64, 6, 0.2),
        (np.float64, 9, 0.3),
        (np.float64, 7, 0.05),
        (np.float32, 5, 0.1),
        (np.float64, 8, 0.1),
    ]
    for at, (dtype, n, lr) in enumerate(runs):
        X = rng.normal(size=(n, 5)).astype(dtype)
        data = {"X_train": X, "Y_train": np.eye(3, dtype=dtype)[rng.integers(0, 3, n)]}
        params = script.init_params(at, "he", dtype)
        expected = _reference(script, params, data, lr, epochs=1)
        script.train(
            params, data, epochs=1, batch_size=n, lr=lr, optimizer="sgd", l2=L2,
            patience=0, seed=at, log=lambda *a, **k: None,
        )  # fmt: skip
        tol = 1e-5 if dtype == np.float32 else 1e-12
        for k in params:
            np.testing.assert_allclose(params[k], expected[k], rtol=tol, atol=tol, err_msg=k)
