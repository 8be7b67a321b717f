import dataclasses
import re
import time

import pytest

from symfnn.engine.spec import (
    MAX_COEFFICIENT,
    MAX_DEPTH,
    MAX_WIDTH,
    LayerSpec,
    NetworkSpec,
    parse,
    parse_toml,
)
from symfnn.errors import SpecError


def test_compact_form_with_defaults():
    spec = parse("784-256:relu-128:tanh-10:softmax")
    assert spec.widths == (784, 256, 128, 10)
    assert [layer.activation for layer in spec.layers] == ["relu", "tanh", "softmax"]
    assert spec.loss == "cross_entropy"
    assert (spec.l1, spec.l2) == (0.0, 0.0)
    assert spec.compact == "784-256:relu-128:tanh-10:softmax"
    assert spec.parameter_count == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10


@pytest.mark.parametrize(
    "out, loss",
    [
        ("softmax", "cross_entropy"),
        ("sigmoid", "binary_cross_entropy"),
        ("identity", "squared_error"),
        ("relu", "squared_error"),
    ],
)
def test_loss_defaults_from_output_activation(out, loss):
    assert parse(f"3-2:{out}").loss == loss


def test_options_and_parameters():
    spec = parse("3-4:leaky_relu=0.2-2:elu-1:sigmoid", loss="mse", l1="0.5", l2=0.25)
    assert spec.layers[0] == LayerSpec(4, "leaky_relu", 0.2)
    assert spec.layers[1].param is None
    assert spec.loss == "squared_error" and spec.l1 == 0.5 and spec.l2 == 0.25
    assert parse(spec.compact, loss="mse", l1=0.5, l2=0.25) == spec


def test_frozen():
    spec = parse("3-2:softmax")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.l2 = 1.0  # type: ignore[misc]


def test_toml(tmp_path):
    path = tmp_path / "net.toml"
    path.write_text(
        'input = 4\nl2 = 0.01\n[[layers]]\nwidth = 5\nactivation = "sigmoid"\n'
        '[[layers]]\nwidth = 3\nactivation = "softmax"\n[training]\nepochs = 30\n'
    )
    spec = parse(str(path))
    assert spec == NetworkSpec(
        4,
        (LayerSpec(5, "sigmoid"), LayerSpec(3, "softmax")),
        "cross_entropy",
        0.0,
        0.01,
        (("epochs", 30),),
    )
    assert parse(str(path), l2=0.5).l2 == 0.5


@pytest.mark.parametrize(
    "text, options, message",
    [
        ("", {}, "no layers"),
        ("784", {}, "no layers"),
        ("784-", {}, "cannot read"),
        ("4-abc:relu", {}, "whole number, got 'abc'"),
        ("4-0:relu", {}, "at least 1, got 0"),
        ("0-3:relu", {}, "input: width must be at least 1"),
        ("4-3:rleu", {}, "did you mean 'relu'"),
        ("4-3:gelu", {}, "unknown activation 'gelu'"),
        ("4-5:softmax-3:softmax", {}, "layer 1: softmax is allowed on the output layer only"),
        ("4-3:sigmoid", {"loss": "cross_entropy"}, "needs a softmax output layer, got sigmoid"),
        ("4-3:relu", {"loss": "bce"}, "needs a sigmoid output layer"),
        ("4-3:softmax", {"loss": "hinge"}, "unknown loss 'hinge'"),
        ("4-3:softmax", {"l2": -1}, "l2 must be a non-negative"),
        ("4-3:softmax", {"l1": "abc"}, "l1 must be a non-negative number, got 'abc'"),
        ("4-3:softmax", {"l2": "nan"}, "l2 must be a non-negative number, got 'nan'"),
        ("4-3:softmax", {"l2": "inf"}, "l2 must be a non-negative number, got 'inf'"),
        ("4-3:softmax", {"l2": 1e400}, "l2 must be a non-negative finite number, got inf"),
        ("4-3", {}, "has no activation"),
        ("4-3:relu=0.1", {}, "relu takes no parameter"),
        ("4-3:elu=-1", {}, "must be positive"),
        ("4-3:elu=x", {}, "must be a positive number such as 0.1 or 1e-3, got 'x'"),
        ("4-1:softmax", {}, "at least 2 units"),
        ("__import__('os'):relu", {}, "must start with the input width"),
    ],
)
def test_bad_specs(text, options, message):
    with pytest.raises(SpecError) as err:
        parse(text, **options)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "content, message",
    [
        ("input = 4\n[[layers]\n", "not valid TOML"),
        ("input = 4\n", "at least one [[layers]]"),
        ('[[layers]]\nwidth = 3\nactivation = "relu"\n', "missing 'input'"),
        ("input = 4\n[[layers]]\nwidth = 3\n", "needs 'width' and 'activation'"),
        (
            'input = 4\nlos = "mse"\n[[layers]]\nwidth = 3\nactivation = "relu"\n',
            "did you mean 'loss'",
        ),
        (
            'input = 4\n[[layers]]\nwidth = 3\nactivation = "relu"\nslope = 2\n',
            "unknown key 'slope'",
        ),
        ('input = 4\nl2 = "big"\n[[layers]]\nwidth = 3\nactivation = "relu"\n', "l2 must be"),
    ],
)
def test_bad_toml(tmp_path, content, message):
    path = tmp_path / "net.toml"
    path.write_text(content)
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_toml(path)


