"""Which notebook wrote which file of ``reports/<profile>/``, and moving a staged run into place.

A notebook run by the runner writes everything (executed notebook, HTML, tables, figures, results) into a staging
folder ``reports/<profile>/.staging/<stem>.<random>/<profile>/`` that mirrors the profile. Only when the notebook
succeeded, :func:`commit` moves the staged files into the profile, deletes the files that the notebook's previous
run wrote and this one did not, and records the new list in ``.manifest/<stem>.json``. The commit is journalled
(``.manifest/<stem>.pending.json``, written first): a commit cut short by a kill is completed by :func:`recover`
at the start of the next run, which also deletes staging and scratch folders that killed runs left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from mmolre.files import atomic_write

MANIFEST_DIR = ".manifest"
STAGING_DIR = ".staging"
OUTPUT_FOLDERS = ("notebooks", "html", "tables", "figures", "results")
FAILED_SUFFIX = ".failed.ipynb"
HTML_INDEX = "html/index.html"
_PENDING_SUFFIX = ".pending.json"


@dataclass(frozen=True)
class Manifest:
    """The files (relative to the profile folder) that one successful run of a notebook wrote, when it finished and
    its wall time (staging and HTML export included). The parameters it ran with are recorded by papermill in the
    executed notebook (:func:`mmolre.notebook_parameters.injected`), not here."""

    notebook: str
    files: tuple[str, ...]
    finished: str = ""
    seconds: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Manifest:
        """A manifest from its JSON form (keys of older manifests, such as ``parameters``, are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in data.items() if k in known}, "files": tuple(data["files"])})  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError, KeyError, AttributeError) as error:
            raise ValueError(
                f"{path} is not a runner manifest ({type(error).__name__}: {error}); delete it, and the files it "
                "listed are shown as unattributed until the notebook runs again"
            ) from error


def _write_json(path: Path, payload: object) -> Path:
    text = json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def manifests(root: Path) -> dict[str, Manifest]:
    """The manifests of a profile folder, by notebook stem."""
    folder = root / MANIFEST_DIR
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    found = (Manifest.load(path) for path in paths if not path.name.endswith(_PENDING_SUFFIX))
    return {manifest.notebook: manifest for manifest in found}


def new_stage(root: Path, stem: str) -> Path:
    """A fresh, empty staging folder for one run of notebook ``stem``."""
    (root / STAGING_DIR).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=root / STAGING_DIR, prefix=f"{stem}."))


def discard_stage(stage: Path) -> None:
    """Delete a staging folder, and the ``.staging`` folder itself once it is empty."""
    shutil.rmtree(stage, ignore_errors=True)
    try:
        stage.parent.rmdir()
    except OSError:  # another stage is still there
        pass


def staged_files(stage: Path, profile: str) -> tuple[str, ...]:
    """Every file the run staged for ``profile``, relative to the profile folder."""
    base = stage / profile
    return tuple(sorted(path.relative_to(base).as_posix() for path in base.rglob("*") if path.is_file()))


def commit(root: Path, stage: Path, manifest: Manifest) -> None:
    """Move a successful run's staged files into the profile folder ``root`` and record them (journalled)."""
    journal = root / MANIFEST_DIR / f"{manifest.notebook}{_PENDING_SUFFIX}"
    _write_json(journal, {"stage": stage.name, "manifest": asdict(manifest)})
    _apply(root, journal)


