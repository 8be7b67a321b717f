"""`symfnn check`: passes on generated scripts, fails on corrupted ones."""

from __future__ import annotations

import pytest

from symfnn import codegen, gradcheck
from symfnn.derive import derive
from symfnn.errors import CheckError, SymfnnError
from symfnn.spec import parse

# every activation, loss and regulariser, in small nets (SymPy brute force included)
SMALL = [
    ("3-3:sigmoid-3:tanh-3:softmax", {"l2": 0.001}),
    ("3-3:relu-3:leaky_relu-2:identity", {"l1": 0.01}),
    ("3-3:elu-3:softplus-2:sigmoid", {"l1": 0.01, "l2": 0.01}),
    ("2-3:tanh-2:sigmoid", {"loss": "squared_error"}),
]


@pytest.mark.parametrize("text, options", SMALL)
def test_check_passes_on_small_networks_against_sympy(text, options):
    result = gradcheck.run(spec=parse(text, **options))
    assert result.ok, "\n".join(result.lines())
    assert all(r.brute_rel is not None and r.brute_rel < 1e-9 for r in result.rows)
    assert result.lines()[-1] == "verdict: PASSED"


def test_check_of_a_large_network_uses_subsets_directions_and_taylor():
    result = gradcheck.run(spec=parse("64-48:relu-10:softmax", l2=0.001))
    assert result.ok, "\n".join(result.lines())
    assert result.directional is not None and 1.8 < result.slope < 2.5
    assert all(r.checked + r.skipped <= gradcheck.SUBSET for r in result.rows)


def _script(tmp_path, text="3-4:sigmoid-3:softmax", **options):
    path = tmp_path / "train.py"
    codegen.write(derive(parse(text, **options)), path)
    return path


def test_check_script_passes_on_an_untouched_script(tmp_path):
    assert gradcheck.run(script=_script(tmp_path, l2=0.01)).ok


@pytest.mark.parametrize(
    "line, replacement",
    [
        ("np.matmul(Delta3_N.T, A2, out=dW3)", "np.matmul(Delta3_N.T, A2 * 1.01, out=dW3)"),
        ("np.multiply(Delta1, 1 / N, out=Delta1_N)", "np.copyto(Delta1_N, Delta1)"),  # no 1/N
        ("np.matmul(Delta2, W2, out=Delta1)", "np.matmul(Delta2, W2 * 0.5, out=Delta1)"),
        ("fprime1 *= A1", "fprime1 *= 1"),  # sigma' = a(1 - a) -> 1 - a
        ("dW3 += l2 * W3", "dW3 += 2 * l2 * W3"),
        ("np.matmul(A1, W2.T, out=Z2)", "np.matmul(A1, W2, out=Z2)"),  # a dropped transpose
        ("np.matmul(Delta3, W3, out=Delta2)", "np.matmul(Delta3, W3[::-1], out=Delta2)"),
    ],
)
def test_check_script_fails_on_a_corrupted_line(tmp_path, line, replacement):
    path = _script(tmp_path, "4-6:sigmoid-6:tanh-3:softmax", l2=0.01)  # W2 is square
    text = path.read_text()
    assert line in text
    path.write_text(text.replace(line, replacement, 1))
    result = gradcheck.run(script=path)
    assert not result.ok
    assert result.lines()[-1] == "verdict: FAILED"
    assert any(r.verdict in gradcheck.FAILING for r in result.rows)


def test_check_script_fails_when_a_corrupted_line_breaks_the_shapes(tmp_path):
    path = _script(tmp_path, l2=0.01)
    text = path.read_text()
    path.write_text(
        text.replace("np.matmul(Delta2, W2, out=Delta1)", "np.matmul(Delta2, W2.T, out=Delta1)")
    )
    with pytest.raises(CheckError, match="gradients/loss failed"):
        gradcheck.run(script=path)


def test_kinks_are_reported_and_skipped(monkeypatch):
    original = gradcheck._problem

    def at_kinks(module, spec, rng):
        params, X, Y, l1, l2 = original(module, spec, rng)
        params["W2"][0, 0] = 0.0  # |w| of L1 has its kink here
        params["b1"][:] = -(X[0] @ params["W1"].T)  # z of sample 0 is 0 in every unit
        return params, X, Y, l1, l2

    monkeypatch.setattr(gradcheck, "_problem", at_kinks)
    result = gradcheck.run(spec=parse("2-3:relu-2:identity", l1=0.01))
    assert result.ok, "\n".join(result.lines())
    rows = {r.name: r for r in result.rows}
    assert rows["W2"].skipped >= 1 and rows["b1"].skipped == 3
    assert any("crosses a kink" in line for line in result.lines())


def test_bad_script_path_is_a_one_line_error(tmp_path):
    with pytest.raises(SymfnnError) as info:
        gradcheck.run(script=tmp_path / "nope.py")
    assert "\n" not in str(info.value)
    other = tmp_path / "other.py"
    other.write_text("x = 1\n")
    with pytest.raises(SymfnnError, match="symfnn training script"):
        gradcheck.run(script=other)


def test_verdict_bands():
    assert [gradcheck.verdict(x) for x in (1e-9, 1e-6, 1e-3, 0.5)] == [
        "good",
        "acceptable",
        "doubtful",
        "wrong",
    ]
