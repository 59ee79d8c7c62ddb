"""Bounded text for error messages: a value from a file or a parameter is shown, never dumped whole."""

from __future__ import annotations

import reprlib

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = _REPR.maxfrozenset = 4


def shown(value: object, limit: int = 80) -> str:
    """A short ``repr`` of ``value`` for a one-line message (nesting, long strings and lists cut, ``...`` marks it)."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a hostile object's repr may fail: name its type instead
        text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cut(text: str, limit: int = 300) -> str:
    """``text`` on one line and at most ``limit`` characters (for messages of third-party errors)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
