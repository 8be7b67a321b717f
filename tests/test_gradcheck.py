"""`symfnn check`: passes on generated scripts, fails on wrong ones, even self-consistent ones.

Corruptions are made the way a bug would make them while keeping the script importable:
wrappers appended to the script's text replace its public `loss` / `gradients` / `forward`
(the stable API), so the tests do not depend on how the printed lines look.
"""

from __future__ import annotations

import numpy as np
import pytest

from symfnn.cli import main
from symfnn.engine.derive import derive
from symfnn.engine.spec import parse
from symfnn.errors import CheckError, SymfnnError
from symfnn.script import codegen, gradcheck, reference
from symfnn.script.runtime import gradcheck as core

# every activation, loss and regulariser, in small nets (SymPy brute force included)
SMALL = [
    ("3-3:sigmoid-3:tanh-3:softmax", {"l2": 0.001}),
    ("3-3:relu-3:leaky_relu-2:identity", {"l1": 0.01}),
    ("3-3:elu-3:softplus-2:sigmoid", {"l1": 0.01, "l2": 0.01}),
    ("2-3:tanh-2:sigmoid", {"loss": "squared_error"}),
    ("4-8:tanh-3:softmax", {"loss": "squared_error"}),  # softmax + squared error (issue 8)
]


@pytest.mark.parametrize("text, options", SMALL)
def test_check_passes_on_small_networks_against_sympy(text, options):
    spec = parse(text, **options)
    result = gradcheck.run(spec=spec)
    assert result.ok, "\n".join(result.lines())
    brute = {r.name: r.brute_rel for r in result.rows if r.brute_rel is not None}
    assert {f"W{spec.depth}", f"b{spec.depth}"} <= set(brute)  # the output layer at least
    assert max(brute.values()) < 1e-12
    assert result.sympy_risk is not None and result.sympy_risk[1] < 1e-14
    assert result.lines()[-1] == "verdict: PASSED"


def test_check_of_a_large_network_uses_subsets_directions_and_taylor():
    result = gradcheck.run(spec=parse("64-48:relu-10:softmax", l2=0.001))
    assert result.ok, "\n".join(result.lines())
    assert set(result.directional) == set(result.batches) and len(result.batches) >= 2
    assert all(1.8 < s < 2.5 for s in result.slopes.values())
    assert all(r.checked + r.skipped <= gradcheck.SUBSET for r in result.rows)
    assert sum(r.brute_checked for r in result.rows) >= 2 * gradcheck.BRUTE_SAMPLE


def test_sympy_goes_down_from_the_output_layer_within_its_budget():
    """A deep sigmoid net: SymPy's written-out risk branches at every layer; the lower
    layers are left to finite differences, said so, and the check stays quick."""
    import time

    spec = parse("3-4:sigmoid-4:sigmoid-4:sigmoid-4:sigmoid-4:sigmoid-2:softmax")
    assert not gradcheck.affordable(spec, 1, gradcheck.BRUTE_BATCH)  # tree 4^4 * 2^2 * 2
    assert gradcheck.affordable(spec, spec.depth, gradcheck.BRUTE_BATCH)
    module = codegen.load(derive(spec))
    began = time.process_time()
    result = gradcheck.check(module, spec)
    assert time.process_time() - began < gradcheck.SYMPY_SECONDS + 5
    assert result.ok, "\n".join(result.lines())
    covered = {r.name for r in result.rows if r.brute_rel is not None}
    assert {"W6", "b6"} <= covered and "W1" not in covered
    assert any("finite differences only" in line for line in result.lines())


def test_cost_of_the_written_out_risk_branches_only_at_non_linear_layers():
    relu = parse("5-6:relu-6:relu-3:softmax")
    tanh = parse("5-6:tanh-6:tanh-3:softmax")
    assert gradcheck.cost(relu, 1, 2)[1] == 2 * 3 * 3  # samples x outputs x normaliser
    assert gradcheck.cost(tanh, 1, 2)[1] == 2 * 3 * 3 * 6  # each unit of layer 2 a copy
    assert gradcheck.cost(tanh, 1, 2)[0] == 2 * (6 * 6 + 6 * 7 + 3 * 7)


# -- the reference --------------------------------------------------------------------------


