"""Output paths, checked before a run starts rather than after hours of training.

:func:`check_outputs` refuses an output that cannot be written the way the real write will happen
(a temporary file created and removed in the destination's directory, as :func:`atomic_write`
does), so a read-only or pseudo file system (/proc, /sys, a read-only mount) fails at once. It also
refuses two outputs that are the same file, or an output that would overwrite a file the run
reads, comparing real files (symlinks, ``./a`` against ``a``, hard links), not spellings.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .atomic import destination, temporary_prefix


def check_outputs(writing: dict, reading: dict | None = None, replaces: dict | None = None,
                  kinds: dict | None = None) -> None:
    """Raise a one-line ValueError unless every output in ``writing`` can be written.

    ``writing`` and ``reading`` map a name the user knows (an option) to a path or None (not given).
    ``replaces`` maps an output's name to the input's name it may be (continuing a run in place).
    ``kinds`` maps an output's name to (suffix, what the file is): a path with another suffix is
    refused (``export m.npz data.csv`` wrote an ONNX model over a data file); one without a suffix
    is taken as it is.
    """
    given = {name: path for name, path in writing.items() if path is not None}
    for name, path in given.items():
        _check_writable(name, path)
    identities = {name: _identity(path) for name, path in given.items()}
    names = list(given)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            if identities[first] == identities[second]:
                raise ValueError(f"{first} {given[first]} and {second} {given[second]} are the same file; "
                                 f"give each output its own file")
    for name, path in (reading or {}).items():
        if path is None or not os.path.exists(path):
            continue
        for output in names:
            if identities[output] == _identity(path) and (replaces or {}).get(output) != name:
                raise ValueError(f"{output} {given[output]} would overwrite {name} {path}, which this run "
                                 f"reads; give another file")
    for name, (suffix, what) in (kinds or {}).items():
        found = os.path.splitext(os.fspath(given[name]))[1] if name in given else ""
        if found and found.lower() != suffix:
            raise ValueError(f"{name} {given[name]}: writes {what}; name it *{suffix}")


def _check_writable(name: str, path) -> None:
    text = os.fspath(path)
    if not text:
        raise ValueError(f"{name}: the path is empty; give a file name")
    if os.path.isdir(path) or text.endswith(os.sep):
        raise ValueError(f"{name} {text}: is a directory; give a file name")
    try:
        target = destination(path)  # symlinks followed; refuses a device, FIFO or socket
    except ValueError as error:
        raise ValueError(f"{name} {error}") from None
    if not target.parent.is_dir():
        raise ValueError(f"{name} {text}: directory {_shown_parent(path, target)} does not exist")
    if os.path.exists(target) and not os.access(target, os.W_OK):
        raise ValueError(f"{name} {text}: not writable (the file is read-only)")
    try:
        handle, probe = tempfile.mkstemp(prefix=temporary_prefix(target), suffix=".tmp", dir=target.parent)
    except OSError as error:
        raise ValueError(f"{name} {text}: not writable ({error.strerror or error} in {target.parent})") from None
    os.close(handle)
    os.unlink(probe)


def _shown_parent(path, target: Path) -> Path:
    """The directory as the user wrote it (the resolved one only when a symlink led elsewhere)."""
    written = Path(path).parent
    return written if written.resolve() == target.parent else target.parent


def _identity(path) -> tuple:
    """What makes two paths the same file: device and inode when it exists, else its real path."""
    target = os.path.realpath(path)
    try:
        status = os.stat(target)
    except OSError:
        return ("path", target)
    return ("inode", status.st_dev, status.st_ino)
