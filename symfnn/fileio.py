"""Writing outputs safely: checked first, never overwritten without force, never half a file.

Every file symfnn writes goes through `write_atomic`:
- the target is checked before any long work (`check_writable`): not a folder, not an existing
  file without `--force`, a folder that exists and takes a file (probed, so a read-only file
  system is found up front even by root);
- the data goes to an unnamed file in the target's folder (Linux `O_TMPFILE`), which is given
  a name and renamed over the target only once complete: a kill at any moment leaves the old
  file or the new one, and a kill before the last step leaves nothing at all;
- a new file gets the permissions the umask allows (0644 under umask 022), as `open` would;
  a file replaced under `--force` keeps its own;
- an OS error (read-only, full disk, no permission) is one line naming the file, exit 2.

A temporary name or work folder left by a killed symfnn (`kill -9` between naming and
renaming, or during a PDF build) carries the process id and host; the next symfnn run on that
host removes those whose process is gone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import RenderError, show_path
from .script.runtime import safeio

TAG = safeio.TEMP_TAG  # the tag of a temporary file name
_HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:40] or "host"


def _reason(e: OSError) -> str:
    return e.strerror or type(e).__name__


def check_writable(path: str | os.PathLike, force: bool) -> Path:
    """Refuse a folder, an existing file unless `force`, a missing or unwritable folder
    (the rules of the generated scripts' writes, `runtime/safeio.py`)."""
    try:
        return safeio.check_target(path, force)
    except safeio.WriteError as e:
        raise RenderError(str(e)) from None


def probe_folder(folder: Path, context: str) -> None:
    """Create (and drop) an unnamed file in `folder`: a read-only or foreign folder fails now."""
    try:
        fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY, 0o600)
    except AttributeError:  # no O_TMPFILE on this OS: ask the kernel instead
        if not os.access(folder, os.W_OK | os.X_OK):
            raise RenderError(f"{context}: folder {show_path(folder)} is not writable") from None
        return
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):  # file system without it
            if not os.access(folder, os.W_OK | os.X_OK):
                raise RenderError(
                    f"{context}: folder {show_path(folder)} is not writable"
                ) from None
            return
        raise RenderError(f"{context}: {_reason(e)}") from None
    os.close(fd)


def check_folder(folder: str | os.PathLike) -> Path:
    """An output folder: an existing folder we can write in, or one we can create."""
    folder = Path(folder)
    shown = show_path(folder)
    try:
        if folder.exists() and not folder.is_dir():
            raise RenderError(f"{shown} exists and is not a folder")
        existing = folder
        while not existing.exists():  # the nearest folder that exists takes the new one
            existing = existing.parent
        if not existing.is_dir():
            raise RenderError(f"cannot create {shown}: {show_path(existing)} is not a folder")
    except OSError as e:
        raise RenderError(f"cannot write in {shown}: {_reason(e)}") from None
    except ValueError:
        raise RenderError(f"cannot write in {shown}: not a valid folder name") from None
    probe_folder(existing, f"cannot write in {shown}")
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or not a pid at all: leave it alone
    return True


def _stale(name: str, prefix: str) -> bool:
    """A name `prefix + HOST.PID.random` of this host whose process has gone."""
    host, _, rest = name[len(prefix) :].partition(".")
    pid, _, _ = rest.partition(".")
    return host == _HOST and pid.isdigit() and not _alive(int(pid))


def _owned(entry: os.DirEntry) -> bool:
    try:
        return entry.stat(follow_symlinks=False).st_uid == os.geteuid()
    except OSError:
        return False


def write_atomic(path: str | os.PathLike, data: str | bytes, force: bool = False) -> Path:
    """Write `data` (str: UTF-8) to `path` atomically; RenderError on any OS error."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        return safeio.write_file(path, raw, force)
    except safeio.WriteError as e:
        raise RenderError(str(e)) from None


def move_atomic(src: str | os.PathLike, path: str | os.PathLike, force: bool = False) -> Path:
    """Put a finished file (e.g. a built PDF) in place under the same rules."""
    try:
        data = Path(src).read_bytes()
    except OSError as e:
        raise RenderError(f"cannot read {show_path(src)}: {_reason(e)}") from None
    return write_atomic(path, data, force)


def _stale_folder(name: str) -> bool:
    """`symfnn-KIND.HOST.PID.random`, of this host, whose process has gone."""
    kind, _, rest = name.partition(".")
    return kind.startswith(WORK_PREFIX) and _stale(rest, "")


WORK_PREFIX = "symfnn-"


@contextlib.contextmanager
def work_folder(kind: str = "work") -> Iterator[Path]:
    """A temporary folder, removed afterwards; one a killed symfnn left goes on the next use."""
    base = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in list(os.scandir(base)):
            if entry.is_dir(follow_symlinks=False) and _owned(entry) and _stale_folder(entry.name):
                shutil.rmtree(entry.path, ignore_errors=True)
    try:
        folder = Path(
            tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{kind}.{_HOST}.{os.getpid()}.", dir=base)
        )
    except OSError as e:
        raise RenderError(
            f"cannot create a work folder in {show_path(base)}: {_reason(e)}"
        ) from None
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
