"""Each activation's derivative and its output form, against independent references."""

import math

import pytest
import sympy as sp

from symfnn import activations
from symfnn.activations import a, derive_activation, z

ELEMENTWISE = [name for name, act in activations.TABLE.items() if not act.output_only]
POINTS = (-2.3, -0.7, 0.4, 1.9)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_matches_finite_differences(name):
    d = derive_activation(name)
    f = sp.lambdify(z, d.f, "mpmath")
    fprime = sp.lambdify(z, d.fprime, "mpmath")
    h = 1e-6
    for x in POINTS:
        numeric = (float(f(x + h)) - float(f(x - h))) / (2 * h)
        assert math.isclose(float(fprime(x)), numeric, rel_tol=1e-6, abs_tol=1e-9)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_output_form_is_proven_and_agrees(name):
    d = derive_activation(name)
    assert d.proven and d.fprime_of_a is not None
    for x in POINTS:
        at_a = d.fprime_of_a.subs(a, d.f.subs(z, x))
        assert abs(float(at_a - d.fprime.subs(z, x))) < 1e-12


@pytest.mark.parametrize(
    "name, expected",
    [
        ("sigmoid", a * (1 - a)),
        ("tanh", 1 - a**2),
        ("relu", sp.Piecewise((1, a > 0), (0, True))),
        ("softplus", 1 - sp.exp(-a)),
        ("identity", sp.Integer(1)),
    ],
)
def test_textbook_output_forms(name, expected):
    assert sp.simplify(derive_activation(name).fprime_of_a - expected) == 0


def test_parameters_are_bound():
    assert derive_activation("leaky_relu", 0.2).fprime_of_a == sp.Piecewise(
        (1, a > 0), (sp.Rational(1, 5), True)
    )
    elu = derive_activation("elu", 0.5).fprime_of_a
    assert elu.subs(a, sp.Rational(-1, 4)) == sp.Rational(1, 4)  # a + alpha on the negative piece


def test_relu_derivative_at_zero_is_zero_not_half():
    # Heaviside(0) = 1/2 is SymPy's default; the table uses Piecewise so f'(0) = 0.
    assert derive_activation("relu").fprime.subs(z, 0) == 0


def test_a_wrong_inverse_is_caught(monkeypatch):
    wrong = activations.Activation("bad", "b", ((1 / (1 + sp.exp(-z)), sp.true, sp.log(a)),))
    monkeypatch.setitem(activations.TABLE, "bad", wrong)
    with pytest.raises(Exception, match="could not prove"):
        derive_activation.__wrapped__("bad")
