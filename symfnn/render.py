"""The two Jinja environments, and finding the templates installed or in a checkout.

LaTeX uses `\\BLOCK{…}`, `\\VAR{…}`, `\\#{…}` so that TeX's braces and `%` stay literal;
Python code uses Jinja's defaults. Both are `StrictUndefined`: a missing value is an
error, never an empty string in a document or a script. Templates only lay out what the
printers prepared (STYLE.md, habit 4).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from .errors import RenderError


def template_dir() -> Path:
    """`symfnn/templates` in a wheel; the repository's `templates/` in a checkout.

    (jinja2.PackageLoader fails in editable installs, DESIGN.md.)
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise RenderError(f"symfnn's templates are missing (looked in {here / 'templates'})")


@cache
def environment(kind: str) -> jinja2.Environment:
    """'latex' or 'python'."""
    options = {
        "loader": jinja2.FileSystemLoader(str(template_dir())),
        "undefined": jinja2.StrictUndefined,
        "keep_trailing_newline": True,
        "autoescape": False,
    }
    if kind == "latex":
        options |= {
            "block_start_string": r"\BLOCK{",
            "block_end_string": "}",
            "variable_start_string": r"\VAR{",
            "variable_end_string": "}",
            "comment_start_string": r"\#{",
            "comment_end_string": "}",
            "line_statement_prefix": None,
            "line_comment_prefix": None,
            "trim_blocks": True,
            "lstrip_blocks": True,
        }
    elif kind == "python":
        options |= {"trim_blocks": True, "lstrip_blocks": True}
    else:
        raise ValueError(kind)
    return jinja2.Environment(**options)


def render(kind: str, name: str, **context) -> str:
    """Render template `name` with `context`; a template error becomes a RenderError."""
    try:
        return environment(kind).get_template(name).render(**context)
    except jinja2.TemplateError as e:
        raise RenderError(f"template {name}: {e}") from None
