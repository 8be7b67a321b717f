"""Running latexmk, and turning its failures into one-line errors.

The engine is the document's own: a source whose first line is `% !TEX program = xelatex`
(the Chinese one: ctex needs XeLaTeX for bold CJK headings and a text layer that copies
and searches correctly) is built with XeLaTeX, any other with pdfLaTeX. Editors read the
same line, so a kept .tex recompiles by hand with the right engine.

The document is built in a folder of the caller's (a temporary one); a failed build's
log is copied to a folder that is kept, and the error names it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import RenderError, SymfnnError

PACKAGES = " ".join(
    ("texlive-latex-base", "texlive-latex-recommended", "texlive-science", "texlive-pictures")
    + ("lmodern", "latexmk")
)
PACKAGES_ZH = "texlive-xetex texlive-lang-chinese"  # XeLaTeX, ctex and the Fandol fonts
# engine -> (latexmk option, Debian packages that provide it, a file that proves them installed)
ENGINES = {
    "pdflatex": ("-pdf", PACKAGES, "algpseudocode.sty"),
    "xelatex": ("-xelatex", PACKAGES_ZH, "ctex.sty"),
}
MAGIC = re.compile(r"% *!TEX +(?:TS-)?program *= *(\w+)")
TIMEOUT_S = 300


class LatexError(SymfnnError):
    """LaTeX stopped on an error; the message gives its first error and the kept log."""

    exit_code = 1


def engine(source: str) -> str:
    """The engine a source asks for on its first line (`% !TEX program = …`), else pdflatex."""
    first = source.split("\n", 1)[0]
    match = MAGIC.match(first)
    name = match.group(1) if match else "pdflatex"
    if name not in ENGINES:
        raise RenderError(f"unknown TeX engine {name!r}; known: {', '.join(ENGINES)}")
    return name


def require_toolchain(program: str = "pdflatex") -> None:
    """RenderError naming the Debian packages when latexmk, the engine or its packages are missing."""
    missing = [tool for tool in ("latexmk", program) if shutil.which(tool) is None]
    marker = ENGINES[program][2]
    if not missing and shutil.which("kpsewhich") is not None:
        found = subprocess.run(["kpsewhich", marker], capture_output=True, text=True, check=False)
        if not found.stdout.strip():
            missing.append(marker)
    if missing:
        packages = PACKAGES if program == "pdflatex" else f"{PACKAGES} {ENGINES[program][1]}"
        raise RenderError(
            f"{' and '.join(missing)} not found; install the TeX toolchain: "
            f"apt-get install {packages}"
            + ("" if program != "pdflatex" else f" (for --lang zh also {PACKAGES_ZH})")
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
    program = engine(source)
    require_toolchain(program)
    (folder / f"{name}.tex").write_text(source, encoding="utf-8")
    # a fixed date makes the PDF reproducible (pdfTeX and xdvipdfmx both honour it)
    env = os.environ | {"SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}
    cmd = ["latexmk", ENGINES[program][0], "-interaction=nonstopmode", "-halt-on-error"]
    cmd += ["-quiet", f"{name}.tex"]
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
