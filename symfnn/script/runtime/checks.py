"""What each numeric training option allows: one table for the spec and the script.

symfnn's `[training]` table (symfnn.engine.hyper) and a generated script's command line and
`train()` check their numbers with `number` against the same RULES, so a value one refuses
the other refuses too, with the same words (what was given, what is allowed). The one
difference is the spec's own: a spec asks for at least 1 epoch, the command line allows 0
(only predict, with --load). Included verbatim in every generated script (codegen.RUNTIME);
standard library only.
"""

import collections
import math


class OptionError(ValueError):
    """A training option outside what its rule allows (a one-line message)."""


# What one numeric option allows: kind int or float; minimum the least value (inclusive);
# positive: > 0 rather than >= minimum; below an exclusive upper bound.
_RULE_FIELDS = ("kind", "minimum", "positive", "below")
Rule = collections.namedtuple("Rule", _RULE_FIELDS, defaults=(None, False, None))

RULES = {
    "epochs": Rule(int, minimum=0),  # 0: no training (predict with --load)
    "batch_size": Rule(int, minimum=1),  # 1: the article's SGD
    "lr": Rule(float, positive=True),
    "patience": Rule(int, minimum=0),  # 0: no early stopping
    "val_split": Rule(float, minimum=0, below=1),  # a share of the rows, 0: none
    "clip_value": Rule(float, positive=True),
    "clip_norm": Rule(float, positive=True),
    "seed": Rule(int, minimum=0),
    "l1": Rule(float, minimum=0),
    "l2": Rule(float, minimum=0),
    "diverging": Rule(float, minimum=0),  # a factor of the loss at the start, 0: off
}


def _shown_value(given: object) -> str:
    """repr() of what was given, shortened: a 5,000-digit number stays one short line."""
    text = repr(given)
    return text if len(text) <= 40 else f"{text[:25]}... ({len(text)} characters)"


def number(key: str, given: object, where: str = "", text: bool = False) -> int | float:
    """`given` checked against RULES[key]: the number (int or float as the rule's kind), else
    OptionError "WHERE must be ..., got GIVEN". With `text`, `given` is the text of a number
    (a command-line argument); otherwise it must be a number already (bool is not)."""
    rule, lead = RULES[key], f"{where} " if where else ""
    got = f", got {_shown_value(given)}"
    kind = "a whole number" if rule.kind is int else "a number"
    numeric = (int,) if rule.kind is int else (int, float)
    try:
        if text:
            value = rule.kind(given.strip())
        elif isinstance(given, bool) or not isinstance(given, numeric):
            raise TypeError
        else:
            value = rule.kind(given)
    except (TypeError, ValueError, AttributeError):
        raise OptionError(f"{lead}must be {kind}{got}") from None
    except OverflowError:  # an int beyond the largest float
        raise OptionError(f"{lead}must be finite{got}") from None
    if not math.isfinite(value):
        raise OptionError(f"{lead}must be finite{got}")
    if rule.positive and value <= 0:
        raise OptionError(f"{lead}must be positive{got}")
    if rule.minimum is not None and value < rule.minimum:
        raise OptionError(f"{lead}must be at least {rule.minimum:g}{got}")
    if rule.below is not None and value >= rule.below:
        raise OptionError(f"{lead}must be below {rule.below:g}{got}")
    return value


def check_settings(settings: dict) -> None:
    """Every numeric option of `settings` (name -> value; None: the default or off) checked:
    OptionError for the first one its rule refuses."""
    for key, given in settings.items():
        if key in RULES and given is not None:
            number(key, given, key)
