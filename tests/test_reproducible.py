"""Reproducible tables: written at a stated precision, and the notebooks nbval executes (the quick default
configuration, into a temporary reports folder) give the committed ``reports/default`` tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmolre.paths import PROJECT_ROOT, reports_dir
from mmolre.report import Reporter
from mmolre.report.reporter import rounded
from mmolre.runner.reproducible import PROFILE_DEPENDENT, cells_agree, table_differences
from mmolre.table_digits import SIGNIFICANT_DIGITS


def test_tables_are_written_at_a_stated_precision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path))
    written = []
    for mae in (1.2038697737269104, 1.203869773913175):  # the same run on two machines
        frame = pd.DataFrame({"seed": [1111], "params": [37237.0], "mae": [mae], "p": [0.000123456]})
        written.append(Reporter("quick").table(frame, "runs").read_text(encoding="utf-8"))
    assert written[0] == written[1] == "seed,params,mae,p\n1111,37237.0,1.204,0.0001235\n"
    assert SIGNIFICANT_DIGITS == 4
    values = pd.DataFrame({"x": [123456.7, -0.0045678, np.nan, 0.0, 2.5]})
    assert rounded(values)["x"].tolist()[:2] == [123500.0, -0.004568] and rounded(values)["x"].isna().sum() == 1


def _profile(root: Path, rows: dict[str, list[object]], notebook: str = "04_baselines") -> Path:
    (root / "tables").mkdir(parents=True)
    pd.DataFrame(rows).to_csv(root / "tables" / "runs.csv", index=False)
    (root / ".manifest").mkdir()
    manifest = {"notebook": notebook, "files": ["tables/runs.csv", "tables/runs.md"]}
    (root / ".manifest" / f"{notebook}.json").write_text(json.dumps(manifest), encoding="utf-8")
    return root


def test_differences_name_the_table_and_cell_and_ignore_wall_times(tmp_path: Path) -> None:
    committed = _profile(tmp_path / "committed", {"seed": [1, 2], "mae": [0.9617, 0.9018], "seconds": [3.1, 2.9]})
    same = _profile(tmp_path / "same", {"seed": [1, 2], "mae": [0.9617, 0.9018], "seconds": [9.0, 8.0]})
    assert table_differences(same, committed, ["04_baselines"]) == []
    rounded_other_way = _profile(tmp_path / "rounded", {"seed": [1, 2], "mae": [0.9618, 0.9017], "seconds": [3.1, 2.9]})
    assert table_differences(rounded_other_way, committed, ["04_baselines"]) == []
    other = _profile(tmp_path / "other", {"seed": [1, 2], "mae": [0.9617, 0.9020], "seconds": [3.1, 2.9]})
    assert table_differences(other, committed, ["04_baselines"]) == [
        "tables/runs.csv (04_baselines): row 1, mae: '0.9018' committed, '0.902' regenerated"
    ]
    seeds = _profile(tmp_path / "seeds", {"seed": [1111, 1112], "mae": [0.9617, 0.9018]})
    other_seed = _profile(tmp_path / "other_seed", {"seed": [1111, 1113], "mae": [0.9617, 0.9018]})
    assert table_differences(other_seed, seeds, ["04_baselines"]) == [
        "tables/runs.csv (04_baselines): row 1, seed: '1112' committed, '1113' regenerated"
    ], "a column of whole numbers is compared exactly, even where one unit of the 4th digit is 1"
    wider = _profile(tmp_path / "wider", {"seed": [1, 2], "mae": [0.9617, 0.9018], "corr": [0.5, 0.6]})
    assert "columns ['seed', 'mae', 'corr'] regenerated" in table_differences(wider, committed, ["04_baselines"])[0]
    (other / "tables" / "runs.csv").unlink()
    assert table_differences(other, committed, ["04_baselines"]) == [
        "tables/runs.csv (04_baselines): not written by the regenerated run"
    ]
    assert "no recorded tables" in table_differences(same, committed, ["03_train_mmolre"])[0]


def test_cells_agree_to_one_unit_of_the_last_written_digit() -> None:
    assert cells_agree("1.363", "1.364") and cells_agree("0.006466", "0.006465") and cells_agree("99.99", "100.0")
    assert not cells_agree("1.363", "1.365") and not cells_agree("0.2125", "0.2027")
    assert not cells_agree("-0.002953", "0.002953") and not cells_agree("0", "0.0001")
    assert cells_agree("1111", "1112") and not cells_agree("1111", "1112", whole=True), "seeds: a whole column"
    assert not cells_agree("48163.0", "48173.0", whole=True) and not cells_agree("2.0", "3.0")
    assert cells_agree("0", "0.0") and cells_agree("-0.0", "0.0") and cells_agree("1e-05", "1.0e-05")
    assert cells_agree("mmolre", "mmolre") and not cells_agree("mmolre", "moe_full") and not cells_agree("", "1.0")


def test_default_profile_tables_are_reproduced(notebooks_run: set[str]) -> None:
    """Runs last (tests/conftest.py), after nbval has executed the notebooks into $MMOLRE_REPORTS_DIR; fails when a
    table of reports/default differs. After a deliberate change: ./run.sh reports, then commit reports/default."""
    ran = sorted(notebooks_run - set(PROFILE_DEPENDENT))
    if not ran:
        pytest.skip("no notebook executed in this session: ./run.sh test runs them (tests/ notebooks/)")
    committed = PROJECT_ROOT / "reports" / "default"
    if reports_dir().resolve() == committed.parent.resolve():
        pytest.skip("the notebooks wrote into the committed reports/: set MMOLRE_REPORTS_DIR (./run.sh test does)")
    problems = table_differences(reports_dir() / "default", committed, ran)
    assert not problems, "regenerating the default profile changes committed tables:\n" + "\n".join(problems)
