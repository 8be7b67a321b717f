"""Each activation's derivative and its output form, against independent references."""

import math
from dataclasses import replace

import pytest
import sympy as sp

from symfnn.engine import activations
from symfnn.engine.activations import a, derive_activation, z
from symfnn.engine.hyper import default_init
from symfnn.engine.spec import parse

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


def test_documented_defaults_are_the_codes():
    """README's "(slope, default 0.01)" for each activation with a parameter, read as text."""
    import re
    from pathlib import Path

    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = " ".join(readme.read_text(encoding="utf-8").split())  # lines joined
    documented = {
        name: (param, float(value))
        for name, param, value in re.findall(r"`(\w+)` \((\w+), default ([0-9.e+-]+)\)", text)
    }
    with_param = {n: (act.param, act.default) for n, act in activations.TABLE.items() if act.param}
    assert with_param == documented
    assert documented["leaky_relu"] == ("slope", 0.01) and documented["elu"] == ("alpha", 1.0)
    assert derive_activation("leaky_relu").fprime_of_a.subs(a, -1) == sp.Rational(1, 100)


def test_a_piece_with_f0_not_0_is_refused(monkeypatch):
    """The f(0) = 0 guard: a > 0 stands for z > 0 only if f(0) = 0. Here f(z) = z - 1/2 for
    z > 0, so a in (-1/2, 0] comes from z > 0 too and f'(a) by the sign of a would be wrong."""
    from symfnn.errors import DerivationError

    half = sp.Rational(1, 2)
    shifted = activations.Activation(
        "shifted", "s", ((z - half, z > 0, a + half), (z / 10, sp.true, 10 * a))
    )
    monkeypatch.setitem(activations.TABLE, "shifted", shifted)
    with pytest.raises(DerivationError, match="could not prove"):
        derive_activation.__wrapped__("shifted")
    # the same pieces with f(0) = 0 pass: the guard is what refuses the first
    ok = activations.Activation("ok", "s", ((z, z > 0, a), (z / 10, sp.true, 10 * a)))
    monkeypatch.setitem(activations.TABLE, "ok", ok)
    assert derive_activation.__wrapped__("ok").proven


def test_he_is_the_default_exactly_for_rectifier_nets():
    """default_init reads the table: f(z) = z on z > 0 with another piece below."""
    assert sorted(n for n, act in activations.TABLE.items() if act.rectifier()) == [
        "elu",
        "leaky_relu",
        "relu",
    ]
    assert default_init(parse("4-5:relu-5:elu-3:softmax")) == "he"
    assert default_init(parse("4-5:relu-5:softplus-3:softmax")) == "xavier"
    assert default_init(parse("4-3:softmax")) == "xavier"  # no hidden layer
    relu = activations.TABLE["relu"]
    doubled = replace(relu, pieces=((2 * z, z > 0, None), relu.pieces[1]))
    assert not doubled.rectifier()
