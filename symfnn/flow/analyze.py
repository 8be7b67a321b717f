"""Vanishing and exploding gradients: derived bounds, measured gradient flow, plots, remedies.

`analyze` reads like the pipeline (equations.md, section 6):

    spec ─▶ flow_symbolic.analyse ─▶ bounds (exact)                         ┐
    deep nets × activation × init ─▶ generated code ─▶ norms at init        │
    training runs (generated gradients) ─▶ per-layer speed, clipping, L2    ├─▶ flow.json, report.md,
    the user's spec ─▶ per-sample ‖δ^{(l)}‖ vs the derived bound             ┘   plots (PNG + PDF)

Every gradient measured here comes from `symfnn.script.codegen.load(derive(spec))`, the code
`symfnn generate` writes, so the analysis is of the code users run. The stages live in
`flow.symbolic` (bounds), `flow.experiments` (measurements), `flow.plots` and `flow.report`
(JSON data -> Markdown report, summary, LaTeX chapter); this module is the driver.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..engine.spec import NetworkSpec, parse_compact
from ..errors import RenderError
from ..fileio import write_atomic
from .experiments import (
    ACTIVATIONS,
    FULL,
    QUICK,
    SCHEMES,
    Settings,
    at_init,
    batchnorm_runs,
    clipping,
    digits,
    generated,
    l2_runs,
    learning_speed,
    remedies,
    user_spec,
)
from .report import (
    JSON_NAME,
    PLOT_NAMES,
    REPORT_NAME,
    FlowResult,
    place_plots,
    report,
    tex_chapter,
)

__all__ = [
    "DEFAULT_SPEC",
    "FULL",
    "PLOT_NAMES",
    "QUICK",
    "FlowResult",
    "Settings",
    "analyze",
    "document_chapter",
    "generated",
    "place_plots",
    "tex_chapter",
]

# Nielsen's [784, 30, 30, 30, 30, 10] on digits' 64 inputs: the article's example network.
DEFAULT_SPEC = "64-30:sigmoid-30:sigmoid-30:sigmoid-30:sigmoid-10:softmax"


# -- the driver ----------------------------------------------------------------------------


def _targets(out: Path) -> list[Path]:
    names = [JSON_NAME, REPORT_NAME] + [f"{p}.{ext}" for p in PLOT_NAMES for ext in ("png", "pdf")]
    return [out / n for n in names]


def _prepare(out_dir: str | Path, force: bool) -> Path:
    """Create `out_dir` if missing; refuse to overwrite any file analyze writes, unless force."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise RenderError(f"{out} exists and is not a folder")
    if out.is_dir() and not force:
        taken = [p.name for p in _targets(out) if p.exists()]
        if taken:
            raise RenderError(
                f"{out} already holds {taken[0]} (and {len(taken) - 1} more); pass --force to overwrite"
            )
    out.mkdir(parents=True, exist_ok=True)
    return out


def analyze(
    spec: NetworkSpec | None = None,
    out_dir: str | Path = "flow",
    *,
    quick: bool = False,
    force: bool = False,
    progress: Callable[[str], object] = print,
    settings: Settings | None = None,
    lang: str = "en",
) -> FlowResult:
    """Derive the bounds, measure gradient flow on digits, write JSON, report and plots
    (the plots' labels in `lang`, the language of the document that includes them)."""
    out = _prepare(out_dir, force)
    s = settings or (QUICK if quick else FULL)
    spec = spec or parse_compact(DEFAULT_SPEC)
    started = time.perf_counter()
    stage = _stages(progress, started)

    from . import symbolic as flow_symbolic

    stage(
        f"symbolic: Nielsen's chain (k = {s.chain_k}), derivative maxima, bounds for {spec.compact}"
    )
    symbolic = flow_symbolic.analyse(spec, s.chain_k)  # NetworkSpec -> exact bounds
    data = digits(s.seed)
    stage(
        f"at initialisation: {len(ACTIVATIONS)} activations × {len(SCHEMES)} inits, {s.depth} hidden layers of {s.width}"
    )
    result = {"settings": s.__dict__, "quick": quick, "symbolic": symbolic}
    result["at_init"] = at_init(s, data, progress)
    stage(
        f"learning speed per layer: {s.speed_depth} hidden layers of {s.speed_width}, {s.epochs} epochs"
    )
    result["learning_speed"] = learning_speed(s, data, progress)
    stage(
        f"remedy: clipping by norm ({s.clip_norm:g}) of a ReLU He run exploding at lr {s.clip_lr:g}"
    )
    result["clipping"] = clipping(s, data, progress)
    stage(f"remedy: L2 (λ2 = {s.l2:g}) on tanh, N(0,1), {s.l2_depth} hidden layers")
    result["l2"] = l2_runs(s, data, progress)
    stage(f"remedy: batch normalisation on sigmoid, N(0,1), {s.bn_depth} hidden layers")
    result["batchnorm"] = batchnorm_runs(s, data, progress)
    stage(f"your spec: per-layer bound vs measured, {spec.compact}")
    result["spec"] = user_spec(spec, symbolic["spec"], s, data, progress)
    result["remedies"] = remedies(result)
    stage("plots (PNG and PDF)")
    from . import plots as flow_plots

    plots, text = flow_plots.draw_all(result, out, lang)
    result["plots"] = [p.name for p in plots]
    result["lang"] = lang
    result["plot_text"] = text  # per plot: smallest text (points) at its size (inches)
    if any(t["lang"] != lang for t in text.values()):
        stage(
            "no Chinese font for the plots: their labels are English (apt-get install fonts-noto-cjk)"
        )
    result["seconds"] = round(time.perf_counter() - started, 2)
    clean = _clean(result)
    json_path = write_atomic(out / JSON_NAME, json.dumps(clean, indent=1) + "\n", force=True)
    report_path = write_atomic(out / REPORT_NAME, report(result), force=True)
    stage(f"done in {result['seconds']:.1f} s: {json_path}, {report_path}")
    return FlowResult(out, json_path, report_path, plots, clean)


def document_chapter(
    spec: NetworkSpec,
    work: str | Path,
    *,
    tex: str | Path | None = None,
    lang: str = "en",
    force: bool = False,
    progress: Callable[[str], object] = print,
) -> dict:
    """The `--flow` chapter of a document: the quick analysis, its plots labelled in `lang`.

    With a .tex the analysis goes beside it (`doc-flow/` for `doc.tex`) and the chapter names
    the plots relative to it, so the .tex compiles on its own; without one (a PDF only) it
    goes into `work`, a folder the caller removes. `document.write` copies the plots next to
    the .tex it compiles (`place_plots`).
    """
    from ..engine.derive import derive

    if tex is not None:
        out = Path(tex).parent / f"{Path(tex).stem}-flow"
    else:
        out = Path(work) / "flow"
    result = analyze(spec, out, quick=True, force=force, progress=progress, lang=lang)
    recurrence = derive(spec).general["delta"].label  # the main derivation's δ recurrence
    return tex_chapter(
        result, lang=lang, graphics_dir=out.name, recurrence_label=f"eq:{recurrence}"
    )


def _stages(progress, started):
    def stage(line: str):
        progress(f"[{time.perf_counter() - started:5.1f} s] {line}")

    return stage


def _clean(obj):
    """JSON has no NaN or infinity: write null (and say so nowhere else)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
