"""symfnn: derive, prove, document and generate backpropagation for feedforward networks.

    >>> import symfnn
    >>> d = symfnn.derive("4-5:sigmoid-3:softmax", l2=0.01)   # a Derivation
    >>> bool(d.verify()), d.to_html("d.html"), d.to_pdf("d.pdf"), d.module(), d.check()

The public names (symfnn/api.py) load SymPy on first use, so `symfnn --help` stays quick.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> module of symfnn that defines it
_PUBLIC = {
    "derive": "api",
    "analyze": "api",
    "check": "api",
    "data": "api",
    "pipeline": "api",
    "load_spec": "api",
    "Config": "api",
    "Derivation": "api",
    "ProofReport": "api",
    "Stages": "api",
    "NetworkSpec": "engine.spec",
    "LayerSpec": "engine.spec",
    "SymfnnError": "errors",
}
__all__ = [  # noqa: RUF022 -- in the order of the pipeline
    "__version__",
    "derive",
    "analyze",
    "check",
    "data",
    "pipeline",
    "load_spec",
    "Config",
    "Derivation",
    "ProofReport",
    "Stages",
    "NetworkSpec",
    "LayerSpec",
    "SymfnnError",
]


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module 'symfnn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
