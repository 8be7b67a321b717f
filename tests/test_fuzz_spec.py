"""Fuzzing symfnn's boundary (issue 12): compact specs, TOML files, CLI invocations, write faults.

Every case must end in a result or in one line: no traceback, a one-line printable message,
an exit status in {0, 1, 2}, and no bad value silently accepted. The structured generators
build each case from parts whose validity they know (an independent oracle: this file's
small restatement of the README's rules and limits), so a case symfnn accepts must be one the
oracle calls valid, and the other way round.

`make test` runs a few hundred cases per category, the same ones each time;
`SYMFNN_FUZZ=10000 .venv/bin/python -m pytest -q -s tests/test_fuzz_spec.py` runs 10,000 random
ones per spec/TOML category (1,000 CLI invocations, 40 processes) and prints the tallies.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from fuzzing import TALLY, fuzz, print_tallies
from hypothesis import given
from hypothesis import strategies as st

from symfnn import fileio
from symfnn.cli import main
from symfnn.engine import activations, spec
from symfnn.errors import SpecError
from symfnn.script.runtime import safeio

ROOT = str(Path(__file__).resolve().parents[1])


@pytest.fixture(scope="module", autouse=True)
def _tallies():
    yield
    print_tallies("fuzz tallies")


def one_line(message: str) -> None:
    assert message.strip(), "empty message"
    assert message.isprintable(), f"not one printable line: {message!r}"
    assert len(message) < 600, f"message of {len(message)} characters"
    assert "Traceback" not in message


# -- the oracle's parts: (text, valid?) --------------------------------------------------------

# Hypothesis favours the first and the smallest choices: these put the usual case first.
MOSTLY = st.sampled_from([True] * 5 + [False])
RARELY = st.sampled_from([False] * 5 + [True])

PARAM_ACTS = [n for n in activations.names() if activations.TABLE[n].param]
PLAIN_ACTS = [n for n in activations.names() if not activations.TABLE[n].param]
OUTPUT_ONLY = {n for n in activations.names() if activations.TABLE[n].output_only}


@dataclass(frozen=True)
class Part:
    text: str
    value: object  # what a valid part reads as; None for an invalid one
    ok: bool


def _good_width() -> st.SearchStrategy[Part]:
    small = st.integers(1, 12).map(lambda w: Part(str(w), w, True))
    padded = st.integers(1, 40).flatmap(
        lambda w: st.sampled_from([f" {w}", f"{w} ", f"+{w}", f"00{w}", f"\t{w}"]).map(
            lambda t: Part(t, w, True)
        )
    )
    return st.one_of(small, padded)


def _bad_width() -> st.SearchStrategy[Part]:
    texts = st.sampled_from(
        ["0", "00", "", " ", "abc", "1.5", "3e2", "١٢", "１２", "0x10", "1_0", "three", "+", "٣"]
    )
    huge = st.integers(10, 5000).map(lambda k: "9" * k)  # wider than 100,000,000
    over = st.integers(spec.MAX_WIDTH + 1, 10**12).map(str)
    return st.one_of(texts, huge, over).map(lambda t: Part(t, None, False))


def _good_param() -> st.SearchStrategy[Part]:
    value = st.floats(1e-6, spec.MAX_ACTIVATION_PARAM, allow_nan=False, allow_infinity=False)

    def spellings(v: float) -> st.SearchStrategy[Part]:
        forms = [repr(v), f"{v:e}", f"{v:E}", f"{v:.3e}", f"{v:g}"]
        return st.sampled_from(forms).map(lambda t: Part(t, float(t), 0 < float(t) <= 1e3))

    fixed = st.sampled_from(["1e-1", "2.5e-3", ".5", "5.", "1E+2", "1000", "0.01", "1e3"])
    return st.one_of(value.flatmap(spellings), fixed.map(lambda t: Part(t, float(t), True)))


def _bad_param() -> st.SearchStrategy[Part]:
    texts = st.sampled_from(
        ["0", "0.0", "1001", "1e4", "1e400", "nan", "inf", "-1", "-0.5", "abc", "", "1e", "e5"]
        + ["1_0", "0x1", "1,5", "½", "1e-", "١", "1.2.3", "--1", "+-1", "1e308"]
    )
    return texts.map(lambda t: Part(t, None, False))


def _activation(good: bool) -> st.SearchStrategy[Part]:
    if good:
        names = st.sampled_from(activations.names())
        return names.flatmap(
            lambda n: st.sampled_from([n, n.upper(), f" {n}", f"{n} "]).map(
                lambda t: Part(t, n, True)
            )
        )
    bad = st.sampled_from(["", "rleu", "gelu", "re lu", "softmax2", "ReLU6", "x", "sigmoid()"])
    return bad.map(lambda t: Part(t, None, False))


@st.composite
def layer_parts(draw, last: bool):
    """One `WIDTH:ACT[=PARAM]` and whether it is valid at this position."""
    width = draw(st.one_of(_good_width(), _good_width(), _good_width(), _bad_width()))
    act = draw(_activation(draw(MOSTLY)))
    if act.ok and act.value in PARAM_ACTS:
        kind = draw(st.sampled_from(["none", "good", "good", "bad"]))
    else:
        kind = draw(st.sampled_from(["none", "none", "none", "good"]))
    param = {"none": None, "good": draw(_good_param()), "bad": draw(_bad_param())}[kind]
    text = f"{width.text}:{act.text}" + ("" if param is None else f"={param.text}")
    ok = width.ok and act.ok
    if ok and param is not None:
        ok = param.ok and act.value in PARAM_ACTS
    if ok and act.value in OUTPUT_ONLY:
        ok = last and width.value >= 2
    return text, ok, (width.value, act.value, None if param is None else param.value)


@st.composite
def compact_cases(draw):
    depth = draw(st.integers(1, 5))
    first = draw(st.one_of(_good_width(), _good_width(), _bad_width()))
    layers = [draw(layer_parts(last=(l == depth))) for l in range(1, depth + 1)]
    sep = draw(st.sampled_from(["-", " - ", "-  "]))
    text = sep.join([first.text, *(t for t, _, _ in layers)])
    ok = first.ok and all(good for _, good, _ in layers)
    if ok:  # the size limit, counted independently
        widths = [first.value, *(w for _, _, (w, _, _) in layers)]
        count = sum(a * b + b for a, b in itertools.pairwise(widths))
        ok = count <= spec.MAX_PARAMETERS
    return text, ok, first.value, [v for _, _, v in layers]


@fuzz(250)
@given(compact_cases())
def test_compact_specs_accept_exactly_the_valid_ones(case):
    text, ok, input_width, layers = case
    try:
        result = spec.parse_compact(text)
    except SpecError as e:
        one_line(str(e))
        assert not ok, f"refused a valid spec {text!r}: {e}"
        TALLY["compact: refused"] += 1
        return
    assert ok, f"accepted an invalid spec {text!r} as {result.compact}"
    assert result.widths == (input_width, *(w for w, _, _ in layers))
    for got, (_, act, param) in zip(result.layers, layers):
        assert got.activation == act
        if param is not None:
            assert math.isclose(got.param, param, rel_tol=1e-15)
    assert spec.parse_compact(result.compact) == result  # exact round trip
    TALLY["compact: accepted"] += 1


SPEC_ALPHABET = st.sampled_from(
    list("0123456789-:=.eE+ ,_\t\n\r\x00\x1b'\"\\/")
    + [
        "relu",
        "elu",
        "softmax",
        "sigmoid",
        "leaky_relu",
        "identity",
        "tanh",
        "１",
        "é",
        "\u2028",
        "\ufeff",
    ]
)


@st.composite
def mutated_specs(draw):
    base = draw(
        st.sampled_from(
            ["784-256:relu-10:softmax", "3-4:elu=1e-1-2:softmax", "4-5:leaky_relu=0.2-3:sigmoid"]
            + ["2-2:tanh-2:identity", "64-32:sigmoid-10:softmax", "3-2:softplus-1:sigmoid"]
        )
    )
    chars = list(base)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "repeat"]))
        at = draw(st.integers(0, len(chars)))
        piece = draw(SPEC_ALPHABET)
        if op == "insert":
            chars[at:at] = [piece]
        elif chars and op == "delete":
            del chars[min(at, len(chars) - 1)]
        elif chars and op == "replace":
            chars[min(at, len(chars) - 1)] = piece
        elif op == "repeat":
            chars[at:at] = [piece * draw(st.integers(2, 3000))]
    return "".join(chars)


def _check_accepted(result: spec.NetworkSpec) -> None:
    """What any accepted spec must satisfy, whatever the text was."""
    assert 1 <= result.depth <= spec.MAX_DEPTH
    assert all(1 <= w <= spec.MAX_WIDTH for w in result.widths)
    assert result.parameter_count <= spec.MAX_PARAMETERS
    for layer in result.layers[:-1]:
        assert layer.activation not in OUTPUT_ONLY
    for layer in result.layers:
        assert layer.param is None or 0 < layer.param <= spec.MAX_ACTIVATION_PARAM
    assert 0 <= result.l1 <= spec.MAX_COEFFICIENT and 0 <= result.l2 <= spec.MAX_COEFFICIENT
    again = spec.parse_compact(result.compact, loss=result.loss, l1=result.l1, l2=result.l2)
    assert again == replace(result, training=())  # [training] has no compact form


@fuzz(300)
@given(st.one_of(mutated_specs(), st.lists(SPEC_ALPHABET, max_size=40).map("".join)))
def test_any_text_is_a_spec_or_one_line(text):
    try:
        result = spec.parse_compact(text)
    except SpecError as e:
        one_line(str(e))
        TALLY["text: refused"] += 1
        return
    _check_accepted(result)
    TALLY["text: accepted"] += 1


# -- TOML ------------------------------------------------------------------------------------


def toml_value(value: object) -> str:
    """A value in TOML syntax (enough for these cases: numbers, strings, booleans, arrays)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return '"' + value.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def _number_part(low: float, high: float, strict_low: bool) -> st.SearchStrategy[Part]:
    """A TOML number for a bounded key, valid or not, with its validity."""

    def judge(v) -> Part:
        if isinstance(v, (bool, str, list)):
            return Part(toml_value(v), None, False)
        if isinstance(v, int) and not -(2**63) <= v < 2**63:
            return Part(toml_value(v), None, False)
        f = float(v)
        ok = math.isfinite(f) and (f > low if strict_low else f >= low) and f <= high
        return Part(toml_value(v), f if ok else None, ok)

    in_range = st.floats(low, high).filter(lambda v: v > low or not strict_low)
    values = st.one_of(
        in_range,
        in_range,
        in_range,
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(0, 2000),
        st.integers(-5, 2000),
        st.sampled_from([0, 1, 10**300, 10**19, 2**63, 2**63 - 1, -(2**63), 1e308, 5e-324]),
        st.booleans(),
        st.sampled_from(["0.1", "", "1e-3"]),
        st.lists(st.integers(0, 3), max_size=2),
    )
    return values.map(judge)


