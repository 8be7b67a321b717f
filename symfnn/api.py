"""The public API: one pipeline that returns every stage, and a Derivation with its outputs.

    pipeline(spec, Config(...)) -> Stages:
        text | .toml | NetworkSpec ─load_spec─▶ NetworkSpec ─derive─▶ Derivation
            ─▶ ProofReport ─▶ LaTeX (.tex, .pdf) ─▶ HTML ─▶ train.py ─▶ gradient check

Modelled on pystencils' `create_kernel`: one configuration dataclass, and every intermediate
kept in the result, so each stage can be tested alone and the command line is a thin shell
over this module. `symfnn.derive(spec)` returns a `Derivation` whose methods reach each
output directly: `verify()`, `to_tex()`, `to_pdf()`, `to_html()`, `script()`, `module()`,
`check()`, and, in Jupyter, `_repr_html_` / `_repr_latex_`.
"""

from __future__ import annotations

import contextlib
import os
import types
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from . import fileio
from .documents import document
from .engine import derive as engine
from .engine import spec as specs
from .engine import verify as proof
from .engine.spec import NetworkSpec
from .errors import SpecError, show_path
from .script import codegen, gradcheck

PathLike = str | os.PathLike


@dataclass
class ProofReport(proof.Report):
    """The brute-force proof's report (symfnn.engine.verify.Report); truthy when proven."""

    def __bool__(self) -> bool:
        return self.proven  # NUMERIC ONLY / INCONCLUSIVE are not failures, nor proofs


@dataclass(frozen=True)
class Derivation(engine.Derivation):
    """symfnn.engine.derive.Derivation with its outputs one call away (what `symfnn.derive` returns).

    The proof runs at most once per object: the documents report it, `verify()` returns it.
    """

    def verify(self) -> ProofReport:
        """Prove the derivation by brute force on a small instance (cached)."""
        report = self.__dict__.get("_report")
        if report is None:
            found = proof.verify(self)
            report = ProofReport(**{f.name: getattr(found, f.name) for f in fields(found)})
            object.__setattr__(self, "_report", report)  # a cache, not a field
        return report

    def to_text(self) -> str:
        """The derivation for a terminal (what `symfnn derive SPEC` prints)."""
        from .documents.textprint import derivation_text

        return derivation_text(self)

    def to_tex(
        self, path: PathLike | None = None, lang: str = "en", flow=None, *, force: bool = False
    ) -> str:
        """The LaTeX document; written to `path` when given. `flow`: a `symfnn.analyze`
        result whose chapter (and plots) the document includes."""
        chapter = _chapter(flow, lang)
        text = document.tex_source(self, lang=lang, report=self.verify(), flow=chapter)
        if path is not None:
            fileio.write_atomic(path, text, force)
        return text

    def to_pdf(self, path: PathLike, lang: str = "en", force: bool = False, flow=None) -> Path:
        """Compile the document to `path` (needs latexmk); `flow` as in `to_tex`."""
        chapter = _chapter(flow, lang)
        (written,) = document.write(
            self, pdf=path, lang=lang, force=force, report=self.verify(), flow=chapter
        )
        return written

    def to_html(
        self, path: PathLike | None = None, lang: str = "en", flow=None, *, force: bool = False
    ) -> str:
        """The self-contained HTML page (MathML); written to `path` when given; `flow` as
        in `to_tex`."""
        from .documents import html

        chapter = _chapter(flow, lang)
        text = html.html_source(self, lang=lang, report=self.verify(), flow=chapter)
        if path is not None:
            fileio.write_atomic(path, text, force)
        return text

    def script(self) -> str:
        """The standalone NumPy training script's source."""
        return codegen.script(self)

    def module(self) -> types.ModuleType:
        """The training script imported as a module; no file is left behind."""
        with fileio.work_folder("module") as folder:  # one a kill -9 left goes next time
            path = folder / "train.py"
            path.write_text(self.script(), encoding="utf-8")
            return codegen.load(path)

    def check(self, seed: int = 0) -> gradcheck.Result:
        """Check the generated script's gradients (finite differences, Taylor test, SymPy)."""
        return gradcheck.run(spec=self.spec, seed=seed)

    def _repr_latex_(self) -> str:  # Jupyter, where HTML is not shown
        from .documents.latexprint import derivation_summary_latex

        return derivation_summary_latex(self)

    def _repr_html_(self) -> str:  # Jupyter: MathML, laid out by the browser
        from .documents.html import summary_html

        return summary_html(self)


