"""The training hyper-parameters: their defaults, what is allowed, and a spec's own values.

A spec's `[training]` table (`NetworkSpec.training`) overrides the defaults below;
`resolve(spec)` merges and validates them. The generated script takes the result as the
defaults of `train()` and of its command line, and the document's algorithm box shows the
same values, so the two cannot disagree. l1 and l2 are spec fields, not hyper-parameters.
The optimisers and initialisation schemes allowed, and each optimiser's default learning rate,
come from the rule tables of `symfnn.engine.training`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from ..errors import SpecError
from ..script.runtime.checks import OptionError, number
from .activations import lookup
from .training import INITS, OPTIMIZERS

# The initial learning rate of each optimizer when none is given (lr = None).
OPTIMIZER_LR = {name: entry.lr for name, entry in OPTIMIZERS.items()}


@dataclass(frozen=True)
class Param:
    """One hyper-parameter: its default and, for a name, the choices. A number's rule (kind,
    bounds) is runtime.checks.RULES[key], which the generated script's command line shares."""

    default: object  # None: none (lr: per optimizer; init: from the architecture)
    choices: tuple[str, ...] = ()
    minimum: int | None = None  # a spec's own, stricter bound (epochs: a script that trains)


TABLE = {
    "epochs": Param(50, minimum=1),  # the command line allows 0: predict with --load
    "batch_size": Param(32),
    "lr": Param(None),
    "optimizer": Param("adam", choices=tuple(OPTIMIZER_LR)),
    "patience": Param(10),  # epochs without a better val error; 0: off
    "diverging": Param(10.0),  # an epoch's loss over this times the start's stops; 0: off
    "init": Param(None, choices=tuple(INITS)),  # None: default_init
    "val_split": Param(0.2),
    "clip_value": Param(None),
    "clip_norm": Param(None),
    "seed": Param(0),
    "dtype": Param("float32", choices=("float32", "float64")),
}
_SPEC_FIELDS = ("l1", "l2", "loss", "input", "layers")  # top-level keys, not [training] ones


def default_init(spec) -> str:
    """'he' for a deep network whose hidden layers are all rectifiers (Activation.rectifier),
    else 'xavier'."""
    rectified = all(lookup(layer.activation).rectifier() for layer in spec.layers[:-1])
    return "he" if rectified and spec.depth > 1 else "xavier"


def learning_rate(hp: dict) -> float:
    """The learning rate training starts with: the given one, else the optimizer's."""
    return OPTIMIZER_LR[hp["optimizer"]] if hp["lr"] is None else hp["lr"]


def _unknown(key: str) -> SpecError:
    if key in _SPEC_FIELDS:
        return SpecError(
            f"[training] {key!r} is a top-level key of the spec, not a hyper-parameter"
        )
    close = difflib.get_close_matches(key, list(TABLE), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return SpecError(f"[training] unknown key {key!r}{hint} (allowed: {', '.join(TABLE)})")


def value(key: str, given: object) -> object:
    """`given` checked against TABLE[key]; an int is accepted where a float is asked."""
    if key not in TABLE:
        raise _unknown(key)
    param = TABLE[key]
    where = f"[training] {key}"
    if param.choices:
        if given not in param.choices:
            allowed = ", ".join(param.choices)
            raise SpecError(f"{where} must be one of {allowed}; got {given!r}")
        return given
    try:
        checked = number(key, given, where)
    except OptionError as e:
        raise SpecError(str(e)) from None
    if param.minimum is not None and checked < param.minimum:
        raise SpecError(f"{where} must be at least {param.minimum}, got {given!r}")
    return checked


def resolve(spec) -> dict:
    """The spec's [training] values over the defaults, checked: key -> value, in TABLE's order.

    `lr` stays None when not given (the script then picks OPTIMIZER_LR[optimizer]; see
    `learning_rate`); `init` defaults from the architecture (`default_init`)."""
    hp = {key: param.default for key, param in TABLE.items()}
    hp["init"] = default_init(spec)
    for key, given in spec.training:
        hp[key] = value(key, given)
    return hp
