"""Atomic file writes: a reader sees the old file or the complete new one, never half of either.

Every file nnback writes (checkpoints, metrics, plots) goes through :func:`atomic_write`: the data
lands in a temporary file in the destination's directory (same file system, so the rename is
atomic), is flushed to disk, and only then renamed over the destination; the directory is then
flushed too, so the rename itself survives a power cut. A failure or an interrupt part-way removes
the temporary file and leaves any existing destination untouched.

Replacing is faithful to what was there: a symlink is written through (its target is replaced, the
link stays), an existing file keeps its permission bits, and something that is not a regular file
(a device, FIFO, socket or directory) is never replaced by one.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .files import kind_of


class NotReplaceable(ValueError):
    """The destination exists and is not a regular file."""


@contextmanager
def atomic_write(path, mode: str = "wb"):
    """Yield a file handle whose contents replace ``path`` only when the block succeeds."""
    target = destination(path)
    permissions = _permissions(target)
    temporary = None
    try:
        with _signals_held():  # a Ctrl-C here must not leave a temporary file nobody knows about
            handle, temporary = tempfile.mkstemp(prefix=temporary_prefix(target), suffix=".tmp", dir=target.parent)
        os.chmod(temporary, permissions)  # mkstemp makes 0600
        with os.fdopen(handle, mode) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        with _signals_held():
            os.replace(temporary, target)
            temporary = None
        _fsync_directory(target.parent)
    except OSError as error:
        if error.filename is None and error.strerror:  # "No space left on device" should say where
            error.filename = os.fspath(path)
        raise
    finally:
        if temporary is not None and os.path.lexists(temporary):
            os.unlink(temporary)


def destination(path) -> Path:
    """The file a write to ``path`` replaces: symlinks followed (even a dangling one, as a shell's
    ``>`` does); a ValueError when that is something other than a regular file."""
    try:
        mode = os.stat(path).st_mode  # the path itself: /dev/stdout's /proc link has no real path
    except FileNotFoundError:
        return Path(os.path.realpath(path))
    except OSError as error:  # a symlink loop, a parent that is a file, no permission...
        raise NotReplaceable(f"{path}: cannot write here ({error.strerror or error})") from None
    if not stat.S_ISREG(mode):
        raise NotReplaceable(f"{path}: not a regular file ({kind_of(mode)}); refusing to replace it")
    return Path(os.path.realpath(path))


def temporary_prefix(target: Path) -> str:
    """A hidden name next to ``target``, short enough for any file system's name limit."""
    return f".{target.name[:64]}."


def write_json_atomic(path, payload: dict) -> None:
    """Write ``payload`` as indented JSON, atomically."""
    with atomic_write(path, "w") as file:
        json.dump(payload, file, indent=2)
        file.write("\n")


def _permissions(target: Path) -> int:
    """An existing file's permission bits; for a new one what ``open`` would give (0666 & ~umask)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


@contextmanager
def _signals_held():
    """Hold SIGINT, SIGTERM and SIGHUP for a few instructions; they are delivered right after."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = {getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _fsync_directory(directory: Path) -> None:
    """Flush the directory entry of the rename; not every OS or file system allows it."""
    try:
        descriptor = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask briefly sets it)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