def _chapter(flow, lang: str) -> dict | None:
    """A FlowResult (or an already built chapter) -> the document's flow chapter."""
    if flow is None or isinstance(flow, dict):
        return flow
    from .flow.analyze import tex_chapter

    return tex_chapter(flow, lang=lang)


# -- the stages ------------------------------------------------------------------------------


def load_spec(
    spec: str | PathLike | NetworkSpec,
    *,
    loss: str | None = None,
    l1: float | str = 0.0,
    l2: float | str = 0.0,
) -> NetworkSpec:
    """Compact text, a TOML path or a NetworkSpec (options override its loss, l1, l2)."""
    if isinstance(spec, NetworkSpec):
        overrides = {"loss": loss, "l1": l1, "l2": l2}
        overrides = {k: v for k, v in overrides.items() if v not in (None, 0, 0.0)}
        if "loss" in overrides:
            from .engine.losses import canonical

            overrides["loss"] = canonical(overrides["loss"]) or overrides["loss"]
        for key in ("l1", "l2"):
            if key in overrides:
                overrides[key] = specs.coefficient(overrides[key], key)
        spec = replace(spec, **overrides)
        specs.validate(spec)
        return spec
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str):
        raise SpecError(f"a spec is text, a .toml path or a NetworkSpec, got {type(spec).__name__}")
    return specs.parse(spec, loss=loss, l1=l1, l2=l2)


def derive(
    spec: str | PathLike | NetworkSpec,
    *,
    loss: str | None = None,
    l1: float = 0.0,
    l2: float = 0.0,
) -> Derivation:
    """Derive backpropagation for `spec` (compact text, a TOML path or a NetworkSpec)."""
    found = engine.derive(load_spec(spec, loss=loss, l1=l1, l2=l2))
    return Derivation(**{f.name: getattr(found, f.name) for f in fields(found)})


def analyze(
    spec: str | PathLike | NetworkSpec | None = None,
    out_dir: PathLike = "flow",
    *,
    loss: str | None = None,
    l1: float = 0.0,
    l2: float = 0.0,
    **options,
):
    """The gradient-flow analysis (bounds, measurements, plots) into `out_dir`: a FlowResult.
    `spec` None analyses the article's deep sigmoid network; `options` go to
    `symfnn.flow.analyze.analyze` (quick, force, progress, lang)."""
    from .flow import analyze as flow

    network = None if spec is None else load_spec(spec, loss=loss, l1=l1, l2=l2)
    return flow.analyze(network, out_dir, **options)


def check(
    spec: str | PathLike | NetworkSpec | None = None,
    *,
    script: PathLike | None = None,
    seed: int = 0,
) -> gradcheck.Result:
    """The gradient check of a spec's generated script, or of a script file (maybe edited)."""
    network = None if spec is None else load_spec(spec)
    return gradcheck.run(spec=network, script=script, seed=seed)


def data(name: str, path: PathLike, *, seed: int = 0, force: bool = False) -> dict:
    """Export a bundled data set (digits, fashion-mnist, spirals, …) to .npz: a summary."""
    from .datasets import export

    return export(name, path, seed=seed, force=force)


# -- the pipeline ----------------------------------------------------------------------------


def _quiet(line: str) -> None:
    """No progress lines."""