def _toml_width() -> st.SearchStrategy[Part]:
    def judge(v) -> Part:
        ok = isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= spec.MAX_WIDTH
        return Part(toml_value(v), v if ok else None, ok)

    return st.one_of(
        st.integers(1, 9),
        st.integers(1, 9),
        st.integers(1, 9),
        st.integers(1, 9),
        st.integers(-3, 0),
        st.sampled_from([10**8, 10**8 + 1, 2**63, 10**30, 1.0, 3.5, True, "3", [3]]),
    ).map(judge)


TRAINING = [  # (line, valid?) -- the [training] table's own checks are hyper.py's (tests/test_hyper)
    ("epochs = 3", True),
    ('optimizer = "sgd"', True),
    ("lr = 0.01", True),
    ("batch_size = 0", False),
    ("epochs = 99999999999999999999999", False),
    ("lr = 1e999", False),
    ("lr = nan", False),
    ('optimizer = "rmsprop"', False),
    ("learning_rate = 0.1", False),
    ("val_split = 1.0", False),
]


@st.composite
def toml_cases(draw):
    lines, ok = [], True
    first = draw(_toml_width())
    if draw(MOSTLY):
        lines.append(f"input = {first.text}")
        ok &= first.ok
    else:
        ok = False  # no input
    for key in ("l1", "l2"):
        if draw(st.booleans()):
            part = draw(_number_part(0, spec.MAX_COEFFICIENT, strict_low=False))
            lines.append(f"{key} = {part.text}")
            ok &= part.ok
    if draw(RARELY):
        lines.append(f"bogus = {draw(st.integers(0, 3))}")
        ok = False
    depth = draw(st.integers(1, 4)) if draw(MOSTLY) else 0
    ok &= depth > 0
    widths = [first.value]
    for l in range(1, depth + 1):
        width = draw(_toml_width())
        act = draw(_activation(draw(MOSTLY)))
        act_name = act.value if act.ok else act.text
        lines += ["[[layers]]", f"width = {width.text}", f"activation = {toml_value(act_name)}"]
        ok &= width.ok and act.ok
        widths.append(width.value)
        if draw(st.booleans() if act.value in PARAM_ACTS else RARELY):
            part = draw(_number_part(0, spec.MAX_ACTIVATION_PARAM, strict_low=True))
            lines.append(f"param = {part.text}")
            ok &= part.ok and act.value in PARAM_ACTS
        if act.ok and act.value in OUTPUT_ONLY:
            ok &= l == depth and width.ok and width.value >= 2
    if ok:
        count = sum(a * b + b for a, b in itertools.pairwise(widths))
        ok = count <= spec.MAX_PARAMETERS
    if draw(RARELY):
        chosen = draw(st.lists(st.sampled_from(TRAINING), max_size=3, unique_by=lambda t: t[0]))
        keys = [line.split(" =")[0] for line, _ in chosen]
        if len(set(keys)) == len(keys):
            lines.append("[training]")
            lines += [line for line, _ in chosen]
            ok &= all(good for _, good in chosen)
    return "\n".join(lines) + "\n", ok


