"""Standard output and error that survive a closed pipe or terminal, and text they can encode.

``nnback train ... | head -1`` closes stdout after one line; a closed SSH session takes the
terminal. Neither may stop a run before it saves: :func:`guard_streams` wraps ``sys.stdout`` and
``sys.stderr`` so that once a stream is gone, writes to it are dropped and its descriptor points
at /dev/null (so the interpreter's own flush at exit stays quiet). Text the stream's encoding
cannot hold is written with backslash escapes instead of failing.
"""

from __future__ import annotations

import errno
import os
import sys

GONE = (errno.EPIPE, errno.EIO, errno.ENXIO)


class GuardedStream:
    """A text stream whose writes never raise because the reader went away."""

    def __init__(self, stream):
        self._stream, self.gone = stream, False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                self._stream.write(text)
            except UnicodeEncodeError:
                self._write_escaped(text)
            except OSError as error:
                self._give_up(error)
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except OSError as error:
                self._give_up(error)

    def _write_escaped(self, text: str) -> None:
        encoding = getattr(self._stream, "encoding", None) or "ascii"
        try:
            self._stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
        except OSError as error:
            self._give_up(error)

    def _give_up(self, error: OSError) -> None:
        if error.errno not in GONE:
            raise error
        self.gone = True
        try:  # later writes by anyone (the interpreter's final flush) go nowhere, quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    @property
    def buffer(self):
        # No binary buffer: click would wrap it in a stream of its own and bypass this guard.
        raise AttributeError("buffer")

    def __getattr__(self, name):
        if name == "buffer":
            raise AttributeError(name)
        return getattr(self._stream, name)


def guard_streams() -> None:
    """Wrap ``sys.stdout`` and ``sys.stderr`` in :class:`GuardedStream` (once)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, GuardedStream):
            setattr(sys, name, GuardedStream(stream))


def can_encode(text: str, stream=None) -> bool:
    """Whether ``stream`` (default: stdout) declares an encoding that can hold ``text``."""
    stream = stream if stream is not None else sys.stdout
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeError, LookupError):
        return False
    return True
