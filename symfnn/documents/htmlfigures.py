"""The document's TikZ figures as SVG images for the HTML page: the PDF's very drawings.

All figures of one document go into one `standalone` LaTeX file (a page per tikzpicture,
with the document's own packages, fonts and TikZ libraries), compiled once by latexmk
(symfnn/documents/pdf.py); poppler's `pdftocairo -svg` turns each page into an SVG whose glyphs are
outlines, embedded in the page as a data: URI (nothing fetched from elsewhere). Without a
TeX toolchain `svgs` raises RenderError; html.py then says so where each figure would be.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from functools import lru_cache

from ..errors import RenderError
from ..fileio import work_folder
from . import pdf as latexpdf

# packages of the document's preamble a drawing may need; page layout, floats and links not
_KEEP = {
    "fontenc", "inputenc", "lmodern", "amsmath", "amssymb", "mathtools", "bm", "ctex",
    "CJKutf8", "xcolor", "tikz", "array",
}  # fmt: skip
_USEPACKAGE = re.compile(r"\\usepackage(\[[^\]]*\])?\{([^}]*)\}")


def standalone(pictures: list[str], document_source: str) -> str:
    """One LaTeX file, a page per picture, with the document's engine and drawing packages."""
    preamble = document_source.split(r"\begin{document}", 1)[0]
    lines = []
    first = preamble.splitlines()[0] if preamble else ""
    if latexpdf.MAGIC.match(first):  # the engine line (XeLaTeX for Chinese)
        lines.append(first)
    lines.append(r"\documentclass[tikz,border=3pt]{standalone}")
    for line in map(str.strip, preamble.splitlines()):
        used = _USEPACKAGE.match(line)
        drawing = used and set(used.group(2).replace(" ", "").split(",")) <= _KEEP
        if drawing or line.startswith(r"\usetikzlibrary"):
            lines.append(line)
    lines.append(r"\begin{document}")
    lines += pictures
    lines.append(r"\end{document}")
    return "\n".join(lines) + "\n"


def svgs(pictures: list[str], document_source: str) -> list[str]:
    """Each tikzpicture as an SVG data: URI, in order."""
    return list(_svgs(tuple(pictures), standalone(pictures, document_source)))


@lru_cache(maxsize=8)  # the same drawings again (a second call, a corrected page): no LaTeX run
def _svgs(pictures: tuple[str, ...], source: str) -> tuple[str, ...]:
    if not pictures:
        return ()
    if shutil.which("pdftocairo") is None:
        raise RenderError("pdftocairo is missing (Debian: apt-get install poppler-utils)")
    with work_folder("figures") as folder:  # one a kill -9 left goes on the next run
        built = latexpdf.compile(source, folder, "figures")
        out = []
        for page in range(1, len(pictures) + 1):
            target = folder / f"figure-{page}.svg"
            cmd = ["pdftocairo", "-svg", "-f", str(page), "-l", str(page), str(built), str(target)]
            done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60)
            if done.returncode != 0 or not target.is_file():
                raise RenderError(f"pdftocairo failed on figure {page}: {done.stderr.strip()}")
            data = base64.b64encode(target.read_bytes()).decode("ascii")
            out.append(f"data:image/svg+xml;base64,{data}")
    return tuple(out)