def test_reference_risk_is_the_definition_written_by_hand():
    """R of a 2-3:tanh-2:softmax net with L2, by hand in NumPy, against reference.risk."""
    spec = parse("2-3:tanh-2:softmax", l2=0.01)
    rng = np.random.default_rng(1)
    p = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=3)}
    p |= {"W2": rng.normal(size=(2, 3)), "b2": rng.normal(size=2)}
    X, Y = rng.normal(size=(5, 2)), np.eye(2)[[0, 1, 1, 0, 1]]
    a1 = np.tanh(X @ p["W1"].T + p["b1"])
    e = np.exp(a1 @ p["W2"].T + p["b2"])
    a2 = e / e.sum(1, keepdims=True)
    by_hand = -np.sum(Y * np.log(a2)) / 5 + 0.005 * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
    assert reference.risk(spec, p, X, Y, l2=0.01) == pytest.approx(by_hand, rel=1e-14)


def test_reference_dropout_needs_its_mask():
    """Dropout in training mode without a mask: an error, not a guess (issue 11; the bn
    reference is tested against torch and by hand in tests/test_bn_script.py)."""
    spec = parse("3-4:tanh:dropout=0.5-2:softmax")
    p = {"W1": np.ones((4, 3)), "b1": np.zeros(4), "W2": np.ones((2, 4)), "b2": np.zeros(2)}
    with pytest.raises(ValueError, match="needs its mask"):
        reference.risk(spec, p, np.zeros((2, 3)), np.eye(2))


def test_reference_does_not_call_the_script():
    """The checker's reference risk stays right when the script's loss is wrong."""
    spec = parse("3-2:tanh-2:softmax", l2=0.01)
    module = codegen.load(derive(spec))
    params, batches, _, l2 = gradcheck._problem(spec, np.random.default_rng(0))
    X, Y = batches[0]
    before = reference.risk(spec, params, X, Y, 0.0, l2)
    module.loss = lambda *args, **kw: 0.0
    assert reference.risk(spec, params, X, Y, 0.0, l2) == before
    result = gradcheck.check(module, spec, sympy=False)
    assert not result.ok and all(x.verdict == "wrong" for x in result.losses)


# -- corrupted scripts ------------------------------------------------------------------------

# 14, 62 and 250 parameters; W2 is square in each (for the transposed corruption); the
# 250-parameter net is checked on coordinate subsets with directions and the Taylor test.
NETS = {
    14: ("3-2:tanh-2:softmax", {"l2": 0.01}),
    62: ("3-5:sigmoid-5:tanh-2:softmax", {"l2": 0.01}),
    250: ("2-10:relu-10:tanh-10:softmax", {"l2": 0.01}),
}

_HEAD = '''

# -- corrupted by tests/test_gradcheck.py ------------------------------------------------------
_loss, _gradients, _forward_ = loss, gradients, forward


def _lam(l2):
    return L2 if l2 is None else l2


def _omega(params, l2):
    return sum(_lam(l2) / 2 * float(np.sum(p**2)) for k, p in params.items() if k[0] == "W")


def _split(params, X, Y, l1, l2):
    """(data term, penalty) of R, and their gradients, from the script's own functions."""
    data, gd = _gradients(params, X, Y, 0.0, 0.0)
    full, gf = _gradients(params, X, Y, l1, l2)
    return data, full - data, gd, {k: gf[k] - gd[k] for k in gf}
'''