@dataclass(frozen=True)
class Config:
    """What `pipeline` computes and writes; every output is off unless asked for."""

    loss: str | None = None
    """The output loss (cross_entropy, binary_cross_entropy, squared_error); None takes
    the output activation's own (softmax: cross-entropy, sigmoid: BCE, else squared error)."""

    l1: float | str = 0.0
    """λ1 of the penalty λ1‖W‖₁ on the weights (biases are not regularised)."""

    l2: float | str = 0.0
    """λ2 of the penalty λ2/2 ‖W‖² on the weights."""

    verify: bool = False
    """Prove the derivation by brute force. A document always does: it reports the proof."""

    lang: str = "en"
    """Language of the documents: "en" or "zh"."""

    tex: PathLike | None = None
    """Where to write the LaTeX document."""

    pdf: PathLike | None = None
    """Where to write the compiled document (needs latexmk; XeLaTeX for Chinese)."""

    html: PathLike | None = None
    """Where to write the self-contained HTML page."""

    script: PathLike | None = None
    """Where to write the standalone NumPy training script."""

    check: bool = False
    """Check the generated script's gradients against finite differences and SymPy."""

    seed: int = 0
    """Seed of the gradient check's random weights and data."""

    flow: bool = False
    """Run the quick gradient-flow analysis and add its chapter to the documents (with a
    .tex, its plots go beside it, in <name>-flow/)."""

    force: bool = False
    """Overwrite existing files (never without it)."""

    stage: Callable[[str], object] = _quiet
    """Told the name of each stage as it starts (the command line shows them for deep nets)."""

    progress: Callable[[str], object] = print
    """Where the flow analysis reports its steps."""

    @property
    def targets(self) -> list[PathLike]:
        return [p for p in (self.tex, self.pdf, self.html, self.script) if p is not None]

    @property
    def documents(self) -> bool:
        return self.tex is not None or self.pdf is not None or self.html is not None


@dataclass
class Stages:
    """Every stage `pipeline` ran, in order; None where a stage was not asked for."""

    config: Config
    spec: NetworkSpec
    derivation: Derivation
    report: ProofReport | None = None
    flow: dict | None = None  # the --flow chapter (symfnn.flow.analyze.document_chapter)
    tex: str | None = None  # the LaTeX document, when written to a .tex
    html: str | None = None  # the HTML page
    script: str | None = None  # train.py
    check: gradcheck.Result | None = None
    written: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No failed proof and no failed gradient check."""
        return (self.report is None or self.report.ok) and (self.check is None or self.check.ok)


def check_targets(paths: list[PathLike], force: bool) -> None:
    """Every output checked before any work; two outputs naming one file are refused."""
    seen: dict[str, PathLike] = {}
    for path in paths:
        key = os.path.realpath(path)
        if key in seen:
            raise SpecError(f"{show_path(seen[key])} and {show_path(path)} are the same file")
        seen[key] = path
        fileio.check_writable(path, force)


def pipeline(spec: str | PathLike | NetworkSpec, config: Config | None = None) -> Stages:
    """spec -> derivation -> proof -> documents -> script -> check, each stage kept."""
    c = config or Config()
    check_targets(c.targets, c.force)  # refuse before minutes of work, not after
    network = load_spec(spec, loss=c.loss, l1=c.l1, l2=c.l2)  # text | path -> NetworkSpec
    c.stage(f"deriving {network.depth} layers")
    out = Stages(c, network, derive(network))  # NetworkSpec -> Derivation
    d = out.derivation
    if c.verify or c.documents:
        c.stage("proving by brute force")
        out.report = d.verify()  # Derivation -> ProofReport
    if c.documents:
        from .documents import document, html
        from .fileio import work_folder

        # the analysis's plots, for a PDF without a .tex, live until the PDF is built
        with work_folder("flow") if c.flow else contextlib.nullcontext() as folder:
            if c.flow:  # NetworkSpec -> the analysis chapter
                from .flow.analyze import document_chapter

                out.flow = document_chapter(
                    network, folder, tex=c.tex, lang=c.lang, force=c.force, progress=c.progress
                )
            if c.tex is not None or c.pdf is not None:
                c.stage("writing the document")
                out.written += document.write(  # Derivation -> .tex, .pdf
                    d, tex=c.tex, pdf=c.pdf, lang=c.lang, force=c.force, report=out.report,
                    flow=out.flow,
                )  # fmt: skip
                if c.tex is not None:
                    out.tex = Path(c.tex).read_text(encoding="utf-8")
            if c.html is not None:
                c.stage("writing the page")
                out.html = html.html_source(d, lang=c.lang, report=out.report, flow=out.flow)
                out.written.append(fileio.write_atomic(c.html, out.html, c.force))  # -> .html
    if c.script is not None:
        c.stage("printing the script")
        out.script = d.script()  # Derivation -> train.py
        out.written.append(fileio.write_atomic(c.script, out.script, c.force))
    if c.check:
        c.stage("checking the script's gradients")
        out.check = d.check(c.seed)  # train.py -> gradient check
    return out
