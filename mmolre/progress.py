"""Progress lines for the terminal that never land in a stored notebook.

The runner sets ``$MMOLRE_PROGRESS`` to a file for the kernel of the notebook it executes and echoes every line
appended to it (prefixed with the notebook name) while the notebook runs. Outside the runner the variable is unset
and :func:`progress` does nothing, so interactive sessions and nbval stay quiet.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

PROGRESS_ENV = "MMOLRE_PROGRESS"
T = TypeVar("T")


def progress(message: str) -> None:
    """Append ``message`` as one line to ``$MMOLRE_PROGRESS`` when it is set; otherwise do nothing."""
    path = os.environ.get(PROGRESS_ENV)
    if not path:
        return
    line = " ".join(str(message).split()) + "\n"  # one line, whatever the message holds
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line)


def tracked(items: Iterable[T], label: str, total: int, every: float = 20.0) -> Iterator[T]:
    """Yield ``items`` unchanged; while ``$MMOLRE_PROGRESS`` is set, report ``label`` with the share done and an
    estimate of the time left every ``every`` seconds (a loop that ends sooner reports nothing)."""
    if not os.environ.get(PROGRESS_ENV) or total <= 0:
        yield from items
        return
    started = last = time.monotonic()
    for done, item in enumerate(items, start=1):
        yield item
        now = time.monotonic()
        if now - last >= every and done < total:
            last = now
            left = (now - started) / done * (total - done)
            progress(f"{label}: {done / total:.0%} ({done:,}/{total:,}), about {_duration(left)} left")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
