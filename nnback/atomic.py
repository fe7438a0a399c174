"""Atomic file writes: a reader sees the old file or the complete new one, never half of either.

Every file nnback writes (checkpoints, metrics, plots) goes through :func:`atomic_write`: the data
lands in a temporary file in the destination's directory (same file system, so the rename is
atomic), is flushed to disk, and only then renamed over the destination. A failure or an
interrupt part-way removes the temporary file and leaves any existing destination untouched.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path, mode: str = "wb"):
    """Yield a file handle whose contents replace ``path`` only when the block succeeds."""
    target = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(handle, mode) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_json_atomic(path, payload: dict) -> None:
    """Write ``payload`` as indented JSON, atomically."""
    with atomic_write(path, "w") as file:
        json.dump(payload, file, indent=2)
        file.write("\n")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
