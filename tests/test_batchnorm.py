"""Batch normalisation and dropout (issue 11): the derivation and its proof."""

import random

import pytest
import sympy as sp

from symfnn.engine import batchnorm
from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.engine.verify import verify

# -- the derivation ---------------------------------------------------------------------------

REGRESSION = "3-2:tanh:bn:dropout=0.25-2:identity"


@pytest.fixture
def fresh_caches():
    """Derive the unit steps anew (a monkeypatched definition must reach them), and after."""
    for f in (batchnorm.unit_steps, batchnorm._lifted_unit_steps):
        f.cache_clear()
    yield
    for f in (batchnorm.unit_steps, batchnorm._lifted_unit_steps):
        f.cache_clear()


def test_sympy_reaches_the_compact_form():
    """The textbook form, typed here as the reference, is what SymPy's result simplifies to."""
    g, zh, n, r, N = batchnorm.dzhat, batchnorm.zhat, batchnorm.n, batchnorm.r, sp.Symbol("N")
    N = batchnorm.N
    textbook = (N * g[r] - sp.Sum(g[n], (n, 1, N)) - zh[r] * sp.Sum(g[n] * zh[n], (n, 1, N))) / (
        N * sp.sqrt(batchnorm.var + batchnorm.EPSILON)
    )
    derived = batchnorm.unit_steps().delta
    assert not derived.index.has(batchnorm.z)
    assert sp.simplify(derived.index - textbook) == 0
    # the raw derivative still runs through μ and σ² (sums over the batch)
    assert derived.raw.has(sp.Sum) and derived.raw.has(sp.KroneckerDelta)


def test_batch_form_equals_differentiating_the_definition_on_numbers():
    """Δ from the derivation's mini-batch form vs ∂/∂Z of Σ G ⊙ Ẑ(Z), with Ẑ from its definition."""
    d = derive(parse("4-2:tanh:bn-3:softmax"))
    delta = d.layers[0].norm.backward[-1]
    x = batchnorm.names(1)
    rng = random.Random(3)
    rnd = lambda: sp.Rational(rng.randint(-9, 9), 7)
    Z = sp.Matrix(3, 2, lambda i, j: sp.Symbol(f"z{i}{j}"))
    G = sp.Matrix(3, 2, lambda i, j: rnd())
    at = {s: rnd() for s in Z}
    eps = batchnorm.EPSILON_VALUE
    mean = [sum(Z[:, j]) / 3 for j in range(2)]
    var = [sum((Z[i, j] - mean[j]) ** 2 for i in range(3)) / 3 for j in range(2)]
    Zhat = sp.Matrix(3, 2, lambda i, j: (Z[i, j] - mean[j]) / sp.sqrt(var[j] + eps))
    objective = sum(G[i, j] * Zhat[i, j] for i in range(3) for j in range(2))
    # G = N ∂R/∂Ẑ, so N ∂R/∂Z = ∂(Σ G ⊙ Ẑ)/∂Z
    expected = sp.Matrix(3, 2, lambda i, j: sp.diff(objective, Z[i, j]).subs(at))
    values = {
        x.Zhat: Zhat.subs(at),
        x.dZhat: G,
        x.var: sp.Matrix([[v.subs(at) for v in var]]),
    }
    sizes = {batchnorm.N: 3, batchnorm.width(1): 2, batchnorm.EPSILON: eps}
    from symfnn.engine import matrixform

    got = matrixform.evaluate(delta.batch.xreplace({batchnorm.EPSILON: eps}), sizes, values)
    assert max(abs(sp.N(v, 50)) for v in got - expected) < 1e-40