@fuzz(250)
@given(toml_cases())
def test_toml_files_accept_exactly_the_valid_ones(case):
    text, ok = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.toml"
        path.write_text(text, encoding="utf-8")
        try:
            result = spec.parse_toml(path)
        except SpecError as e:
            one_line(str(e))
            assert not ok, f"refused a valid file:\n{text}\n{e}"
            TALLY["toml: refused"] += 1
            return
    assert ok, f"accepted an invalid file:\n{text}"
    _check_accepted(result)
    TALLY["toml: accepted"] += 1


@fuzz(200)
@given(toml_cases(), st.binary(max_size=8), st.integers(0, 400), st.integers(0, 3))
def test_damaged_toml_files_are_one_line(case, junk, at, cut):
    text = case[0].encode("utf-8")
    damaged = text[:at] + junk + text[at + cut :]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.toml"
        path.write_bytes(damaged)
        try:
            _check_accepted(spec.parse_toml(path))
            TALLY["damaged toml: accepted"] += 1
        except SpecError as e:
            one_line(str(e))
            TALLY["damaged toml: refused"] += 1


# -- the command line, in process, with write faults ------------------------------------------

VALID_SPECS = ["3-2:softmax", "2-3:tanh-2:sigmoid", "2-2:identity"]


_CACHE: dict = {}


