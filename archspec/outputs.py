"""Output files: checked before the work that fills them, written whole or not at all, with the usual mode."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from archspec.errors import OutputError

TEMPORARY_STEM = 64  # characters of the target's name kept in its temporary file's, so that both fit NAME_MAX


def ensure_folder(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path to a folder, created (with its parents) if missing; else an OutputError saying why."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"cannot write into {str(folder)!r}: it is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {str(folder)!r}: {exc.strerror or exc}") from None
    return folder


def check_target(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path if a file can be written there; else an OutputError saying why, before any work."""
    target = Path(path)
    name = str(target)
    folder = target.parent
    if not folder.exists():
        raise OutputError(f"output folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise OutputError(f"cannot write {name!r}: {str(folder)!r} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {name!r}: the folder {str(folder)!r} is not writable")
    limit = os.pathconf(folder, "PC_NAME_MAX")
    if len(os.fsencode(target.name)) > limit:
        raise OutputError(f"cannot write {name!r}: the file name is longer than {limit} bytes")
    try:
        mode = target.lstat().st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise OutputError(f"cannot write {name!r}: {exc.strerror}") from None
    if stat.S_ISLNK(mode):
        raise OutputError(f"cannot write {name!r}: it is a symbolic link (name the file it points to instead)")
    if stat.S_ISDIR(mode):
        raise OutputError(f"cannot write {name!r}: it is a folder")
    if not stat.S_ISREG(mode):
        raise OutputError(f"cannot write {name!r}: it exists and is not a regular file")
    return target


def default_mode() -> int:
    """The mode a plain ``open(path, "w")`` gives a new file: 0o666 less the process's umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path: str | os.PathLike[str], write: Callable[[str], object]) -> None:
    """Write through a temporary file in the same folder, so a failure leaves nothing half-written; any failure
    to write is an OutputError."""
    target = check_target(path)
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:TEMPORARY_STEM]}.",
                                             suffix=".tmp")
        os.close(handle)
        os.chmod(temporary, default_mode())  # mkstemp makes it 0600
        write(temporary)
        os.replace(temporary, target)
    except OSError as exc:
        raise OutputError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from None
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
