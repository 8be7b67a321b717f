"""The document's section on batch normalisation and dropout (issue 11), and the lines a
normalised layer contributes to the per-layer section.

Every formula is printed from `symfnn.batchnorm`: the per-unit steps (`unit_steps`, with the
intermediate results SymPy went through) and each layer's `NormLayer` (mini-batch forms).
"""

from __future__ import annotations

import sympy as sp

from .tidy import as_batch


class NormSections:
    """Mixed into `Sections`: uses its `d`, `s`, `m`, `tex`, `text`, `eq`, `chain`."""

    def norm_layer_lines(self, layer) -> list[tuple]:
        """A normalised layer's backward steps and gradients, mini-batch form (the per-unit
        derivation has no one-sample form: the samples couple)."""
        from .batchnorm import batch_backward

        return [
            (as_batch(st.batch_lhs), "=", as_batch(st.batch), st.label)
            for st in batch_backward(layer)
        ]

    def normalisation(self) -> dict:
        return self.section("sec_norm", "norm", [])
