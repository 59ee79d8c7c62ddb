"""Device selection: CUDA when present, CPU otherwise, with no code changes."""

from __future__ import annotations

import torch


def default_device(preferred: str = "auto") -> torch.device:
    """``"auto"`` gives ``cuda`` when available, else ``cpu``; any other value is used as given."""
    if preferred == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preferred)
