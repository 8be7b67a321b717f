"""The proof passes on every architecture of the table, and fails on a corrupted rule."""

from dataclasses import replace

import pytest
import sympy as sp
from archs import ARCHITECTURES, spec
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from symfnn.engine import derive as D
from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.engine.verify import Report, reduce_to_zero, small_instance, verify

DEEP = "3-3:sigmoid-3:sigmoid-3:sigmoid-3:sigmoid-3:sigmoid-3:softmax"


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_every_architecture_is_proven(name):
    report = verify(derive(spec(name)), points=2)
    assert report.proven, report.lines()
    assert report.worst < 1e-50
    assert report.partials == small_instance(spec(name)).parameter_count  # no repeated pairs


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


def test_softplus_chains_prove():
    """exp(b + w log(1 + e^z)) vs (1 + e^z)^w e^b: plain cancel cannot see they are equal."""
    report = verify(derive(parse("2-2:softplus-2:softplus")), points=1)
    assert report.verdict == "PROVEN", report.lines()
    assert "cancel in exp form" in report.symbolic


def test_reduce_to_zero_tries_rewritings_and_refuses_a_nonzero():
    z, w = sp.symbols("z w", real=True)
    same = (1 + sp.exp(z)) ** w - sp.exp(w * sp.log(1 + sp.exp(z)))
    assert sp.cancel(same) != 0 and reduce_to_zero(same) is not None
    assert reduce_to_zero(sp.tanh(z) - (1 - sp.exp(-2 * z)) / (1 + sp.exp(-2 * z))) is not None
    assert reduce_to_zero(sp.exp(z) * (1 + w) - sp.exp(z)) is None


def test_unreduced_but_numerically_zero_is_numeric_only_not_failed(monkeypatch):
    import symfnn.engine.verify as V

    monkeypatch.setattr(V, "reduce_to_zero", lambda e: None)  # SymPy "cannot" reduce anything
    report = verify(derive(parse("2-2:tanh-2:sigmoid")), points=1)
    assert report.verdict == "NUMERIC ONLY" and report.ok, report.lines()
    assert report.symbolic.startswith("numeric only: SymPy reduced 0 of")


def test_a_skipped_symbolic_part_is_never_proven():
    report = verify(derive(parse("2-2:tanh-2:sigmoid")), points=1, symbolic=False)
    assert report.verdict == "NUMERIC ONLY" and not report.proven


def test_deep_network_is_proven_on_its_covering_instance():
    report = verify(derive(parse(DEEP, l2=0.01)), points=1)
    assert report.proven, report.lines()
    assert report.instance.compact == "2-2:sigmoid-2:sigmoid-3:softmax"
    assert "2..5 -> 2" in report.renaming


def test_a_corrupted_middle_layer_fails_the_renaming():
    """Layer 4 is not the instance's representative: only the renaming can see it."""
    d = derive(parse(DEEP))
    bad = d.layers[3].delta.batch * 2
    report = verify(_corrupt(d, 4, "delta", bad), points=1, symbolic=False)
    assert report.verdict == "FAILED"
    assert any("layer 4's delta" in m for m in report.mismatches)


@pytest.mark.parametrize(
    "corruption",
    ["sigmoid derivative a(1+a)", "dropped f' factor in the recurrence"],
)
def test_a_corrupted_rule_fails_the_faster_proof(monkeypatch, corruption):
    """A wrong rule corrupts every layer alike, so the renaming agrees: the proof must fail."""
    from symfnn.engine import activations

    real, real_in_a = activations.derive_activation.__wrapped__, D._in_terms_of_a
    x = activations.a

    def wrong_derivative(name, param=None):
        act = real(name, param)
        return replace(act, fprime_of_a=x * (1 + x)) if name == "sigmoid" else act

    def dropped_factor(index, act, cur):  # δ_l = W_{l+1}ᵀ δ_{l+1}, without f'(z_l)
        full = real_in_a(index, act, cur)
        return sp.Mul(*(f for f in sp.Mul.make_args(full) if not f.has(cur.a[D.p])))

    for f in (D._layer_templates, D.output_error, D.general_steps):
        f.cache_clear()
    if corruption.startswith("sigmoid"):
        monkeypatch.setattr(D, "derive_activation", wrong_derivative)
    else:
        monkeypatch.setattr(D, "_in_terms_of_a", dropped_factor)
    try:
        report = verify(derive(parse(DEEP)), points=1, symbolic=False)
    finally:
        for f in (D._layer_templates, D.output_error, D.general_steps):
            f.cache_clear()
    assert report.verdict == "FAILED", report.lines()
    assert report.mismatches


def test_extreme_parameters_compare_relatively():
    report = verify(derive(parse("2-2:leaky_relu=1000-2:identity", l1=1000)), points=1)
    assert report.proven, report.lines()
    assert report.worst < 1e-50  # relative: absolute differences here are ~1e-54 x 1e6
    assert any(line.startswith("worst relative difference") for line in report.lines())


def test_rounding_is_not_a_mismatch(monkeypatch):
    """Too few digits for the tolerance: the differences shrink at twice the digits, so they
    are rounding; the verdict is INCONCLUSIVE with the reason, not FAILED."""
    import symfnn.engine.verify as V

    monkeypatch.setattr(V, "DIGITS", 12)
    report = verify(derive(parse("2-2:tanh-2:sigmoid")), points=1, symbolic=False)
    assert not report.mismatches, report.lines()
    assert report.verdict == "INCONCLUSIVE" and "shrink" in report.inconclusive
    assert report.digits == 24


def test_verdicts():
    base = Report(parse("2-2:tanh-2:sigmoid"), 2, 12, 1, 1e-60, "cancel(difference) = 0 …")
    assert base.verdict == "PROVEN" and base.ok
    assert replace(base, symbolic="numeric only: x").verdict == "NUMERIC ONLY"
    assert replace(base, inconclusive="too large").verdict == "INCONCLUSIVE"
    assert not replace(base, mismatches=["d R / d w"]).ok
    assert replace(base, symbolic="FAILED: x").verdict == "FAILED"
