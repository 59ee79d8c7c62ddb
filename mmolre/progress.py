"""Progress lines for the terminal that never land in a stored notebook.

The runner sets ``$MMOLRE_PROGRESS`` to a file for the kernel of the notebook it executes and echoes every line
appended to it (prefixed with the notebook name) while the notebook runs. Outside the runner the variable is unset
and :func:`progress` does nothing, so interactive sessions and nbval stay quiet.
"""

from __future__ import annotations

import os

PROGRESS_ENV = "MMOLRE_PROGRESS"


def progress(message: str) -> None:
    """Append ``message`` as one line to ``$MMOLRE_PROGRESS`` when it is set; otherwise do nothing."""
    path = os.environ.get(PROGRESS_ENV)
    if not path:
        return
    line = " ".join(str(message).split()) + "\n"  # one line, whatever the message holds
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line)
