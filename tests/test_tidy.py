"""The tidying stage: every rewrite is proven equal to what SymPy derived, and a wrong
rewrite is caught (the proof is not a formality)."""

from __future__ import annotations

import pytest
import sympy as sp

from symfnn.documents import tidy
from symfnn.documents.latexprint import latex
from symfnn.documents.textprint import text
from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.errors import DerivationError

SPECS = [
    ("4-5:sigmoid-5:tanh-3:softmax", {"l2": 0.01}),
    ("3-8:tanh-2:identity", {}),
    ("8-6:relu-5:sigmoid", {"loss": "binary_cross_entropy", "l1": 1e-5}),
    ("3-4:softplus-2:sigmoid", {"loss": "squared_error"}),
]


@pytest.fixture(scope="module")
def derivations():
    return [derive(parse(text, **options)) for text, options in SPECS]


def _expressions(d):
    """Every SymPy result the printers show: steps at every stage, loss, risk."""
    out = [d.loss.per_sample, d.risk]
    steps = list(d.general.values()) + [d.loss.output_error]
    for layer in d.layers:
        steps += [layer.forward_z, layer.forward_a, layer.delta, layer.grad_W, layer.grad_b]
    for st in steps:
        out += [st.index, st.differentiated, st.raw, st.matrix, st.batch]
        out += [e for _, e in st.stages]
    return [e for e in out if e is not None]


def test_every_rule_is_applied_and_proven(derivations):
    """tidy proves each application (it raises otherwise); each rule fires somewhere."""
    fired = set()
    for d in derivations:
        for e in _expressions(d):
            names = tidy.applied(e)
            if names:
                fired |= set(names)
                tidy.prove_equal(e, tidy.tidy(e), "+".join(names))  # again, whole expression
    assert fired == {rule.name for rule in tidy.RULES}


@pytest.mark.parametrize("rule", [r.name for r in tidy.RULES])
def test_a_wrong_rewrite_is_caught(rule, derivations, monkeypatch):
    """Corrupt one rule as a bug would (a lost factor 2, a dropped sign): tidy refuses it."""
    target = next(e for d in derivations for e in _expressions(d) if rule in tidy.applied(e))
    index = [r.name for r in tidy.RULES].index(rule)
    good = tidy.RULES[index]

    def corrupt(e):
        out = good.apply(e)
        if out is None:
            return None
        if getattr(out, "is_Matrix", False):
            return sp.MatMul(2, out)
        return -out if rule == "sign-out-of-sum" else 2 * out

    rules = list(tidy.RULES)
    rules[index] = tidy.Rule(good.name, good.doc, corrupt)
    monkeypatch.setattr(tidy, "RULES", tuple(rules))
    tidy.tidy.cache_clear()
    try:
        with pytest.raises(DerivationError, match=rule):
            tidy.tidy(target)
    finally:
        tidy.tidy.cache_clear()


def test_textbook_forms(derivations):
    article, regression, multilabel, _ = derivations
    softmax = article.layers[-1].forward_a
    assert isinstance(tidy.tidy(softmax.matrix), tidy.Softmax)
    assert isinstance(tidy.tidy(softmax.batch), tidy.Softmax)
    assert latex(article.loss.per_sample) == r"- \sum_{i=1}^{m^{(L)}} y_{i} \log a^{(L)}_{i}"
    assert "(-" not in text(article.loss.output_error.differentiated)  # no double negative
    assert latex(regression.loss.output_error.stages[0][1]) == r"z^{(L)}_{p} - y_{p}"
    folded = multilabel.loss.output_error.stages[0][1]
    assert sp.count_ops(tidy.tidy(folded)) < sp.count_ops(folded) / 2  # one fraction


def test_sigma_prime_in_terms_of_sigma_is_proven(derivations):
    from dataclasses import replace

    from symfnn.engine.activations import z

    sig = derivations[0].activations["sigmoid"]
    form = tidy.in_terms_of_f(sig)
    assert latex(form) == r"\sigma(z) (1 - \sigma(z))"
    # the same proof refuses a wrong output form: 2 a (1 - a) is not σ'
    bad = replace(sig, fprime_of_a=2 * sig.fprime_of_a)
    with pytest.raises(DerivationError):
        tidy.in_terms_of_f(bad)
    sigma = tidy.activation_function("sigmoid")
    with pytest.raises(DerivationError):
        tidy.prove_equal(sig.fprime, (2 * form).replace(sigma, sp.Lambda(z, sig.f)))


def test_diag_route_equals_hadamard_form(derivations):
    """diag(f'(z)) Wᵀ δ = f'(z) ⊙ (Wᵀ δ) on explicit matrices, and 2 diag(…) is refused."""
    delta = derivations[0].general["delta"].matrix
    fprime = next(a for a in delta.args if not isinstance(a, sp.MatMul))
    rest = next(a for a in delta.args if isinstance(a, sp.MatMul))
    tidy.prove_equal(delta, sp.MatMul(tidy.Diag(fprime), *rest.args))
    with pytest.raises(DerivationError):
        tidy.prove_equal(delta, sp.MatMul(2, tidy.Diag(fprime), *rest.args))
