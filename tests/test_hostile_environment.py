"""Family 6 of issue 15: the environment around a run (where the reports go, whether they can be written, the
umask) gives one line naming the folder, or just works."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mmolre.cli import main
from mmolre.files import atomic_write, writable_folder
from mmolre.paths import reports_dir
from mmolre.results.dashboard import write_site_index
from mmolre.runner import execute, outputs
from mmolre.runner.profile_index import write_index

PARAMS = "profile: p\n"


@pytest.fixture
def no_kernel(monkeypatch):
    """Nothing may reach the kernel: the folder checks come first."""
    monkeypatch.setattr(execute, "check_kernel", lambda: pytest.fail("the kernel was reached"))


def _run(tmp_path: Path, capsys) -> tuple[int, str]:
    params = tmp_path / "p.yaml"
    params.write_text(PARAMS, encoding="utf-8")
    code = main(["reports", "-f", str(params), "--only", "01_data"])
    return code, capsys.readouterr().err


def test_reports_folder_that_is_a_file(tmp_path, monkeypatch, capsys, no_kernel):
    blocker = tmp_path / "reports"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(blocker))
    code, err = _run(tmp_path, capsys)
    assert (
        code == 1 and err == f"error: reports folder {blocker}/p cannot be written: {blocker} is a file, not a folder\n"
    )


def test_reports_folder_below_a_file(tmp_path, monkeypatch, capsys, no_kernel):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(blocker / "reports"))
    code, err = _run(tmp_path, capsys)
    assert code == 1 and err.count("\n") == 1 and f"{blocker} is a file, not a folder" in err, err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_reports_folder(tmp_path, monkeypatch, capsys, no_kernel):
    folder = tmp_path / "reports"
    (folder / "p").mkdir(parents=True)
    (folder / "p").chmod(0o555)
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(folder))
    try:
        code, err = _run(tmp_path, capsys)
    finally:
        (folder / "p").chmod(0o755)
    assert code == 1 and err.startswith(f"error: reports folder {folder}/p cannot be written: Permission denied")


def test_an_os_error_during_a_run_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setattr(execute, "check_kernel", lambda: None)

    def refuse(*_, **__):
        raise PermissionError(13, "Permission denied", str(tmp_path / "reports" / "p" / "notebooks"))

    monkeypatch.setattr(execute.papermill, "execute_notebook", refuse)
    code, err = _run(tmp_path, capsys)
    assert code == 1 and err.count("\n") == 1 and "Permission denied" in err and "reports/p/notebooks" in err, err


def test_relative_reports_folder_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", "somewhere/reports")
    assert reports_dir() == tmp_path / "somewhere" / "reports" and reports_dir().is_absolute()


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_umask_mode(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        path = atomic_write(tmp_path / "tables" / "t.csv", lambda tmp: tmp.write_text("a\n"))
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == mode


def test_writable_folder_creates_and_checks(tmp_path):
    assert writable_folder(tmp_path / "a" / "b").is_dir()
    assert not [path for path in (tmp_path / "a" / "b").iterdir()]  # the probe file is gone


def test_folder_left_by_a_profile_named_index_html_no_longer_blocks_the_site_index(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path / "reports"))
    bad = tmp_path / "reports" / "index.html"
    (bad / "tables").mkdir(parents=True)
    (bad / "tables" / "t.csv").write_text("a\n")
    (tmp_path / "reports" / "good" / "tables").mkdir(parents=True)
    (tmp_path / "reports" / "good" / "tables" / "t.csv").write_text("a\n")
    write_index("good")
    write_site_index(tmp_path / "reports")
    assert (tmp_path / "reports" / "index.html").is_file() and "good" in (
        tmp_path / "reports" / "index.html"
    ).read_text()
    moved = [path for path in (tmp_path / "reports").iterdir() if path.name.startswith(".index.html.folder-")]
    assert len(moved) == 1 and (moved[0] / "tables" / "t.csv").is_file()
    assert f"moved the folder {bad}" in capsys.readouterr().out
    write_index("good")  # and again: nothing left to move
    write_site_index(tmp_path / "reports")
    assert outputs.output_files(tmp_path / "reports" / "good") == ["tables/t.csv"]
