"""The architecture: a frozen, validated NetworkSpec, parsed from compact text or TOML.

Compact form: `784-256:relu-128:leaky_relu=0.1-10:softmax` (input width, then WIDTH:ACT
per layer, an activation's parameter after `=`). A '-' separates layers, except the sign of a
parameter's exponent (`elu=1e-1`): a '-' right after a number's `e` belongs to the number.
Nothing the user writes is evaluated, and the parser scans the text once (no backtracking
regular expressions), so its time grows linearly with the length of the text.

Every value is bounded here, where it enters (README, "Limits"): what passes `validate` fits
in memory when the generated script runs, and keeps the proof's arithmetic meaningful.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import SpecError, show, show_path
from . import activations, hyper, losses

# -- limits (README, "Limits") ---------------------------------------------------------------
MAX_DEPTH = 1000  # layers; 1000 take about half a minute to derive and print
MAX_WIDTH = 10**8  # units in one layer (or inputs)
MAX_PARAMETERS = 10**9  # weights and biases: 4 GB in float32, before gradients and optimiser
MAX_ACTIVATION_PARAM = 1e3  # a leaky-ReLU slope or an ELU alpha: 0 < value <= 1000
MAX_COEFFICIENT = 1e3  # l1, l2: 0 <= value <= 1000
MAX_TEXT = 100_000  # characters of a compact spec (1000 layers of long names fit easily)
_TOML_INT = 2**63  # TOML integers are 64-bit signed; larger ones are an error (TOML 1.0)

# Unambiguous alternatives only (no nested or adjacent overlapping quantifiers): linear time.
# ASCII digits only: Python's \d and float() would also take '１２' or '٣'.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_MANTISSA = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_WIDTH = re.compile(r"\+?\d+", re.ASCII)


@dataclass(frozen=True)
class LayerSpec:
    """One layer: its width and activation (with the activation's parameter, if any).

    `batchnorm`: the net input is normalised over the mini-batch before the activation
    (then the layer has no bias; β takes its place). `dropout`: the probability q of
    dropping each output of the layer while training (inverted dropout, 0 <= q < 1).
    """

    width: int
    activation: str
    param: float | None = None
    batchnorm: bool = False
    dropout: float = 0.0

    @property
    def compact(self) -> str:
        # repr: the shortest text that reads back as the same float, so specs round-trip
        tail = "" if self.param is None else f"={self.param!r}"
        flags = (":bn" if self.batchnorm else "") + (
            f":dropout={self.dropout!r}" if self.dropout else ""
        )
        return f"{self.width}:{self.activation}{tail}{flags}"


@dataclass(frozen=True)
class NetworkSpec:
    """A feedforward network: input width, layers 1..L, output loss, L1/L2 coefficients."""

    input_width: int
    layers: tuple[LayerSpec, ...]
    loss: str
    l1: float = 0.0
    l2: float = 0.0
    training: tuple[tuple[str, object], ...] = field(default=())  # hyper-parameters, as given

    def __post_init__(self) -> None:
        validate(self)

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def widths(self) -> tuple[int, ...]:
        """m(0), m(1), ..., m(L)."""
        return (self.input_width, *(layer.width for layer in self.layers))

    @property
    def compact(self) -> str:
        return "-".join([str(self.input_width), *(layer.compact for layer in self.layers)])

    @property
    def parameter_count(self) -> int:
        # a batch-normalised layer has γ and β instead of b: one vector more
        return parameter_count(self.widths) + sum(x.width for x in self.layers if x.batchnorm)

    @property
    def normalised(self) -> bool:
        """Does any layer use batch normalisation or dropout?"""
        return any(x.batchnorm or x.dropout for x in self.layers)

    def describe(self) -> str:
        """One line: the architecture, its loss and regularisers."""
        reg = [f"{name}={value:g}" for name, value in (("l1", self.l1), ("l2", self.l2)) if value]
        return " ".join([self.compact, f"loss={self.loss}", *reg])

    def with_widths(self, widths: tuple[int, ...]) -> NetworkSpec:
        """The same layer types at other widths (the proof's small instance)."""
        layers = tuple(replace(layer, width=w) for layer, w in zip(self.layers, widths[1:]))
        return replace(self, input_width=widths[0], layers=layers)


def parameter_count(widths: tuple[int, ...]) -> int:
    """Weights and biases of a network with widths m(0) .. m(L)."""
    return sum(widths[l] * widths[l - 1] + widths[l] for l in range(1, len(widths)))


def _suggest(name: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (allowed: {', '.join(allowed)})"


def _width(value: object, where: str) -> int:
    """A width from compact text (digits) or TOML (an integer), within 1..MAX_WIDTH."""
    if isinstance(value, str):
        digits = value.strip()
        if not _WIDTH.fullmatch(digits):
            raise SpecError(f"{where}: width must be a whole number, got {show(value)}")
        digits = digits.lstrip("+").lstrip("0") or "0"
        if len(digits) > len(str(MAX_WIDTH)):  # before int(): no 4300-digit conversions
            raise SpecError(f"{where}: width must be at most {MAX_WIDTH:,}, got {show(value)}")
        value = int(digits)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{where}: width must be a whole number, got {show(value)}")
    if value < 1:
        raise SpecError(f"{where}: width must be at least 1, got {value}")
    if value > MAX_WIDTH:
        raise SpecError(f"{where}: width must be at most {MAX_WIDTH:,}, got {show(value)}")
    return value


def _number(value: object, what: str) -> float:
    """A finite float from a numeral or a TOML number; never evaluated as code."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SpecError(f"{what} must be a non-negative number, got {show(value)}")
    if isinstance(value, str) and not _NUMBER.fullmatch(value.strip()):
        raise SpecError(
            f"{what} must be a non-negative number, got {show(value)} (write e.g. 0.1 or 1e-3)"
        )
    if isinstance(value, int) and not -_TOML_INT <= value < _TOML_INT:
        raise SpecError(f"{what} must be a non-negative finite number, got {show(value)}")
    number = float(value)  # a checked numeral or a 64-bit int: cannot raise
    if not math.isfinite(number):
        raise SpecError(f"{what} must be a non-negative finite number, got {show(value)}")
    return number


def coefficient(value: object, what: str, most: float = MAX_COEFFICIENT) -> float:
    """A number in [0, most] from text or TOML (an L1/L2 coefficient)."""
    number = _number(value, what)
    if number < 0:
        raise SpecError(f"{what} must be a non-negative number, got {show(value)}")
    if number > most:
        raise SpecError(f"{what} must be at most {most:g}, got {show(value)}")
    return number


def positive(value: object, what: str, most: float = MAX_ACTIVATION_PARAM) -> float:
    """A number in (0, most] from text or TOML (an activation's parameter)."""
    number = _number(value, what)
    if number <= 0:
        raise SpecError(f"{what} must be positive, got {show(value)}")
    if number > most:
        raise SpecError(f"{what} must be at most {most:g}, got {show(value)}")
    return number


def validate(spec: NetworkSpec) -> None:
    """Check every rule of a spec; raise SpecError naming what was given and what is allowed."""
    if not isinstance(spec.layers, tuple) or not spec.layers:
        raise SpecError("the network has no layers; give at least one, e.g. 4-3:softmax")
    if spec.depth > MAX_DEPTH:
        raise SpecError(f"the network has {spec.depth} layers; at most {MAX_DEPTH} are allowed")
    _strict_width(spec.input_width, "input")
    allowed = activations.names()
    for l, layer in enumerate(spec.layers, start=1):
        if not isinstance(layer, LayerSpec):
            raise SpecError(f"layer {l} must be a LayerSpec, got {show(layer)}")
        _strict_width(layer.width, f"layer {l}")
        if not isinstance(layer.activation, str) or layer.activation not in activations.TABLE:
            raise SpecError(
                f"layer {l}: unknown activation {show(layer.activation)}"
                + _suggest(str(layer.activation), allowed)
            )
        act = activations.TABLE[layer.activation]
        if act.output_only and l != spec.depth:
            raise SpecError(f"layer {l}: {act.name} is allowed on the output layer only")
        if layer.param is not None and act.param is None:
            raise SpecError(f"layer {l}: {act.name} takes no parameter, got ={show(layer.param)}")
        if layer.param is not None:
            _strict_float(layer.param, f"layer {l}: {act.name}'s {act.param}")
            positive(layer.param, f"layer {l}: {act.name}'s {act.param}")
        _check_layer_flags(layer, l, spec.depth)
    if not isinstance(spec.loss, str) or spec.loss not in losses.LOSSES:
        raise SpecError(
            f"unknown loss {show(spec.loss)}" + _suggest(str(spec.loss), list(losses.LOSSES))
        )
    loss, out = losses.LOSSES[spec.loss], spec.layers[-1].activation
    if loss.fits is not None and out not in loss.fits:
        raise SpecError(
            f"loss {loss.name} needs a {' or '.join(loss.fits)} output layer, got {out}"
        )
    if out == "softmax" and spec.layers[-1].width < 2:
        raise SpecError("a softmax output layer needs at least 2 units")
    for name in ("l1", "l2"):
        _strict_float(getattr(spec, name), name)
        coefficient(getattr(spec, name), name)
    if (count := spec.parameter_count) > MAX_PARAMETERS:
        raise SpecError(
            f"the network has {count:,} parameters; at most {MAX_PARAMETERS:,} are allowed "
            f"({count * 4 / 2**30:,.0f} GiB in float32 before gradients)"
        )


def _check_layer_flags(layer: LayerSpec, l: int, depth: int) -> None:
    """bn is a bool and dropout a probability in [0, 1); neither on the output layer."""
    if not isinstance(layer.batchnorm, bool):
        raise SpecError(f"layer {l}: batchnorm must be true or false, got {show(layer.batchnorm)}")
    _strict_float(layer.dropout, f"layer {l}: dropout")
    dropout_rate(layer.dropout, f"layer {l}: dropout")
    if l == depth and layer.batchnorm:
        raise SpecError(f"layer {l}: batch normalisation is for hidden layers, not the output")
    if l == depth and layer.dropout:
        raise SpecError(f"layer {l}: dropout is for hidden layers, not the output")


def dropout_rate(value: object, what: str) -> float:
    """A dropout probability q with 0 <= q < 1 (q = 1 would drop every unit)."""
    number = _number(value, what)
    if not 0 <= number < 1:
        raise SpecError(f"{what} must be at least 0 and below 1, got {show(value)}")
    return number


def _strict_width(value: object, where: str) -> None:
    """A NetworkSpec holds ints, not text: the parsers convert, validate only checks."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{where}: width must be a whole number, got {show(value)}")
    _width(value, where)


def _strict_float(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{what} must be a number, got {show(value)}")


# -- the compact form ------------------------------------------------------------------------


def _joins_exponent(segment: str) -> bool:
    """Does the '-' after `segment` belong to its parameter (`=1e-3`, or a sign `=-1`)?"""
    head, eq, value = segment.rpartition("=")
    if not eq or ":" not in head:
        return False
    value = value.strip()
    if not value:  # `elu=-1`: a sign, not a separator (refused later: must be positive)
        return True
    return value[-1] in "eE" and _MANTISSA.fullmatch(value[:-1]) is not None


def split_layers(text: str) -> list[str]:
    """`4-5:elu=1e-3-3:softmax` -> ['4', '5:elu=1e-3', '3:softmax'] in one pass."""
    segments: list[str] = []
    for piece in text.split("-"):
        if segments and _joins_exponent(segments[-1]):
            segments[-1] += "-" + piece
        else:
            segments.append(piece)
    return segments


def _layer(text: str, l: int) -> LayerSpec:
    how = "write WIDTH:ACTIVATION, e.g. 32:relu ('-' separates layers)"
    width, colon, rest = text.partition(":")
    rest, flag_texts = _split_flags(rest, l)  # WIDTH:ACT[=p][:bn][:dropout=q]
    act, eq, param_text = rest.partition("=")
    if not width.strip() or "=" in width or ":" in act:
        raise SpecError(f"layer {l}: cannot read {show(text)}; {how}")
    if not colon or not act.strip():
        raise SpecError(f"layer {l}: {show(text)} has no activation; {how}")
    act = act.strip().lower()
    if act not in activations.TABLE:  # before its parameter: the name is the first mistake
        raise SpecError(
            f"layer {l}: unknown activation {show(act)}" + _suggest(act, activations.names())
        )
    param = None
    if eq:
        what = f"layer {l}: the parameter of {act}"
        if not _NUMBER.fullmatch(param_text.strip()):
            raise SpecError(
                f"{what} must be a positive number such as 0.1 or 1e-3, got {show(param_text)}"
                " ('-' separates layers; a '-' right after 'e' is an exponent's sign)"
            )
        param = positive(param_text, what)
    batchnorm, dropout = _flags(flag_texts, l)
    return LayerSpec(_width(width, f"layer {l}"), act, param, batchnorm, dropout)


_FLAGS = ["bn", "dropout"]


def _split_flags(rest: str, l: int) -> tuple[str, list[str]]:
    """`relu=0.1:bn:dropout=0.2` -> ('relu=0.1', ['bn', 'dropout=0.2']).

    Flags are taken from the right while they name a flag; what is left is ACT[=p], so a
    parameter that swallowed a ':' (`elu=1e-2:softmax`) is still reported as a bad number.
    """
    parts = rest.split(":")
    flags: list[str] = []
    while len(parts) > 1 and parts[-1].partition("=")[0].strip().lower() in _FLAGS:
        flags.insert(0, parts.pop())
    head = ":".join(parts)
    act = head.partition("=")[0]
    if ":" in act:
        unknown = act.split(":")[1]
        raise SpecError(f"layer {l}: unknown flag {show(unknown)}" + _suggest(unknown, _FLAGS))
    return head, flags


def _flags(texts: list[str], l: int) -> tuple[bool, float]:
    """`bn` and `dropout=q` after a layer's activation, each at most once."""
    batchnorm, dropout, seen = False, 0.0, set()
    for text in texts:
        name, eq, value = text.partition("=")
        name = name.strip().lower()
        if name not in _FLAGS:
            raise SpecError(f"layer {l}: unknown flag {show(text)}" + _suggest(name, _FLAGS))
        if name in seen:
            raise SpecError(f"layer {l}: {name} is given twice")
        seen.add(name)
        if name == "bn":
            if eq:
                raise SpecError(f"layer {l}: bn takes no value, got {show(text)}")
            batchnorm = True
        else:
            if not eq or not value.strip():
                raise SpecError(f"layer {l}: write dropout=q with 0 <= q < 1, e.g. dropout=0.2")
            dropout = dropout_rate(value, f"layer {l}: dropout")
    return batchnorm, dropout


def parse_compact(
    text: str, *, loss: str | None = None, l1: object = 0.0, l2: object = 0.0
) -> NetworkSpec:
    """`4-5:sigmoid-3:softmax` -> NetworkSpec; the loss defaults from the output activation."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError("the network has no layers; give at least one, e.g. 4-3:softmax")
    if len(text) > MAX_TEXT:
        raise SpecError(f"the spec is {len(text):,} characters long; at most {MAX_TEXT:,}")
    first, *rest = split_layers(text.strip())
    if ":" in first or "=" in first:
        raise SpecError(
            f"the spec must start with the input width, e.g. 4-3:softmax; got {show(text)}"
        )
    input_width = _width(first, "input")
    if len(rest) > MAX_DEPTH:
        raise SpecError(f"the network has {len(rest)} layers; at most {MAX_DEPTH} are allowed")
    layers = tuple(_layer(part, l) for l, part in enumerate(rest, start=1))
    return _build(input_width, layers, loss, l1, l2, ())


def _build(input_width, layers, loss, l1, l2, training) -> NetworkSpec:
    if not layers:
        raise SpecError("the network has no layers; give at least one, e.g. 4-3:softmax")
    if loss is None:
        out = layers[-1].activation
        loss = losses.default_loss(out) if out in activations.TABLE else "squared_error"
    else:
        loss = _loss_name(loss)
    return NetworkSpec(
        input_width, layers, loss, coefficient(l1, "l1"), coefficient(l2, "l2"), training
    )


def _loss_name(given: object) -> str:
    if not isinstance(given, str):
        raise SpecError(f"the loss must be a name, got {show(given)}")
    loss = losses.canonical(given)
    if loss is None:
        raise SpecError(f"unknown loss {show(given)}" + _suggest(given, list(losses.LOSSES)))
    return loss


# -- TOML ------------------------------------------------------------------------------------


def _check_ints(value: object, where: str) -> None:
    """TOML 1.0: integers are 64-bit; tomllib accepts any size, so refuse the rest here."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_ints(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for n, item in enumerate(value, start=1):
            _check_ints(item, f"{where}[{n}]")
    elif isinstance(value, int) and not -_TOML_INT <= value < _TOML_INT:
        digits = len(str(abs(value))) if value.bit_length() < 14_000 else "over 4000"
        raise SpecError(f"{where}: the integer has {digits} digits; TOML integers are 64-bit")


def parse_toml(path: str | Path) -> NetworkSpec:
    """Read a spec file: input, [[layers]] (width, activation, param), loss, l1, l2, [training]."""
    path = Path(path)
    name = show_path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise SpecError(f"cannot read {name}: {e.strerror or type(e).__name__}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SpecError(f"{name} is not valid TOML: {show(str(e), 200)}") from None
    except ValueError as e:  # e.g. an integer past Python's 4300-digit limit
        raise SpecError(f"{name} is not valid TOML: {show(str(e), 120)}") from None
    except RecursionError:
        raise SpecError(f"{name} is not valid TOML: arrays or tables nested too deeply") from None
    try:
        _check_ints(data, "")
        return _from_table(data)
    except SpecError as e:
        raise SpecError(f"{name}: {e}") from None


def _from_table(data: dict) -> NetworkSpec:
    known = {"input", "layers", "loss", "l1", "l2", "training"}
    if unknown := sorted(set(data) - known):
        raise SpecError(f"unknown key {show(unknown[0])}" + _suggest(unknown[0], sorted(known)))
    if "input" not in data:
        raise SpecError("missing 'input' (the input width)")
    rows = data.get("layers")
    if not isinstance(rows, list) or not rows:
        raise SpecError("needs at least one [[layers]] table with width and activation")
    if len(rows) > MAX_DEPTH:
        raise SpecError(f"the network has {len(rows)} layers; at most {MAX_DEPTH} are allowed")
    layers = []
    for l, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or "width" not in row or "activation" not in row:
            raise SpecError(f"layer {l} needs 'width' and 'activation'")
        if extra := sorted(set(row) - {"width", "activation", "param", "batchnorm", "dropout"}):
            raise SpecError(
                f"layer {l}: unknown key {show(extra[0])}"
                " (allowed: width, activation, param, batchnorm, dropout)"
            )
        batchnorm = row.get("batchnorm", False)
        if not isinstance(batchnorm, bool):
            raise SpecError(f"layer {l}: batchnorm must be true or false, got {show(batchnorm)}")
        dropout = row.get("dropout", 0.0)
        if isinstance(dropout, str):
            raise SpecError(f"layer {l}: dropout must be a number, got {show(dropout)}")
        dropout = dropout_rate(dropout, f"layer {l}: dropout")
        if not isinstance(row["activation"], str):
            raise SpecError(f"layer {l}: activation must be a name, got {show(row['activation'])}")
        param = row.get("param")
        if param is not None:
            if isinstance(param, str):  # TOML has numbers: a quoted one is a mistake
                raise SpecError(f"layer {l}: param must be a number, got {show(param)}")
            param = positive(param, f"layer {l}: param")
        layers.append(
            LayerSpec(
                _toml_width(row["width"], f"layer {l}"),
                row["activation"].lower(),
                param,
                batchnorm,
                dropout,
            )
        )
    training = data.get("training", {})
    if not isinstance(training, dict):
        raise SpecError("[training] must be a table")
    for key in ("l1", "l2"):
        if isinstance(data.get(key), str):
            raise SpecError(f"{key} must be a non-negative number, got {show(data[key])}")
    spec = _build(
        _toml_width(data["input"], "input"),
        tuple(layers),
        data.get("loss"),
        data.get("l1", 0.0),
        data.get("l2", 0.0),
        tuple(sorted(training.items())),
    )
    hyper.resolve(spec)  # [training]'s keys and values, checked where they enter
    return spec


def _toml_width(value: object, where: str) -> int:
    if isinstance(value, str):  # TOML has integers: "32" in quotes is a mistake
        raise SpecError(f"{where}: width must be a whole number, got {show(value)}")
    return _width(value, where)


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a name too long for the OS, or one with a NUL
        return False


def parse(text: str, **options) -> NetworkSpec:
    """A SPEC argument: a path to a .toml file, or the compact form."""
    if not isinstance(text, str):
        raise SpecError(f"a spec is text (compact form or a .toml path), got {show(text)}")
    if text.endswith(".toml") or _is_file(text):
        if options.get("loss") is not None or options.get("l1") or options.get("l2"):
            spec = parse_toml(text)
            overrides = {k: v for k, v in options.items() if v not in (None, 0, 0.0)}
            if "loss" in overrides:
                overrides["loss"] = _loss_name(overrides["loss"])
            for key in ("l1", "l2"):
                if key in overrides:
                    overrides[key] = coefficient(overrides[key], key)
            return replace(spec, **overrides)
        return parse_toml(text)
    return parse_compact(text, **options)
