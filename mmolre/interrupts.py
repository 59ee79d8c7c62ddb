"""Interrupts: SIGTERM handled like Ctrl-C, and steps (a commit, a clean-up) that an interrupt must not cut."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (SIGINT): the run stops cleanly and the process exits 143."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


@contextmanager
def interruptible_by_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt) instead of killing the process,
    so that the same clean-up as for Ctrl-C runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_INTERRUPTS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def held_interrupts() -> Iterator[None]:
    """Hold SIGINT and SIGTERM during the block (a commit, a clean-up) and deliver the first one after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {number: signal.signal(number, lambda n, _: received.append(n)) for number in _INTERRUPTS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if received:
            signal.raise_signal(received[0])