def test_a_normalised_layer_has_gamma_and_beta_and_no_bias():
    d = derive(parse("4-5:tanh:bn-3:softmax"))
    norm = d.layers[0].norm
    assert norm.batchnorm and d.layers[1].norm is None
    labels = [s.label for s in norm.steps]
    assert labels[:6] == [
        "forward-z-1",
        "bn-mean-1",
        "bn-variance-1",
        "bn-normalise-1",
        "bn-affine-1",
        "forward-a-1",
    ]
    assert not norm.forward[0].batch.has(sp.MatrixSymbol("b1", batchnorm.width(1), 1))
    assert str(norm.grad_gamma.batch_lhs) == "dgamma1" and d.layers[0].grad_b is norm.grad_beta
    assert all(s.checked for s in norm.steps)


def test_dropout_mask_enters_as_data():
    d = derive(parse("4-5:relu:dropout=0.5-3:softmax"))
    (forward,), (delta,) = d.layers[0].norm.forward, d.layers[0].norm.backward
    mask = batchnorm.names(1).Mask
    assert forward.batch.has(mask) and delta.batch.has(mask)
    assert forward.batch.has(sp.Integer(2)) and delta.batch.has(sp.Integer(2))  # 1/(1 - q)


# -- the proof --------------------------------------------------------------------------------


def test_the_proof_proves_bn_and_dropout():
    d = derive(parse(REGRESSION, loss="squared_error"))
    report = verify(d, points=1, symbolic=False)
    assert report.ok, report.lines()
    assert report.samples >= 3 and report.worst < 1e-50
    assert report.partials == 2 * 2 + 2 + 2 + 2 * 2 + 2  # W1, γ1, β1 (no b1), W2, b2


@pytest.mark.parametrize(
    "path, zhat_of_z",
    [
        # ẑ with μ held constant: the mean's path is dropped
        (
            "mean",
            lambda idx: (
                (batchnorm.z[idx] - batchnorm.mu)
                / sp.sqrt(batchnorm._variance_of_z(batchnorm.mu) + batchnorm.EPSILON)
            ),
        ),
        # ẑ with σ² held constant: the variance's path is dropped
        (
            "variance",
            lambda idx: (
                (batchnorm.z[idx] - batchnorm._mean_of_z())
                / sp.sqrt(batchnorm.var + batchnorm.EPSILON)
            ),
        ),
    ],
)
def test_a_derivation_missing_a_path_fails_the_proof(path, zhat_of_z, monkeypatch, fresh_caches):
    monkeypatch.setattr(batchnorm, "_zhat_of_z", zhat_of_z)
    d = derive(parse(REGRESSION, loss="squared_error"))
    report = verify(d, points=1, symbolic=False)
    assert not report.ok and report.mismatches
    assert "FAILED" in report.lines()[-1]


def test_a_derivation_without_the_dropout_mask_fails_the_proof():
    from dataclasses import replace

    d = derive(parse("3-2:tanh:dropout=0.25-2:identity", loss="squared_error"))
    layer = d.layers[0]
    (delta,) = layer.norm.backward
    mask = batchnorm.names(1).Mask
    wrong = replace(delta, batch=delta.batch.xreplace({mask: sp.OneMatrix(*mask.shape)}))
    layer = replace(layer, norm=replace(layer.norm, backward=(wrong,)), delta=wrong)
    report = verify(replace(d, layers=(layer, *d.layers[1:])), points=1, symbolic=False)
    assert not report.ok


def test_the_terminal_text_shows_the_batch_norm_steps():
    from symfnn.documents.textprint import derivation_text

    out = derivation_text(derive(parse("4-5:tanh:bn:dropout=0.5-3:softmax")))
    assert "Batch normalisation, one unit over the mini-batch" in out
    assert "statistics:" in out and "∂R/∂γ1 =" in out and "M1 ⊙" in out


