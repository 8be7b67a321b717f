"""Writing a generated script's outputs (--save, --history, --predict) safely.

The same rules as symfnn's own writes (symfnn/fileio.py):
- every target is checked before training (`check_target`): not a folder, not an existing
  file without --force, in a folder that exists and takes a new file;
- the bytes go to an unnamed file in the target's folder (Linux O_TMPFILE; elsewhere a
  hidden temporary name), flushed to disk, named and renamed over the target only when
  complete: a kill at any moment leaves the old file or the whole new one;
- a new file gets the permissions the umask allows, as `open` would; a file replaced
  under --force keeps its own;
- an OS error (read-only, full disk, a file size limit) is one line naming the file.

A temporary name left by a killed script (a kill between naming and renaming) carries the
host and process id; the next write to that folder removes those whose process is gone.
Included verbatim in every generated script (codegen.RUNTIME); standard library only.
"""

import contextlib
import ctypes
import errno
import os
import socket
import stat
from pathlib import Path


class WriteError(Exception):
    """An output file cannot be written (a one-line message)."""


TEMP_TAG = "symfnn-tmp"  # the tag of symfnn's own temporary names (symfnn/fileio.py)
_HOST = "".join(c if c.isalnum() else "_" for c in socket.gethostname())[:40] or "host"


def _why(e: OSError) -> str:
    return e.strerror or type(e).__name__


def shown_path(path: object) -> str:
    text = str(path)
    return text if text.isprintable() else repr(text)


def check_target(path: str | os.PathLike, force: bool) -> Path:
    """`path` as a file to write: WriteError for a folder, an existing file without `force`,
    a missing folder or one this process cannot create a file in."""
    path, shown = Path(path), shown_path(path)
    try:
        if path.is_dir():
            raise WriteError(f"{shown} is a folder; give a file name")
        if path.exists() or path.is_symlink():
            if not force:
                raise WriteError(f"{shown} exists; pass --force to overwrite it")
            if not path.is_file():
                raise WriteError(f"{shown} is not a regular file; not replaced")
        folder = path.parent
        if not folder.is_dir():
            missing = f"folder {shown_path(folder)} does not exist"
            raise WriteError(f"cannot write {shown}: {missing}")
    except OSError as e:  # e.g. a name longer than the file system allows
        raise WriteError(f"cannot write {shown}: {_why(e)}") from None
    except ValueError:  # a NUL in the name
        raise WriteError(f"cannot write {shown}: not a valid file name") from None
    try:  # a probe: a read-only file system refuses even root
        os.close(_open_temp(folder, _temp_name(path))[0])
    except OSError as e:
        raise WriteError(f"cannot write {shown}: {_why(e)}") from None
    return path


def _temp_prefix(path: Path) -> str:
    return f".{path.name[:100]}.{TEMP_TAG}."


def _temp_name(path: Path) -> Path:
    token = os.urandom(4).hex()
    return path.parent / f"{_temp_prefix(path)}{_HOST}.{os.getpid()}.{token}"


def _open_temp(folder: Path, name: Path) -> tuple[int, bool]:
    """(fd, named): an unnamed file in `folder` where the OS has them, else `name` created."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is not None:
        try:
            # mode 0o666 through the umask, as open() gives
            return os.open(folder, flag | os.O_WRONLY, 0o666), False
        except OSError as e:
            if e.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.unlink(name)  # a probe or a fallback opened only to be named again below
    return fd, True


def _gone(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):
        return False
    return False


def _sweep(path: Path) -> None:
    """Remove the temporaries of `path` that a killed process of this host left (best effort)."""
    prefix = _temp_prefix(path)
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            if not entry.name.startswith(prefix):
                continue
            host, _, rest = entry.name[len(prefix) :].partition(".")
            pid = rest.partition(".")[0]
            mine = entry.stat(follow_symlinks=False).st_uid == os.geteuid()
            if host == _HOST and pid.isdigit() and mine and _gone(pid):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _link(fd: int, name: Path) -> bool:
    """Name the unnamed file `fd`: linkat(AT_EMPTY_PATH), else through /proc."""
    try:  # linkat with AT_EMPTY_PATH has no os-module spelling
        libc = ctypes.CDLL(None, use_errno=True)
        at_fdcwd, at_empty_path = -100, 0x1000
        if libc.linkat(fd, b"", at_fdcwd, os.fsencode(name), at_empty_path) == 0:
            return True
    except (OSError, AttributeError):
        pass
    try:
        os.link(f"/proc/self/fd/{fd}", name, follow_symlinks=True)
    except OSError:
        return False
    return True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_named(path: Path, data: bytes, mode: int | None) -> Path:
    """`data` in a complete temporary file beside `path`; its name."""
    tmp = _temp_name(path)
    fd, named = None, False
    flag = getattr(os, "O_TMPFILE", None)
    if flag is not None:
        with contextlib.suppress(OSError):
            fd = os.open(path.parent, flag | os.O_WRONLY, 0o666)
    if fd is None:  # no unnamed files here: a hidden name from the start
        fd, named = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), True
    try:
        _write_all(fd, data)
        if mode is not None:
            os.fchmod(fd, mode)
        os.fsync(fd)  # the rename must not reach the disk before the data does
        if not named and not _link(fd, tmp):
            raise OSError(errno.EOPNOTSUPP, "cannot name a temporary file here")
    except BaseException:
        if named:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    finally:
        os.close(fd)
    return tmp


def write_file(path: str | os.PathLike, data: bytes, force: bool) -> Path:
    """Write `data` to exactly `path` (no suffix added), atomically; WriteError on failure."""
    path = check_target(path, force)
    _sweep(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
        tmp = _write_named(path, data, mode)
    except OSError as e:
        raise WriteError(f"cannot write {shown_path(path)}: {_why(e)}") from None
    try:
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise WriteError(f"cannot write {shown_path(path)}: {_why(e)}") from None
        raise
    return path
