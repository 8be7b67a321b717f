"""What symfnn does not yet build for batch normalisation and dropout (issue 11).

The engine derives and proves layers with `bn` or `dropout=q`; the outputs printed from a
derivation do not know those layers yet. Rather than print a plain network's document or
script for such a spec (wrong, silently), each output stage calls `refuse` where it begins.
"""

from __future__ import annotations

from ..errors import SpecError
from .spec import NetworkSpec

# The stages that handle batch normalisation and dropout already.
DONE = "derived, proven, generated as a training script and checked"


def refuse(spec: NetworkSpec, output: str) -> None:
    """Raise a one-line SpecError (exit 2) if `spec` has a layer the `output` cannot print."""
    if spec.normalised:
        raise SpecError(
            f"batch normalisation and dropout are {DONE}, not yet {output}: {spec.compact}"
        )