def test_the_terminal_text_names_the_math_and_updates_gamma_and_beta():
    """`symfnn derive` of a bn spec: γ and β updated like W and b, and the names the
    document prints (γ, ∂R/∂γ, Δ_y, Ẑ, σ²), never the script's (dgamma1, DeltaY1)."""
    import re

    from symfnn.documents.textprint import derivation_text

    out = derivation_text(derive(parse("4-5:tanh:bn-3:softmax")))
    descent = out.split("Plain gradient descent")[1].split("\n\n")[0].splitlines()[1:]
    assert descent == [
        "  W(l) ← W(l) - α ∂R/∂W(l)",
        "  b(l) ← b(l) - α ∂R/∂b(l)",
        "  γ(l) ← γ(l) - α ∂R/∂γ(l)",
        "  β(l) ← β(l) - α ∂R/∂β(l)",
    ]
    for line in ("  σ1² = (1/B) (1_Bᵀ (Z1 - 1_B μ1)^⊙2)", "    dẐ1 = 1_B γ1ᵀ ⊙ Δ_y(1)"):
        assert line in out.splitlines()
    assert "  ∂R/∂β1 = ((1/B) (1_Bᵀ Δ_y(1)))ᵀ" in out and "δ_y[n] = B ∂R/∂y[n]" in out
    running = ["  μ̅(l) ← (1 - ρ) μ̅(l) + ρ μ(l)", "  σ̅(l)² ← (1 - ρ) σ̅(l)² + (B ρ/(B - 1)) σ(l)²"]
    at = out.splitlines().index(running[0])
    assert out.splitlines()[at : at + 2] == running and "(ρ = 0.1, " in out
    internal = r"dgamma|dbeta|DeltaY|dZhat|Zhat|sigma2|mu\d|mu\b|delta_y|Hadamard|epsilon|gamma"
    assert not re.search(internal, out), re.search(internal, out)
    plain = derivation_text(derive(parse("4-5:tanh-3:softmax")))
    assert "γ" not in plain and "β" not in plain


TWO_BN = "3-4:tanh:bn-4:sigmoid:bn-2:identity"  # issue 11's two-BN regression spec


def test_symbolic_cancellation_proves_the_right_form_and_refutes_a_wrong_one(
    monkeypatch, fresh_caches
):
    from symfnn.engine.verify_bn import _symbolic

    spec = parse("3-2:tanh:bn-2:identity", loss="squared_error")
    assert _symbolic(derive(spec), width=1).startswith("difference = 0 for all 11 partials")
    # σ² held constant in ẑ: the variance's path is gone
    monkeypatch.setattr(
        batchnorm,
        "_zhat_of_z",
        lambda idx: (
            (batchnorm.z[idx] - batchnorm._mean_of_z()) / sp.sqrt(batchnorm.var + batchnorm.EPSILON)
        ),
    )
    for f in (batchnorm.unit_steps, batchnorm._lifted_unit_steps):
        f.cache_clear()
    assert _symbolic(derive(spec), width=1).startswith("FAILED: delta-1")


def test_two_normalised_layers_are_proven_symbolically_layer_by_layer():
    """The link proof (verify_bn.blocks) reaches 0 for every entry of the two-BN net."""
    from symfnn.engine.verify_bn import _symbolic

    status = _symbolic(derive(parse(TWO_BN, loss="squared_error")), width=1)
    # links: W1 | δ1 (3), γ1, β1, W2 | δ2 (3), γ2, β2, W3, b3 | δ3 (3)
    # and the forward values Z1, Z2, Z3 (3 samples each)
    assert status == (
        "difference = 0 for all 17 partials of 1-1:tanh:bn-1:sigmoid:bn-1:identity "
        "(17 by cancel per layer from symbolic inputs and upstream errors with 9 forward "
        "values too)"
    )


def _second_layer_with(d, step_label: str, corrupt):
    """`d` with layer 2's backward step `step_label` replaced by corrupt(step)."""
    from dataclasses import replace

    layer = d.layers[1]
    backward = tuple(corrupt(s) if s.label == step_label else s for s in layer.norm.backward)
    assert backward != layer.norm.backward
    norm = replace(layer.norm, backward=backward)
    layer = replace(layer, norm=norm, delta=backward[-1])
    return replace(d, layers=(d.layers[0], layer, *d.layers[2:]))


