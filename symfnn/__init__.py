"""symfnn: derive, prove, document and generate backpropagation for feedforward networks.

    >>> import symfnn
    >>> d = symfnn.derive("4-5:sigmoid-3:softmax", l2=0.01)   # a Derivation
    >>> bool(d.verify()), d.to_html("d.html"), d.to_pdf("d.pdf"), d.module(), d.check()

The public names (symfnn/api.py) load SymPy on first use, so `symfnn --help` stays quick.
"""

from __future__ import annotations

import importlib
import sys
import types

__version__ = "0.1.0"

# name -> module of symfnn that defines it
_PUBLIC = {
    "analyze": "api",
    "check": "api",
    "data": "api",
    "pipeline": "api",
    "load_spec": "api",
    "Config": "api",
    "Derivation": "api",
    "ProofReport": "api",
    "Stages": "api",
    "NetworkSpec": "spec",
    "LayerSpec": "spec",
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


class _DeriveModule(types.ModuleType):
    """symfnn.derive, the engine module, is also the public function `symfnn.derive(spec)`.

    The module keeps its name (code and tests import `symfnn.derive` and read `Step`,
    `Derivation`, … from it); calling it runs `symfnn.api.derive`.
    """

    def __call__(self, spec, *, loss=None, l1=0.0, l2=0.0):
        """derive(spec, *, loss=None, l1=0.0, l2=0.0) -> symfnn.api.Derivation; `spec` is
        the compact text, a TOML path or a NetworkSpec."""
        from .api import derive

        return derive(spec, loss=loss, l1=l1, l2=l2)


class _Package(types.ModuleType):
    @property
    def derive(self) -> _DeriveModule:
        module = sys.modules.get(f"{__name__}.derive") or importlib.import_module(
            ".derive", __name__
        )
        module.__class__ = _DeriveModule
        return module

    @derive.setter
    def derive(self, module: types.ModuleType) -> None:
        # the import system binds the submodule here once it is loaded: make it callable
        module.__class__ = _DeriveModule


sys.modules[__name__].__class__ = _Package
