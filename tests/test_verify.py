"""The proof passes on every architecture of the table, and fails on a corrupted rule."""

from dataclasses import replace

import pytest
import sympy as sp
from archs import ARCHITECTURES, spec
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from symfnn import derive as D
from symfnn.derive import derive
from symfnn.spec import parse
from symfnn.verify import small_instance, verify


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_every_architecture_is_proven(name):
    report = verify(derive(spec(name)), points=2)
    assert report.ok, report.lines()
    assert report.worst < 1e-50
    assert report.partials == small_instance(spec(name)).parameter_count
    assert report.symbolic.startswith("cancel(difference) = 0")


def _corrupt(d, l, field, new_batch):
    layers = list(d.layers)
    step = getattr(layers[l - 1], field)
    layers[l - 1] = replace(layers[l - 1], **{field: replace(step, batch=new_batch)})
    return replace(d, layers=tuple(layers))


def test_wrong_sigmoid_derivative_is_caught():
    d = derive(parse("3-3:sigmoid-3:sigmoid-3:softmax"))
    x = sp.Symbol("x")
    good = d.layers[0].delta.batch
    g, rest = good.args
    bad = sp.HadamardProduct(ElementwiseApplyFunction(sp.Lambda(x, x * (1 + x)), g.expr), rest)
    report = verify(_corrupt(d, 1, "delta", bad), points=1, symbolic=False)
    assert not report.ok and report.mismatches


def test_missing_transpose_is_caught():
    d = derive(parse("3-3:tanh-3:tanh-3:softmax"))  # square W, so W vs Wᵀ both fit
    good = d.layers[0].delta.batch
    bad = good.replace(lambda e: isinstance(e, sp.MatrixSymbol) and e.name == "W2", lambda e: e.T)
    assert bad != good
    report = verify(_corrupt(d, 1, "delta", bad), points=1, symbolic=False)
    assert not report.ok


def test_wrong_l2_factor_is_caught():
    d = derive(parse("3-3:tanh-3:softmax", l2=0.1))
    bad = d.layers[1].grad_W.batch.xreplace({D.LAMBDA2: 2 * D.LAMBDA2})
    report = verify(_corrupt(d, 2, "grad_W", bad), points=1, symbolic=False)
    assert not report.ok
    assert any("w2_" in m for m in report.mismatches)


def test_symbolic_part_catches_a_wrong_output_error():
    d = derive(parse("2-2:tanh-2:sigmoid"))
    bad = d.layers[1].delta.batch * 2
    report = verify(_corrupt(d, 2, "delta", bad), points=1)
    assert report.symbolic.startswith("FAILED") and not report.ok


def test_report_lines():
    lines = verify(derive(spec("article")), points=1).lines()
    assert lines[-1].endswith("PROVEN")
    assert any("partial derivatives" in line for line in lines)
