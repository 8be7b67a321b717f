"""The architecture: a frozen, validated NetworkSpec, parsed from compact text or TOML.

Compact form: `784-256:relu-128:leaky_relu=0.1-10:softmax` (input width, then WIDTH:ACT
per layer, an activation's parameter after `=`). Nothing the user writes is evaluated.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import activations, hyper, losses
from .errors import SpecError

_LAYER = re.compile(
    r"^\s*(?P<width>[^:=]*?)\s*(?::\s*(?P<act>[^=]*?)\s*(?:=\s*(?P<param>.*?))?\s*)?$"
)


@dataclass(frozen=True)
class LayerSpec:
    """One layer: its width and activation (with the activation's parameter, if any)."""

    width: int
    activation: str
    param: float | None = None

    @property
    def compact(self) -> str:
        tail = "" if self.param is None else f"={self.param:g}"
        return f"{self.width}:{self.activation}{tail}"


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
        w = self.widths
        return sum(w[l] * w[l - 1] + w[l] for l in range(1, len(w)))

    def describe(self) -> str:
        """One line: the architecture, its loss and regularisers."""
        reg = [f"{name}={value:g}" for name, value in (("l1", self.l1), ("l2", self.l2)) if value]
        return " ".join([self.compact, f"loss={self.loss}", *reg])

    def with_widths(self, widths: tuple[int, ...]) -> NetworkSpec:
        """The same layer types at other widths (the proof's small instance)."""
        layers = tuple(replace(layer, width=w) for layer, w in zip(self.layers, widths[1:]))
        return replace(self, input_width=widths[0], layers=layers)


def _suggest(name: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (allowed: {', '.join(allowed)})"


def _width(text: object, where: str) -> int:
    if isinstance(text, bool) or not isinstance(text, (int, str)):
        raise SpecError(f"{where}: width must be a whole number, got {text!r}")
    if isinstance(text, str) and not re.fullmatch(r"\s*[+-]?\d+\s*", text):
        raise SpecError(f"{where}: width must be a whole number, got {text!r}")
    value = int(text)
    if value < 1:
        raise SpecError(f"{where}: width must be at least 1, got {value}")
    return value


def coefficient(value: object, what: str) -> float:
    """A non-negative finite number from text or TOML (never evaluated as code)."""
    if isinstance(value, bool):
        raise SpecError(f"{what} must be a non-negative number, got {value!r}")
    try:
        number = float(value)  # float() parses numerals only
    except (TypeError, ValueError):
        raise SpecError(f"{what} must be a non-negative number, got {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise SpecError(f"{what} must be a non-negative finite number, got {value!r}")
    return number


def positive(value: object, what: str) -> float:
    number = coefficient(value, what)
    if number == 0:
        raise SpecError(f"{what} must be positive, got {value!r}")
    return number


def validate(spec: NetworkSpec) -> None:
    """Check every rule of a spec; raise SpecError naming what was given and what is allowed."""
    if not spec.layers:
        raise SpecError("the network has no layers; give at least one, e.g. 4-3:softmax")
    _width(spec.input_width, "input")
    allowed = activations.names()
    for l, layer in enumerate(spec.layers, start=1):
        _width(layer.width, f"layer {l}")
        if layer.activation not in activations.TABLE:
            raise SpecError(
                f"layer {l}: unknown activation {layer.activation!r}"
                + _suggest(layer.activation, allowed)
            )
        act = activations.TABLE[layer.activation]
        if act.output_only and l != spec.depth:
            raise SpecError(f"layer {l}: {act.name} is allowed on the output layer only")
        if layer.param is not None and act.param is None:
            raise SpecError(f"layer {l}: {act.name} takes no parameter, got ={layer.param:g}")
        if layer.param is not None:
            positive(layer.param, f"layer {l}: {act.name}'s {act.param}")
    if spec.loss not in losses.LOSSES:
        raise SpecError(f"unknown loss {spec.loss!r}" + _suggest(spec.loss, list(losses.LOSSES)))
    loss, out = losses.LOSSES[spec.loss], spec.layers[-1].activation
    if loss.fits is not None and out not in loss.fits:
        raise SpecError(
            f"loss {loss.name} needs a {' or '.join(loss.fits)} output layer, got {out}"
        )
    if out == "softmax" and spec.layers[-1].width < 2:
        raise SpecError("a softmax output layer needs at least 2 units")
    coefficient(spec.l1, "l1")
    coefficient(spec.l2, "l2")


def _layer(text: str, l: int) -> LayerSpec:
    m = _LAYER.match(text)
    if not m or not m.group("width"):
        raise SpecError(f"layer {l}: cannot read {text!r}; write WIDTH:ACTIVATION, e.g. 32:relu")
    if m.group("act") is None:
        raise SpecError(
            f"layer {l}: {text!r} has no activation; write WIDTH:ACTIVATION, e.g. {text}:relu"
        )
    act = m.group("act").strip().lower()
    param = m.group("param")
    if param is not None:
        param = positive(param, f"layer {l}: the parameter of {act}")
    return LayerSpec(_width(m.group("width"), f"layer {l}"), act, param)


def parse_compact(
    text: str, *, loss: str | None = None, l1: object = 0.0, l2: object = 0.0
) -> NetworkSpec:
    """`4-5:sigmoid-3:softmax` -> NetworkSpec; the loss defaults from the output activation."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError("the network has no layers; give at least one, e.g. 4-3:softmax")
    if m := re.search(r"=\s*-[^-]*", text):
        raise SpecError(
            f"an activation's parameter must be positive, got {m.group(0)[1:].strip()!r}"
        )
    first, *rest = text.strip().split("-")
    if ":" in first:
        raise SpecError(f"the spec must start with the input width, e.g. 4-{text}; got {text!r}")
    input_width = _width(first, "input")
    layers = tuple(_layer(part, l) for l, part in enumerate(rest, start=1))
    return _build(input_width, layers, loss, l1, l2, ())


def _build(input_width, layers, loss, l1, l2, training) -> NetworkSpec:
    if not layers:
        raise SpecError("the network has no layers; give at least one, e.g. 4-3:softmax")
    if loss is None:
        out = layers[-1].activation
        loss = losses.default_loss(out) if out in activations.TABLE else "squared_error"
    else:
        given = loss
        loss = losses.canonical(str(loss))
        if loss is None:
            raise SpecError(f"unknown loss {given!r}" + _suggest(str(given), list(losses.LOSSES)))
    return NetworkSpec(
        input_width, layers, loss, coefficient(l1, "l1"), coefficient(l2, "l2"), training
    )


def parse_toml(path: str | Path) -> NetworkSpec:
    """Read a spec file: input, [[layers]] (width, activation, param), loss, l1, l2, [training]."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise SpecError(f"cannot read {path}: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SpecError(f"{path} is not valid TOML: {e}") from None
    known = {"input", "layers", "loss", "l1", "l2", "training"}
    if unknown := sorted(set(data) - known):
        raise SpecError(f"{path}: unknown key {unknown[0]!r}" + _suggest(unknown[0], sorted(known)))
    if "input" not in data:
        raise SpecError(f"{path}: missing 'input' (the input width)")
    rows = data.get("layers")
    if not isinstance(rows, list) or not rows:
        raise SpecError(f"{path}: needs at least one [[layers]] table with width and activation")
    layers = []
    for l, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or "width" not in row or "activation" not in row:
            raise SpecError(f"{path}: layer {l} needs 'width' and 'activation'")
        if extra := sorted(set(row) - {"width", "activation", "param"}):
            raise SpecError(
                f"{path}: layer {l}: unknown key {extra[0]!r} (allowed: width, activation, param)"
            )
        param = row.get("param")
        if param is not None:
            param = positive(param, f"{path}: layer {l}: param")
        layers.append(
            LayerSpec(_width(row["width"], f"layer {l}"), str(row["activation"]).lower(), param)
        )
    training = data.get("training", {})
    if not isinstance(training, dict):
        raise SpecError(f"{path}: [training] must be a table")
    spec = _build(
        _width(data["input"], "input"),
        tuple(layers),
        data.get("loss"),
        data.get("l1", 0.0),
        data.get("l2", 0.0),
        tuple(sorted(training.items())),
    )
    try:
        hyper.resolve(spec)  # [training]'s keys and values, checked where they enter
    except SpecError as e:
        raise SpecError(f"{path}: {e}") from None
    return spec


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except OSError:  # e.g. a compact spec longer than a file name may be
        return False


def parse(text: str, **options) -> NetworkSpec:
    """A SPEC argument: a path to a .toml file, or the compact form."""
    if text.endswith(".toml") or _is_file(text):
        if options.get("loss") is not None or options.get("l1") or options.get("l2"):
            spec = parse_toml(text)
            overrides = {k: v for k, v in options.items() if v not in (None, 0, 0.0)}
            if "loss" in overrides:
                overrides["loss"] = losses.canonical(overrides["loss"]) or overrides["loss"]
            for key in ("l1", "l2"):
                if key in overrides:
                    overrides[key] = coefficient(overrides[key], key)
            return replace(spec, **overrides)
        return parse_toml(text)
    return parse_compact(text, **options)