# name -> the functions appended; each keeps loss and gradients consistent unless noted
CORRUPTIONS = {
    "doubled": """
def loss(params, X, Y, l1=None, l2=None):
    return 2 * _loss(params, X, Y, l1, l2)


def gradients(params, X, Y, l1=None, l2=None):
    R, g = _gradients(params, X, Y, l1, l2)
    return 2 * R, {k: 2 * v for k, v in g.items()}
""",
    "l2_twice": """
def loss(params, X, Y, l1=None, l2=None):
    return _loss(params, X, Y, l1, l2) + _omega(params, l2)


def gradients(params, X, Y, l1=None, l2=None):
    R, g = _gradients(params, X, Y, l1, l2)
    g = {k: v + _lam(l2) * params[k] if k[0] == "W" else v for k, v in g.items()}
    return R + _omega(params, l2), g
""",
    "sum_not_mean": """
def loss(params, X, Y, l1=None, l2=None):
    data, penalty, _, _ = _split(params, X, Y, l1, l2)
    return len(X) * data + penalty


def gradients(params, X, Y, l1=None, l2=None):
    data, penalty, gd, gp = _split(params, X, Y, l1, l2)
    return len(X) * data + penalty, {k: len(X) * gd[k] + gp[k] for k in gd}
""",
    "batch_of_3": """
def loss(params, X, Y, l1=None, l2=None):
    data, penalty, _, _ = _split(params, X, Y, l1, l2)
    return len(X) / 3 * data + penalty


def gradients(params, X, Y, l1=None, l2=None):
    data, penalty, gd, gp = _split(params, X, Y, l1, l2)
    return len(X) / 3 * data + penalty, {k: len(X) / 3 * gd[k] + gp[k] for k in gd}
""",
    # not consistent: the loss has no such term
    "l2_on_a_bias": """
def gradients(params, X, Y, l1=None, l2=None):
    R, g = _gradients(params, X, Y, l1, l2)
    return R, {k: v + _lam(l2) * params[k] if k[0] == "b" else v for k, v in g.items()}
""",
    "W2_off_by_1e-4": """
def gradients(params, X, Y, l1=None, l2=None):
    R, g = _gradients(params, X, Y, l1, l2)
    return R, {k: v * (1 + 1e-4) if k == "W2" else v for k, v in g.items()}
""",
    "W2_transposed": """
def _t(params):
    return {k: p.T.copy() if k == "W2" else p for k, p in params.items()}


def loss(params, X, Y, l1=None, l2=None):
    return _loss(_t(params), X, Y, l1, l2)


def gradients(params, X, Y, l1=None, l2=None):
    R, g = _gradients(_t(params), X, Y, l1, l2)
    return R, _t(g)


def forward(params, X):
    return _forward_(_t(params), X)
""",
}
# a wrapper that changes nothing must pass: the wrapping itself is not what fails
NEUTRAL = """
def loss(params, X, Y, l1=None, l2=None):
    return _loss(params, X, Y, l1, l2)


def gradients(params, X, Y, l1=None, l2=None):
    return _gradients(params, X, Y, l1, l2)
"""
CONSISTENT = {"doubled", "l2_twice", "sum_not_mean", "batch_of_3", "W2_transposed"}


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    """One clean generated script per network size."""
    folder = tmp_path_factory.mktemp("scripts")
    out = {}
    for size, (text, options) in NETS.items():
        spec = parse(text, **options)
        assert spec.parameter_count == size
        out[size] = codegen.write(derive(spec), folder / f"train_{size}.py")
    return out


def _corrupt(clean, tmp_path, body: str):
    path = tmp_path / f"corrupted_{clean.stem}.py"
    path.write_text(clean.read_text() + _HEAD + body)
    return path


@pytest.mark.parametrize("size", NETS)
@pytest.mark.parametrize("body", [None, NEUTRAL], ids=["clean", "neutral_wrapper"])
def test_check_script_passes_on_a_clean_script(scripts, tmp_path, size, body):
    path = scripts[size] if body is None else _corrupt(scripts[size], tmp_path, body)
    result = gradcheck.run(script=path, sympy=False)
    assert result.ok, "\n".join(result.lines())
    assert max(r.rel for r in result.rows) < 1e-8
    assert max(x.rel for x in result.losses) < 1e-13
    assert len(result.batches) >= 2 and not set(result.batches) & set(parse(NETS[size][0]).widths)
    assert (size > gradcheck.FULL_LIMIT) == bool(result.taylor)


@pytest.mark.parametrize("size", NETS)
@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_check_script_fails_on_a_corrupted_script(scripts, tmp_path, size, kind):
    result = gradcheck.run(script=_corrupt(scripts[size], tmp_path, CORRUPTIONS[kind]), sympy=False)
    assert not result.ok and result.lines()[-1] == "verdict: FAILED"
    failing = {r.name for r in result.rows if r.verdict in core.FAILING}
    # for a large net the sampled coordinates or the random directions show it
    if size <= gradcheck.FULL_LIMIT or kind != "W2_off_by_1e-4":
        assert failing, "\n".join(result.lines())
    else:
        assert failing or any(
            v in core.FAILING for v in map(gradcheck.verdict, result.directional.values())
        )
    wrong_loss = any(x.verdict in core.FAILING for x in result.losses)
    # a wrong risk is seen as such (W2ᵀ: unless W2 happens to be symmetric)
    assert wrong_loss == (kind in CONSISTENT)
    if kind == "l2_on_a_bias":
        assert failing == {"b1", "b2", "b3"} & set(failing) and failing
        assert not any(name.startswith("W") for name in failing)
    if kind == "W2_off_by_1e-4":
        assert failing <= {"W2"}
        assert all(2e-5 < r.rel < 1e-4 for r in result.rows if r.name == "W2")