def _cached(real, key):
    """`real` computed once per spec: the derivation and the printing have their own tests."""

    def once(value, **kw):
        k = (real.__name__, key(value), kw.get("lang"), "report" in kw)
        if k not in _CACHE:
            _CACHE[k] = real(value, **kw)
        return _CACHE[k]

    return once


@contextlib.contextmanager
def patched(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


FAULTS = ["none", "none", "exists", "exists+force", "folder", "missing-dir", "read-only", "full"]
FAULTS += ["newline-name", "long-name", "not-a-file"]


@st.composite
def cli_cases(draw):
    command = draw(st.sampled_from(["generate", "data", "derive", "check", "analyze"]))
    fault = draw(st.sampled_from(FAULTS))
    good_spec = draw(MOSTLY)
    text = draw(st.sampled_from(VALID_SPECS)) if good_spec else draw(mutated_specs())
    extra = []
    if draw(RARELY):
        extra = draw(
            st.sampled_from(
                [["--l2", "1e400"], ["--l1", "-1"], ["--loss", "hinge"], ["--l2", "0.01"]]
            )
        )
    data = draw(st.sampled_from(["spirals", "regression", "multilabel", "spirls", "dig\nits"]))
    return command, fault, text, extra, data


def _expect_spec(text: str, extra: list[str]) -> bool:
    options = {"loss": None, "l1": 0.0, "l2": 0.0}
    for flag, value in zip(extra[::2], extra[1::2]):
        options[flag[2:]] = value
    try:
        spec.parse(text, **options)
    except SpecError:
        return False
    return True


@fuzz(80, share=0.1)
@given(case=cli_cases())
def test_cli_invocations_end_in_a_result_or_one_line(case, capsys):
    command, fault, text, extra, data = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        name = {"newline-name": "out\nput", "long-name": "x" * 300}.get(fault, "out")
        ext = {"generate": ".py", "data": ".npz", "derive": ".tex"}.get(command, "")
        target = (folder / "missing" if fault == "missing-dir" else folder) / (name + ext)
        if fault in ("exists", "exists+force"):
            target.write_bytes(b"old")
        if fault == "folder":
            target.mkdir()
        if fault == "not-a-file":
            os.mkfifo(target)
        force = ["--force"] if fault in ("exists+force", "not-a-file") else []
        argv = {
            "generate": ["generate", text, "-o", str(target), *extra, *force],
            "data": ["data", data, "-o", str(target), *force],
            "derive": ["derive", text, "--tex", str(target), *extra, *force],
            "check": ["check", text, *extra],
            "analyze": ["analyze", text, "--out", str(target), *extra],
        }[command]
        before = sorted(p.name for p in folder.iterdir())
        code = _run_with_fault(argv, fault, folder)
        _out, err = capsys.readouterr()
        assert code in (0, 1, 2), (argv, code, err)
        if code:
            one_line(err.strip())
            assert err.count("\n") == 1, err
        else:
            assert err == "" or "Traceback" not in err
        valid = _expect_valid(command, fault, text, extra, data)
        if valid is not None:
            assert (code == 0) == valid, (argv, code, err)
        after = sorted(p.name for p in folder.iterdir())
        if code:  # nothing written, nothing left behind, the old file untouched
            assert after == before, (argv, before, after)
            if fault in ("exists", "exists+force"):
                assert target.read_bytes() == b"old"
        elif command in ("generate", "data", "derive"):
            assert target.is_file() and target.stat().st_size > 0
            assert not [p for p in after if fileio.TAG in p]
        TALLY[f"cli {command} {fault}: exit {code}"] += 1


def _expect_valid(command, fault, text, extra, data) -> bool | None:
    """Whether the invocation must succeed; None where this oracle does not say."""
    if command == "check":
        return None if _expect_spec(text, extra) else False
    if command == "analyze":
        return None if _expect_spec(text, extra) else False
    if command == "data":
        spec_ok = data in ("spirals", "regression", "multilabel")
    else:
        spec_ok = _expect_spec(text, extra)
    path_ok = fault in ("none", "exists+force", "newline-name")
    return spec_ok and path_ok


def _run_with_fault(argv: list[str], fault: str, folder: Path) -> int:
    """main(argv) with the long work replaced by cached results, and `fault` injected."""
    import symfnn.engine.derive
    import symfnn.flow.analyze
    import symfnn.script.gradcheck
    from symfnn.script import codegen

    def fake_analyze(*args, **kw):  # the analysis itself is tests/test_flow.py's
        return _Report()

    def fake_check(*, spec=None, script=None, seed=0):
        raise SpecError("checked spec (the check itself is tests/test_gradcheck.py's)")

    real_open = os.open

    def read_only(path, *args, **kw):
        if str(path).startswith(str(folder)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, *args, **kw)

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with contextlib.ExitStack() as stack:
        derive, script = symfnn.engine.derive.derive, codegen.script
        stack.enter_context(patched(symfnn.engine.derive, "derive", _cached(derive, lambda s: s)))
        stack.enter_context(patched(codegen, "script", _cached(script, lambda d: d.spec)))
        stack.enter_context(patched(symfnn.flow.analyze, "analyze", fake_analyze))
        stack.enter_context(patched(symfnn.script.gradcheck, "run", fake_check))
        if fault == "read-only":
            stack.enter_context(patched(os, "open", read_only))
        if fault == "full":
            stack.enter_context(patched(safeio, "_write_all", full))
        if argv[0] == "derive":  # the proof and the document, once per spec
            import symfnn.documents.document
            import symfnn.engine.verify

            verify, tex = symfnn.engine.verify.verify, symfnn.documents.document.tex_source
            stack.enter_context(
                patched(symfnn.engine.verify, "verify", _cached(verify, lambda d: d.spec))
            )
            stack.enter_context(
                patched(symfnn.documents.document, "tex_source", _cached(tex, lambda d: d.spec))
            )
        try:
            return main(argv)
        except SystemExit as e:  # argparse's own errors
            return e.code


class _Report:
    def summary_lines(self):
        return ["analysis (stand-in)"]


# -- a few through a real process --------------------------------------------------------------


@fuzz(3, share=0.004)
@given(st.one_of(mutated_specs(), compact_cases().map(lambda c: c[0])))
def test_the_process_exits_0_1_or_2_with_one_line(text):
    argv = [sys.executable, "-m", "symfnn", "derive", text, "--l2", "0.5"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=300)
    assert out.returncode in (0, 1, 2), out.stderr
    assert "Traceback" not in out.stderr
    if out.returncode:
        assert out.stderr.count("\n") == 1, out.stderr
        one_line(out.stderr.strip())
    TALLY[f"process: exit {out.returncode}"] += 1
