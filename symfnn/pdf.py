"""Running latexmk, and turning its failures into one-line errors.

The document is built in a folder of the caller's (a temporary one); a failed build's
log is copied to a folder that is kept, and the error names it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import RenderError, SymfnnError

PACKAGES = "texlive-latex-base texlive-latex-recommended texlive-science lmodern latexmk"
PACKAGES_ZH = "latex-cjk-chinese latex-cjk-chinese-arphic-gbsn00lp"
TIMEOUT_S = 300


class LatexError(SymfnnError):
    """LaTeX stopped on an error; the message gives its first error and the kept log."""

    exit_code = 1


def require_toolchain() -> None:
    """RenderError naming the Debian packages when latexmk or pdflatex is missing."""
    missing = [tool for tool in ("latexmk", "pdflatex") if shutil.which(tool) is None]
    if missing:
        raise RenderError(
            f"{' and '.join(missing)} not found; install the TeX toolchain: "
            f"apt-get install {PACKAGES} (for --lang zh also {PACKAGES_ZH})"
        )


def first_error(log: str) -> str:
    """The first `! …` line of a LaTeX log (with its `l.N` line), or a generic message."""
    lines = log.splitlines()
    for n, line in enumerate(lines):
        if line.startswith("!"):
            where = next(
                (x.split(" ", 1)[0] for x in lines[n + 1 : n + 12] if x.startswith("l.")), ""
            )
            return f"{line[1:].strip()}" + (f" (at {where})" if where else "")
    return "latexmk failed without a LaTeX error message"


def compile(source: str, folder: Path, name: str = "derivation") -> Path:
    """Write `source` to folder/name.tex, run latexmk there; return the PDF's path."""
    require_toolchain()
    (folder / f"{name}.tex").write_text(source, encoding="utf-8")
    # a fixed date and trailer id make the PDF reproducible
    env = os.environ | {"SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}
    cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-quiet", f"{name}.tex"]
    try:
        result = subprocess.run(
            cmd, check=False, cwd=folder, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise LatexError(f"latexmk took over {TIMEOUT_S} s and was stopped") from None
    built = folder / f"{name}.pdf"
    if result.returncode != 0 or not built.is_file():
        log_path = folder / f"{name}.log"
        log = (
            log_path.read_text(encoding="utf-8", errors="replace")
            if log_path.is_file()
            else result.stdout
        )
        kept = Path(tempfile.mkdtemp(prefix="symfnn-latex-")) / f"{name}.log"
        kept.write_text(log, encoding="utf-8")
        shutil.copy(folder / f"{name}.tex", kept.with_suffix(".tex"))
        raise LatexError(f"LaTeX failed: {first_error(log)}; log kept at {kept}")
    return built