def test_check_script_compares_forward_with_the_reference(scripts, tmp_path):
    """predict/forward wrong while loss and gradients are right: (a) sees it."""
    body = """
def forward(params, X):
    A = _forward_(params, X)
    return A[:-1] + [A[-1] * (1 + 1e-5)]
"""
    result = gradcheck.run(script=_corrupt(scripts[14], tmp_path, body), sympy=False)
    assert not result.ok
    assert all(4e-6 < x.forward_rel < 1e-5 for x in result.losses)
    assert not [r for r in result.rows if r.verdict in core.FAILING]
    clean = gradcheck.run(script=scripts[14], sympy=False)
    assert max(x.forward_rel for x in clean.losses) < 1e-14


def test_a_hard_coded_batch_size_fails_at_the_other_size(scripts, tmp_path):
    """At a batch of 3 the corrupted script is right; the check never uses only that size."""
    path = _corrupt(scripts[14], tmp_path, CORRUPTIONS["batch_of_3"])
    module = codegen.load(path)
    spec = parse(NETS[14][0], **NETS[14][1])
    X, Y = gradcheck._batch(spec, 3, np.random.default_rng(0))
    params, _, _, l2 = gradcheck._problem(spec, np.random.default_rng(0))
    assert module.loss(params, X, Y, None, l2) == pytest.approx(
        reference.risk(spec, params, X, Y, 0.0, l2), rel=1e-14
    )
    result = gradcheck.run(script=path, sympy=False)
    assert not result.ok and all(x.verdict == "wrong" for x in result.losses if x.batch != 3)


@pytest.mark.parametrize("kind", ["doubled", "W2_transposed", "l2_on_a_bias"])
def test_sympy_alone_catches_a_corruption(scripts, tmp_path, kind):
    """(c) on its own: the script's gradients against SymPy's at sampled coordinates
    (a clean script agrees to < 1e-12: test_check_passes_on_small_networks_against_sympy)."""
    result = gradcheck.run(script=_corrupt(scripts[14], tmp_path, CORRUPTIONS[kind]))
    brute = [r.brute_rel for r in result.rows if r.brute_rel is not None]
    assert len(brute) == 4 and max(brute) > 1e-3