@pytest.mark.parametrize(
    "what",
    [
        "mean's path",
        "variance's path",
        "γ in N ∂R/∂ẑ of layer 2",
        "1/N of the compact δ of layer 2",
    ],
)
def test_a_wrong_term_fails_the_layer_by_layer_proof(what, monkeypatch, fresh_caches):
    from dataclasses import replace

    from symfnn.engine.verify_bn import _symbolic

    if what == "mean's path":  # ẑ with μ held constant
        monkeypatch.setattr(
            batchnorm,
            "_zhat_of_z",
            lambda idx: (
                (batchnorm.z[idx] - batchnorm.mu)
                / sp.sqrt(batchnorm._variance_of_z(batchnorm.mu) + batchnorm.EPSILON)
            ),
        )
    elif what == "variance's path":  # ẑ with σ² held constant
        monkeypatch.setattr(
            batchnorm,
            "_zhat_of_z",
            lambda idx: (
                (batchnorm.z[idx] - batchnorm._mean_of_z())
                / sp.sqrt(batchnorm.var + batchnorm.EPSILON)
            ),
        )
    d = derive(parse(TWO_BN, loss="squared_error"))
    x = batchnorm.names(2)
    if what.startswith("γ"):
        ones = sp.OneMatrix(*x.gamma.shape)
        d = _second_layer_with(
            d, "bn-dzhat-2", lambda s: replace(s, batch=s.batch.xreplace({x.gamma: ones}))
        )
    elif what.startswith("1/N"):
        d = _second_layer_with(d, "delta-2", lambda s: replace(s, batch=batchnorm.N * s.batch))
    status = _symbolic(d, width=1)
    assert status.startswith("FAILED: delta-"), status
    if what.endswith("layer 2"):  # found in layer 2's link, not elsewhere
        assert status.startswith("FAILED: delta-2"), status


def test_a_wrong_forward_step_fails_the_layer_by_layer_proof():
    """Each link starts from a symbolic Z(l): its Z(l+1) is checked against the definition,
    or a forward step adding b3 twice would leave every backward step right and the proof
    blind."""
    from dataclasses import replace

    from symfnn.engine.verify_bn import _symbolic

    d = derive(parse(TWO_BN, loss="squared_error"))
    last = d.layers[-1]
    b3 = next(ms for ms in last.forward_z.batch.atoms(sp.MatrixSymbol) if ms.name == "b3")
    twice = replace(last.forward_z, batch=last.forward_z.batch.xreplace({b3: 2 * b3}))
    assert twice.batch != last.forward_z.batch
    d = replace(d, layers=(*d.layers[:-1], replace(last, forward_z=twice)))
    assert _symbolic(d, width=1).startswith("FAILED: forward-z-3, entry 1, is not its definition")


def test_two_stacked_normalised_layers_are_proven():
    """δ of layer 1 comes through layer 2's normalisation and mask: PROVEN, the symbolic part
    at the numeric instance's widths, then one numeric point (about 20 s)."""
    d = derive(parse("3-4:tanh:bn-4:sigmoid:bn:dropout=0.5-2:identity", loss="squared_error"))
    report = verify(d)
    assert report.proven, report.lines()
    assert report.partials == 2 * (4 + 2 + 2) + 4 + 2 and report.points == 1
    assert "(40 by cancel per layer" in report.symbolic


def test_an_unfinished_symbolic_part_is_numeric_only_and_compares_every_point(monkeypatch):
    from symfnn.engine import verify_bn

    d = derive(parse(TWO_BN, loss="squared_error"))
    status = verify_bn._symbolic(d, seconds=1)  # about 7 s of work
    assert status.startswith("numeric only: the layer-by-layer cancellation did not finish in 1 s")
    # the numeric part then compares every requested point, not the one cross-check
    monkeypatch.setattr(verify_bn, "_symbolic", lambda d, **kw: status)
    report = verify(derive(parse(REGRESSION, loss="squared_error")), points=2)
    assert report.points == 2 and report.verdict == "NUMERIC ONLY" and not report.proven