def test_unreadable_toml(tmp_path):
    with pytest.raises(SpecError, match="cannot read"):
        parse(str(tmp_path / "missing.toml"))
    bad = tmp_path / "binary.toml"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SpecError, match="not valid TOML"):
        parse(str(bad))


def test_with_widths_keeps_types():
    spec = parse("4-5:sigmoid-5:tanh-3:softmax", l2=0.01)
    small = spec.with_widths((2, 2, 2, 3))
    assert small.widths == (2, 2, 2, 3)
    assert [x.activation for x in small.layers] == ["sigmoid", "tanh", "softmax"]
    assert small.l2 == 0.01


# -- issue 12: bounds, huge numbers, linear parsing, exponents, one-line messages ------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("784-256:elu=1e-1-10:softmax", (0.1, None)),
        ("3-4:leaky_relu=2.5e-3-2:softmax", (2.5e-3, None)),
        ("3-4:elu=1E-2-2:elu=1e+0", (0.01, 1.0)),
        ("3-4:elu=.5e-1 - 2:elu = 3e0", (0.05, 3.0)),
        ("3-4:leaky_relu=1e-05-2:softmax", (1e-05, None)),
    ],
)
def test_exponent_parameters_are_numbers_not_separators(text, expected):
    spec = parse(text)
    assert tuple(layer.param for layer in spec.layers) == expected
    assert parse(spec.compact) == spec  # the compact form reads back, exponent and all


