"""Paths the user hands us: what they must be before anything reads or writes them."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotRegularFile(ValueError):
    """A path that must be a regular file is a FIFO, socket, device or directory (or is missing)."""


def require_regular_file(path, what: str = "file") -> Path:
    """``path`` as a Path if it is a regular file (symlinks followed); otherwise a one-line error.

    Checked with ``stat`` before any ``open``: opening a FIFO for reading blocks until a writer
    appears, so a read-first check could hang forever.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise NotRegularFile(f"{path}: no such {what}") from None
    except OSError as error:
        raise NotRegularFile(f"{path}: cannot read ({error.strerror or error})") from None
    if not stat.S_ISREG(mode):
        kind = kind_of(mode)
        article = "an" if what[:1] in "aeiou" else "a"
        raise NotRegularFile(f"{path}: not a regular file ({kind}); give {article} {what}")
    return path


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words ("a FIFO", "a directory", ...)."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a plain file"
