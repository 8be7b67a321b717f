"""Writing outputs safely: never overwrite without force, and never leave half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import RenderError


def check_writable(path: str | os.PathLike, force: bool) -> Path:
    """Refuse an existing file unless `force`; refuse a missing parent folder."""
    path = Path(path)
    if path.is_dir():
        raise RenderError(f"{path} is a folder; give a file name")
    if path.exists() and not force:
        raise RenderError(f"{path} exists; pass --force to overwrite it")
    if not path.parent.is_dir():
        raise RenderError(f"cannot write {path}: folder {path.parent} does not exist")
    return path


def write_atomic(path: str | os.PathLike, data: str | bytes, force: bool = False) -> Path:
    """Write `data` to a temporary file beside `path`, then rename it into place."""
    path = check_writable(path, force)
    mode = "w" if isinstance(data, str) else "wb"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def move_atomic(src: str | os.PathLike, path: str | os.PathLike, force: bool = False) -> Path:
    """Move a finished file (e.g. a built PDF) into place under the same rules."""
    path = check_writable(path, force)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            fout.write(fin.read())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
