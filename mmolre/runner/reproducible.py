"""Does a regenerated profile give the committed tables? The comparison behind the check that the notebooks nbval
executes (on the quick default configuration, into a temporary reports folder) reproduce ``reports/default``.

Tables are compared cell by cell as written (:data:`~mmolre.table_digits.SIGNIFICANT_DIGITS` significant
digits); two numbers agree when they differ by at most one unit in that last digit, since a value that differs
between CPUs far below the written precision can still round either way (the default profile trains in float64 so
that its values do). The declared volatile columns (:data:`VOLATILE_COLUMNS`: wall times and speeds) are not
compared, nor are the tables of :data:`PROFILE_DEPENDENT` notebooks: they read every other profile under the reports
folder.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mmolre.runner.outputs import manifests
from mmolre.table_digits import SIGNIFICANT_DIGITS

WHOLE = re.compile(r"-?\d+(\.0)?")
"""A whole number as the reporter writes one (``48163`` or ``48163.0``): a column of them is compared exactly."""
VOLATILE_COLUMNS: tuple[str, ...] = ("seconds", "train_seconds", "seconds_per_epoch", "samples_per_s", "peak_memory_mb")
"""Columns that measure the machine, not the model: never compared."""
PROFILE_DEPENDENT: tuple[str, ...] = ("07_results",)
"""Notebooks whose tables depend on the other profiles in the reports folder (a test run sees only its own)."""
SHOWN = 5
"""Differing cells named per table."""


def committed_tables(root: Path, notebook: str) -> list[str]:
    """The CSV tables (``tables/<name>.csv``) that ``notebook``'s last recorded run wrote under the profile ``root``."""
    found = manifests(root).get(notebook)
    return [] if found is None else sorted(f for f in found.files if f.startswith("tables/") and f.endswith(".csv"))


def _read(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frame.drop(columns=[c for c in frame.columns if c in VOLATILE_COLUMNS])


def cells_agree(committed: str, regenerated: str, whole: bool = False) -> bool:
    """The same text, or two numbers at most one unit apart in the last written significant digit; in a ``whole``
    column (seeds, parameter counts, epochs, which the reporter writes exactly) only the same text."""
    if committed == regenerated:
        return True
    if whole:
        return False
    try:
        old, new = float(committed), float(regenerated)
    except ValueError:
        return False
    if old == new:
        return True
    largest = max(abs(old), abs(new))
    if not math.isfinite(largest):
        return False
    unit = 10.0 ** (math.floor(math.log10(largest)) - SIGNIFICANT_DIGITS + 1)
    return abs(old - new) <= unit * (1 + 1e-9)


def table_differences(regenerated: Path, committed: Path, notebooks: Sequence[str]) -> list[str]:
    """One sentence per table of ``notebooks`` (as recorded in ``committed``'s manifests) that the profile folder
    ``regenerated`` lacks or holds with other columns, rows or cells; empty when every table is reproduced."""
    problems = []
    for notebook in notebooks:
        names = committed_tables(committed, notebook)
        if not names:
            problems.append(f"{notebook}: no recorded tables under {committed.name}/.manifest (run the profile once)")
        for name in names:
            if not (regenerated / name).is_file():
                problems.append(f"{name} ({notebook}): not written by the regenerated run")
                continue
            new, old = _read(regenerated / name), _read(committed / name)
            if list(new.columns) != list(old.columns) or new.shape != old.shape:
                problems.append(
                    f"{name} ({notebook}): {new.shape[0]} rows x columns {list(new.columns)} regenerated, "
                    f"{old.shape[0]} rows x columns {list(old.columns)} committed"
                )
                continue
            whole = {column: all(v == "" or WHOLE.fullmatch(v) for v in old[column]) for column in old.columns}
            cells = [
                f"row {row}, {column}: {old.at[row, column]!r} committed, {new.at[row, column]!r} regenerated"
                for column in old.columns
                for row in old.index
                if not cells_agree(old.at[row, column], new.at[row, column], whole[column])
            ]
            if cells:
                more = f" (and {len(cells) - SHOWN} more)" if len(cells) > SHOWN else ""
                problems.append(f"{name} ({notebook}): {'; '.join(cells[:SHOWN])}{more}")
    return problems
