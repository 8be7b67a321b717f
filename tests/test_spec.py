import dataclasses

import pytest

from symfnn.errors import SpecError
from symfnn.spec import LayerSpec, NetworkSpec, parse, parse_toml


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
        ("4-3:softmax", {"l2": "nan"}, "l2 must be a non-negative finite"),
        ("4-3", {}, "has no activation"),
        ("4-3:relu=0.1", {}, "relu takes no parameter"),
        ("4-3:elu=-1", {}, "must be positive"),
        ("4-3:elu=x", {}, "non-negative number, got 'x'"),
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