def _apply(root: Path, journal: Path) -> None:
    """Carry out a journalled commit; safe to repeat after an interruption at any point."""
    pending = json.loads(journal.read_text(encoding="utf-8"))
    manifest = Manifest.from_dict(pending["manifest"])
    source = root / STAGING_DIR / pending["stage"] / root.name
    for name in manifest.files:
        staged = source / name
        if staged.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, root / name)
    manifest = replace(manifest, files=tuple(name for name in manifest.files if (root / name).is_file()))
    claimed = set(manifest.files)
    others = manifests(root)
    previous = others.pop(manifest.notebook, None)
    for name in sorted(set(previous.files if previous else ()) - claimed):
        (root / name).unlink(missing_ok=True)
    for other in others.values():  # a file now written by this notebook no longer belongs to another one
        if claimed & set(other.files):
            _write_json(
                root / MANIFEST_DIR / f"{other.notebook}.json",
                asdict(replace(other, files=tuple(name for name in other.files if name not in claimed))),
            )
    _write_json(root / MANIFEST_DIR / f"{manifest.notebook}.json", asdict(manifest))
    (root / "notebooks" / f"{manifest.notebook}{FAILED_SUFFIX}").unlink(missing_ok=True)
    journal.unlink()


def recover(root: Path) -> list[str]:
    """Finish commits cut short by a kill, then delete staging/scratch folders and temporary files of killed runs.

    Call only while holding the profile's lock. Returns what was cleaned up, for the terminal.
    """
    done: list[str] = []
    folder = root / MANIFEST_DIR
    for journal in sorted(folder.glob(f"*{_PENDING_SUFFIX}")) if folder.is_dir() else []:
        _apply(root, journal)
        done.append(f"completed the interrupted commit of {journal.name.removesuffix(_PENDING_SUFFIX)}")
    leftovers = [root / STAGING_DIR] if (root / STAGING_DIR).exists() else []
    for name in (*OUTPUT_FOLDERS, MANIFEST_DIR):
        if (root / name).is_dir():  # scratch folders of the older runner and temporary files of atomic_write
            leftovers += [path for path in (root / name).iterdir() if path.name.startswith(".")]
    for path in leftovers:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        done.append(f"removed leftover {path.relative_to(root)}")
    return done


def output_files(root: Path) -> list[str]:
    """Every output file of a profile folder (relative), without indexes, failed notebooks and hidden files."""
    files = (
        path.relative_to(root).as_posix()
        for folder in OUTPUT_FOLDERS
        if (root / folder).is_dir()
        for path in (root / folder).rglob("*")
        if path.is_file() and not path.name.startswith(".") and not path.name.endswith(FAILED_SUFFIX)
    )
    return sorted(name for name in files if name != HTML_INDEX)


def unattributed(root: Path) -> list[str]:
    """Output files no manifest lists (written outside the runner, or before manifests existed)."""
    listed = {name for manifest in manifests(root).values() for name in manifest.files}
    return [name for name in output_files(root) if name not in listed]


def grouped(files: Sequence[str]) -> tuple[list[tuple[str, str, str | None]], list[str]]:
    """Files to list in an index: ``(label, file, csv companion or None)`` in folder order, and the figures.

    A table's Markdown and CSV forms make one entry (the Markdown file, with the CSV as companion).
    """
    labels = {"html": "HTML", "notebooks": "notebook", "tables": "table", "results": "result"}
    order = [*labels, "figures"]

    def rank(name: str) -> tuple[int, str]:
        folder = name.split("/")[0]
        return (order.index(folder) if folder in order else len(order), name)

    entries = []
    for name in sorted(files, key=rank):
        folder = name.split("/")[0]
        if folder == "figures":
            continue
        if folder == "tables" and name.endswith(".csv") and name.removesuffix(".csv") + ".md" in files:
            continue  # listed with its Markdown form
        companion = name.removesuffix(".md") + ".csv" if folder == "tables" and name.endswith(".md") else None
        entries.append((labels.get(folder, "file"), name, companion if companion in files else None))
    return entries, [name for name in sorted(files) if name.startswith("figures/")]


def failed_notebooks(root: Path) -> dict[str, str]:
    """Stem -> relative path of the notebooks whose latest run failed."""
    folder = root / "notebooks"
    paths = sorted(folder.glob(f"*{FAILED_SUFFIX}")) if folder.is_dir() else []
    return {path.name.removesuffix(FAILED_SUFFIX): f"notebooks/{path.name}" for path in paths}