@pytest.mark.parametrize(
    "text, message",
    [
        ("3-4:elu=1e-2:softmax", "a '-' right after 'e' is an exponent's sign"),
        ("3-4:elu=1e-x-2:softmax", "got '1e-x'"),
        ("3-4:elu=-1-2:softmax", "must be positive, got '-1'"),
        ("3-4:elu=-2:softmax", "got '-2:softmax'"),
        ("3-4:elu=-2:softmax", "'-' separates layers"),
        ("3-4:elu=1_0-2:softmax", "got '1_0'"),
        ("3-4:elu=inf-2:softmax", "got 'inf'"),
    ],
)
def test_a_parameter_that_is_not_a_number_says_why(text, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        parse(text)


def test_compact_parameters_round_trip_exactly():
    spec = parse("3-4:elu=0.123456789012345-2:leaky_relu=3.3e-07")
    assert spec.layers[0].param == 0.123456789012345
    assert parse(spec.compact) == spec


def test_parsing_is_linear_in_the_length_of_the_text():
    # was 45 s: the layer regex backtracked quadratically over blanks
    started = time.perf_counter()
    for text in ("4-1" + " " * 50_000 + "x-2:softmax", "4-1:" + " " * 50_000 + "relu=x"):
        with pytest.raises(SpecError):
            parse(text)
    assert time.perf_counter() - started < 0.5
    with pytest.raises(SpecError, match="at most 100,000"):
        parse("4-" + "1:relu " * 20_000 + "-2:softmax")


@pytest.mark.parametrize(
    "text, options, message",
    [
        ("4-" + "9" * 4301 + ":relu", {}, "width must be at most 100,000,000"),
        ("9" * 4301 + "-3:relu", {}, "input: width must be at most"),
        ("4-100000001:relu", {}, "width must be at most 100,000,000"),
        ("4-1000000:relu-1000000:relu-3:softmax", {}, "at most 1,000,000,000 are allowed"),
        ("4-" + "-".join(["3:tanh"] * 1001), {}, "1001 layers; at most 1000"),
        ("3-4:leaky_relu=1e308-2:softmax", {}, "must be at most 1000"),
        ("3-4:elu=1e400-2:softmax", {}, "must be a non-negative finite number"),
        ("3-2:softmax", {"l1": "1e300"}, "l1 must be at most 1000"),
        ("3-2:softmax", {"l2": 10**400}, "l2 must be a non-negative finite number"),
        ("3-2:softmax", {"l2": "9" * 5000}, "l2 must be a non-negative finite number"),
    ],
)
def test_sizes_and_values_are_bounded_at_parse_time(text, options, message):
    with pytest.raises(SpecError) as err:
        parse(text, **options)
    assert message in str(err.value)
    assert "\n" not in str(err.value) and len(str(err.value)) < 300


def test_limits_hold_for_specs_built_directly():
    ok = parse("3-2:softmax")
    with pytest.raises(SpecError, match="at most 100,000,000"):
        dataclasses.replace(ok, input_width=MAX_WIDTH + 1)
    with pytest.raises(SpecError, match="width must be a whole number"):
        dataclasses.replace(ok, input_width="3")
    with pytest.raises(SpecError, match="must be at most"):
        dataclasses.replace(ok, l2=MAX_COEFFICIENT * 2)
    assert parse(f"{MAX_WIDTH}-9:identity").parameter_count == 9 * MAX_WIDTH + 9
    with pytest.raises(SpecError, match="1,000,000,010 parameters"):
        parse(f"{MAX_WIDTH}-10:identity")
    assert parse("2-" + "-".join(["2:tanh"] * MAX_DEPTH)).depth == MAX_DEPTH


@pytest.mark.parametrize(
    "content, message",
    [
        ('input = 4\nl2 = 1{z}\n[[layers]]\nwidth = 3\nactivation = "relu"\n', "64-bit"),
        ('input = 1{z}\n[[layers]]\nwidth = 3\nactivation = "relu"\n', "64-bit"),
        ('input = 4\n[[layers]]\nwidth = 3\nactivation = "elu"\nparam = 1{z}\n', "64-bit"),
        (
            'input = 4\n[[layers]]\nwidth = 3\nactivation = "relu"\n[training]\nlr = 1{z}\n',
            "64-bit",
        ),
        (
            'input = 4\n[[layers]]\nwidth = 3\nactivation = "relu"\n[training]\nlr = 1{z}.0\n',
            "finite",
        ),
        ('input = 4\n[[layers]]\nwidth = 1{zz}\nactivation = "relu"\n', "4300 digits"),
        ('input = 4\n[[layers]]\nwidth = "3"\nactivation = "relu"\n', "whole number, got '3'"),
        ("input = 4\n[[layers]]\nwidth = 3\nactivation = 3\n", "must be a name, got 3"),
        ('input = 4\nloss = 1\n[[layers]]\nwidth = 3\nactivation = "relu"\n', "a name, got 1"),
        ('input = 4\nl1 = "0.1"\n[[layers]]\nwidth = 3\nactivation = "relu"\n', "got '0.1'"),
        ('input = 4\n[[layers]]\nwidth = 3\nactivation = "r\\nelu"\n', "'r\\nelu'"),
        ("x = " + "[" * 3000 + "]" * 3000 + "\n", "not valid TOML"),
    ],
)
def test_huge_or_odd_toml_values_are_one_line(tmp_path, content, message):
    path = tmp_path / "net.toml"
    path.write_text(content.replace("{zz}", "0" * 4400).replace("{z}", "0" * 400))
    with pytest.raises(SpecError) as err:
        parse(str(path))
    assert message in str(err.value)
    assert "\n" not in str(err.value) and len(str(err.value)) < 400


@pytest.mark.parametrize("text", ['1-\n"', "4-3:re\nlu", "4-3:elu=1\x00", "4-3\x1b[31m:relu"])
def test_user_text_stays_on_one_line(text):
    with pytest.raises(SpecError) as err:
        parse(text)
    assert str(err.value).isprintable()


def test_a_toml_name_with_a_newline_is_quoted(tmp_path):
    path = tmp_path / "a\nb.toml"
    path.write_text("input = 4\n")
    with pytest.raises(SpecError) as err:
        parse(str(path))
    assert str(err.value).isprintable() and "a\\nb.toml" in str(err.value)


# -- batch normalisation and dropout (issue 11) ----------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "784-256:relu:bn:dropout=0.2-10:softmax",
        "4-5:tanh:bn-3:softmax",
        "5-6:elu:bn:dropout=0.3-3:softmax",
        "3-4:leaky_relu=0.1:dropout=0.5-4:elu:bn-2:identity",
        "4-5:tanh:dropout=1e-05-3:softmax",
    ],
)
def test_layer_flags_round_trip_exactly(text):
    spec = parse(text)
    assert spec.compact == text
    assert parse(spec.compact) == spec


