"""Interrupts of a training loop: SIGTERM (a killed job) and Ctrl-C stop at the end of the current step.

The first signal only asks the loop to stop: it finishes its step, saves a
checkpoint of that step boundary and raises KeyboardInterrupt, so a resumed run
continues exactly. A second signal interrupts at once (the checkpoint then holds
the step's start random states; see Task.save). Outside the loop (loading,
the final checkpoint, summary and evaluation), `sigterm_as_interrupt` makes
SIGTERM raise KeyboardInterrupt as Ctrl-C does, so that the command ends with
its interrupted exit code and message instead of the signal's default death.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class StopRequest:
    """Set by SIGTERM/SIGINT while the loop runs; the loop checks `requested` after each step."""

    def __init__(self):
        self.requested = False

    def handle(self, signum, frame):
        if self.requested:  # asked twice: stop now
            raise KeyboardInterrupt
        self.requested = True


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside the block (in the main thread), SIGTERM raises KeyboardInterrupt, as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def checkpoint_on_interrupt(save: Callable[[], object], progress_bar=None) -> Iterator[StopRequest]:
    """Inside the block, SIGTERM and Ctrl-C set the yielded StopRequest (the loop saves and raises KeyboardInterrupt
    at the end of its step); a KeyboardInterrupt raised inside (a second signal) calls save() and re-raises.

    The progress bar (if any) is closed on the way out, whatever happens.
    """
    stop = StopRequest()
    main_thread = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, stop.handle) for sig in (signal.SIGTERM, signal.SIGINT)} if main_thread else {}
    try:
        yield stop
    except KeyboardInterrupt:
        save()
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if progress_bar is not None:
            progress_bar.close()
