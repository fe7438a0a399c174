"""Signals while a command runs: Ctrl-C (SIGINT), SIGTERM and SIGHUP (a closed SSH session).

While training, the first signal only asks the loop to stop after the current step, so the run
can be saved and resumed exactly; anywhere else (loading data, building the model, the final
evaluation, a save) and for a second signal, :class:`Interrupted` is raised at once. Writes are
atomic (:mod:`nnback.atomic`), so an interrupt never leaves a half-written file behind.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A signal stopped the command; ``exit_code`` is 128 + its number, as a shell reports it."""

    def __init__(self, number: int):
        super().__init__(number)
        self.number = number

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.number).name

    @property
    def exit_code(self) -> int:
        return 128 + self.number


class StopOnSignal:
    """While active, SIGINT, SIGTERM and SIGHUP are handled here instead of killing the process.

    With ``defer=True`` (training) the first signal only sets a flag (the object is the loop's
    ``should_stop`` callable) and ``notice`` is told; a second raises :class:`Interrupted`. With
    ``defer=False`` every signal raises :class:`Interrupted` at once. Outside the main thread,
    where Python cannot catch signals, it does nothing.
    """

    def __init__(self, defer: bool = True, notice=None):
        self.defer, self.notice = defer, notice or _notice
        self.received: int | None = None
        self.aborting = False
        self.previous: dict = {}

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            self.previous = {number: signal.signal(number, self._handle) for number in SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        self.previous = {}

    def _handle(self, number, frame) -> None:
        if self.aborting:  # already on the way out: let the cleanup (removing temporary files) finish
            return
        if self.received is not None or not self.defer:
            self.received, self.aborting = self.received or number, True
            raise Interrupted(number)
        self.received = number
        self.notice(f"\n{signal.Signals(number).name}: stopping after this step (again to abort now)")

    def __call__(self) -> bool:
        return self.received is not None

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.received).name if self.received else "signal"

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process killed by it (130, 143, 129)."""
        return 128 + (self.received or signal.SIGINT)


@contextmanager
def exit_on_signal(notice=None):
    """Run a whole command so that a signal outside training ends it with one line and exit code
    128 + n (not a traceback, not click's "Aborted!")."""
    notice = notice or _notice
    try:
        with StopOnSignal(defer=False, notice=notice):
            yield
    except Interrupted as error:
        notice(f"interrupted by {error.signal_name}; stopped without leaving a half-written file")
        raise SystemExit(error.exit_code) from None


def _notice(message: str) -> None:
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr is gone too (a closed terminal)
        pass