def test_cli_check_of_a_corrupted_script_exits_1(scripts, tmp_path, capsys):
    path = _corrupt(scripts[14], tmp_path, CORRUPTIONS["doubled"])
    assert main(["check", "--script", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.rstrip().endswith("verdict: FAILED")
    assert main(["check", "--script", str(scripts[14])]) == 0


# -- other scripts --------------------------------------------------------------------------


@pytest.mark.parametrize("param", [0.123456789, 1e-05, 0.1 + 0.2])
def test_compact_specs_round_trip_through_a_script(tmp_path, param):
    """SPEC["compact"] re-derives the same network: its parameter exactly (repr)."""
    text = f"3-4:elu={param!r}-2:identity"
    path = tmp_path / "train.py"
    codegen.write(derive(parse(text, l2=0.01)), path)
    module = codegen.load(path)
    spec = gradcheck._spec_of(module, path)
    assert spec.layers[0].param == param
    assert parse(module.SPEC["compact"]) == parse(text)
    assert gradcheck.run(script=path, sympy=False).ok


def test_check_script_fails_on_a_corrupted_printed_line(tmp_path):
    """A printed line changed as a typo would: the σ' = a(1 - a) step loses its a."""
    path = tmp_path / "train.py"
    codegen.write(derive(parse("4-6:sigmoid-6:tanh-3:softmax", l2=0.01)), path)
    text = path.read_text()
    line = "fprime1 *= A1"
    if line not in text:
        pytest.skip("the printed sigmoid derivative changed its form")
    path.write_text(text.replace(line, "fprime1 *= 1", 1))
    result = gradcheck.run(script=path, sympy=False)
    assert not result.ok
    assert {r.name for r in result.rows if r.verdict in core.FAILING} == {"W1", "b1"}


def test_check_script_reports_a_script_that_breaks(tmp_path):
    path = tmp_path / "train.py"
    codegen.write(derive(parse("3-4:sigmoid-3:softmax")), path)
    path.write_text(
        path.read_text() + _HEAD + "\ndef gradients(*args):\n    raise ValueError('shapes')\n"
    )
    with pytest.raises(CheckError, match="gradients failed: ValueError: shapes"):
        gradcheck.run(script=path, sympy=False)


def test_kinks_are_reported_and_skipped(monkeypatch):
    original = gradcheck._problem

    def at_kinks(spec, rng):
        params, batches, l1, l2 = original(spec, rng)
        X = batches[0][0]
        params["W2"][0, 0] = 0.0  # |w| of L1 has its kink here
        params["b1"][:] = -(X[0] @ params["W1"].T)  # z of sample 0 is 0 in every unit
        return params, batches, l1, l2

    monkeypatch.setattr(gradcheck, "_problem", at_kinks)
    result = gradcheck.run(spec=parse("2-3:relu-2:identity", l1=0.01))
    assert result.ok, "\n".join(result.lines())
    rows = {(r.name, r.batch): r for r in result.rows}
    first = result.batches[0]
    assert rows["W2", first].skipped >= 1 and rows["b1", first].skipped == 3
    assert any("crosses a kink" in line for line in result.lines())


def test_bad_script_path_is_a_one_line_error(tmp_path):
    with pytest.raises(SymfnnError) as info:
        gradcheck.run(script=tmp_path / "nope.py")
    assert "\n" not in str(info.value)
    other = tmp_path / "other.py"
    other.write_text("x = 1\n")
    with pytest.raises(SymfnnError, match="symfnn training script"):
        gradcheck.run(script=other)


# -- the shared core (runtime/gradcheck.py) ---------------------------------------------------


def test_bands_follow_from_the_step():
    err64 = core.fd_error(np.float64)
    assert 5e-11 < err64 < 1e-10
    assert [gradcheck.verdict(x) for x in (1e-9, 1e-7, 1e-4, 0.5)] == [
        "good",
        "acceptable",
        "doubtful",
        "wrong",
    ]
    assert gradcheck.verdict(5e-5) in core.FAILING  # a 1e-4 relative error in a gradient
    assert core.fd_bands(np.float32) == core.USUAL_BANDS  # float32: the usual bands


def test_batch_sizes_avoid_every_width():
    assert core.batch_sizes((3, 2, 2)) == [5, 7]
    assert core.batch_sizes((64, 10)) == [2, 3]
    sizes = core.batch_sizes(tuple(range(1, 30)))
    assert len(sizes) == 2 and min(sizes) >= 30


def test_core_compares_any_risk_with_any_gradient():
    """fd_compare on a quadratic: right gradient good at every coordinate, a wrong one not."""
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    risk = lambda p, X, Y: float(0.5 * p["w"] @ A @ p["w"] + X.sum() * p["c"].sum())
    right = lambda p, X, Y: {"w": A @ p["w"], "c": np.full(1, X.sum())}
    wrong = lambda p, X, Y: {"w": A.T @ p["w"] * (1 + 1e-4), "c": np.full(1, X.sum())}
    params = {"w": np.array([0.3, -0.7]), "c": np.array([0.1])}
    X = np.ones((2, 1))
    good = core.fd_compare(risk, right, params, X, X, directions=3)
    assert core.fd_passed(good) and max(r["rel"] for r in good["rows"]) < 1e-9
    bad = core.fd_compare(risk, wrong, params, X, X)
    assert not core.fd_passed(bad)
    assert [r["name"] for r in bad["rows"] if core.fd_verdict(r["rel"]) in core.FAILING] == ["w"]


def test_taylor_direction_avoids_kinks():
    """R = relu(w) + w^2 at w = 1e-4: a step down crosses the kink, the remainder then
    shrinks like h, not h^2; with the sign pattern the direction is drawn again."""
    params = {"w": np.array([1e-4])}
    risk = lambda: float(np.maximum(params["w"], 0).sum() + (params["w"] ** 2).sum())
    grads = {"w": 1 + 2 * params["w"]}
    signs = lambda: [params["w"] > 0]
    seed = next(
        s for s in range(50) if core.random_direction(params, np.random.default_rng(s))["w"][0] < 0
    )
    crossing = core.fd_taylor(params, grads, risk, np.random.default_rng(seed))
    assert core.taylor_slope(crossing) < 1.5
    avoided = core.fd_taylor(params, grads, risk, np.random.default_rng(seed), signs=signs)
    assert 1.9 < core.taylor_slope(avoided) < 2.1
    assert params["w"][0] == 1e-4  # moved back


def test_script_gradcheck_runs_the_shared_core(scripts):
    """The generated script's --gradcheck is core.check_gradients on the script's NET."""
    module = codegen.load(scripts[62])
    net = module.NET
    ok, lines = core.check_gradients(net)
    assert ok and lines[-1] == "gradient check: PASSED"
    assert {int(line.split()[0]) for line in lines[1:] if line.split()[0].isdigit()} == set(
        core.batch_sizes(net.widths)
    )
    net_loss = net.loss
    net.loss = lambda p, X, Y, l1=None, l2=None: net_loss(p, X, Y, l1, l2) * (1 + 1e-3)
    ok, lines = core.check_gradients(net)
    assert not ok and lines[-1] == "gradient check: FAILED"