def test_layer_flags_are_read_and_counted():
    spec = parse("784-256:relu:bn:dropout=0.2-10:softmax")
    first = spec.layers[0]
    assert (first.batchnorm, first.dropout) == (True, 0.2)
    assert (spec.layers[1].batchnorm, spec.layers[1].dropout) == (False, 0.0)
    assert spec.normalised and not parse("4-3:softmax").normalised
    # W1 (256×784), gamma1 and beta1 (no b1), W2, b2
    assert spec.parameter_count == 256 * 784 + 2 * 256 + 10 * 256 + 10


@pytest.mark.parametrize(
    "text, message",
    [
        ("4-5:tanh:bm-3:softmax", "unknown flag 'bm'; did you mean 'bn'?"),
        ("4-5:tanh:dropout=1-3:softmax", "dropout must be at least 0 and below 1"),
        ("4-5:tanh:dropout=-0.1-3:softmax", "dropout must be at least 0 and below 1"),
        ("4-5:tanh:dropout=x-3:softmax", "dropout must be a non-negative number"),
        ("4-5:tanh:dropout-3:softmax", "write dropout=q"),
        ("4-5:tanh:bn=1-3:softmax", "bn takes no value"),
        ("4-5:tanh:bn:bn-3:softmax", "bn is given twice"),
        ("4-5:tanh-3:softmax:bn", "layer 2: batch normalisation is for hidden layers"),
        ("4-3:softmax:dropout=0.1", "layer 1: dropout is for hidden layers"),
    ],
)
def test_bad_layer_flags_are_one_line(text, message):
    with pytest.raises(SpecError, match=re.escape(message)) as e:
        parse(text)
    assert "\n" not in str(e.value)


def test_layer_flags_in_toml(tmp_path):
    path = tmp_path / "bn.toml"
    path.write_text(
        "input = 5\n"
        '[[layers]]\nwidth = 6\nactivation = "elu"\nbatchnorm = true\ndropout = 0.3\n'
        '[[layers]]\nwidth = 3\nactivation = "softmax"\n'
    )
    assert parse_toml(path).compact == "5-6:elu:bn:dropout=0.3-3:softmax"
    for bad, message in (
        ("batchnorm = 1", "batchnorm must be true or false"),
        ('dropout = "0.2"', "dropout must be a number"),
        ("dropout = 1.5", "dropout must be at least 0 and below 1"),
    ):
        path.write_text(
            f'input = 5\n[[layers]]\nwidth = 6\nactivation = "elu"\n{bad}\n'
            '[[layers]]\nwidth = 3\nactivation = "softmax"\n'
        )
        with pytest.raises(SpecError, match=re.escape(message)):
            parse_toml(path)


def test_layer_flags_are_validated_when_built_directly():
    with pytest.raises(SpecError, match="dropout must be at least 0 and below 1"):
        NetworkSpec(
            4, (LayerSpec(5, "tanh", dropout=1.0), LayerSpec(3, "softmax")), "cross_entropy"
        )
    with pytest.raises(SpecError, match="batchnorm must be true or false"):
        NetworkSpec(
            4, (LayerSpec(5, "tanh", batchnorm=1), LayerSpec(3, "softmax")), "cross_entropy"
        )
