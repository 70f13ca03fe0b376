"""Checkpoint-on-interrupt for every training loop: SIGTERM (a killed job) and Ctrl-C save, then stop."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextmanager
def checkpoint_on_interrupt(save: Callable[[], None], progress_bar=None) -> Iterator[None]:
    """Inside the block, SIGTERM raises KeyboardInterrupt; either one calls save() and re-raises.

    The progress bar (if any) is closed on the way out, whatever happens.
    """
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt) if main_thread else None
    try:
        yield
    except KeyboardInterrupt:
        save()
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if progress_bar is not None:
            progress_bar.close()
