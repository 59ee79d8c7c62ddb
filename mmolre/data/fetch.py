"""Rebuilding the data folder from the pinned public sources (``python -m mmolre data fetch`` / ``data check``).

Every file of :data:`mmolre.data.sources.FILES` is downloaded from ``<base>/<repository>/<commit>/<path>`` (base
``https://raw.githubusercontent.com``, or ``--base-url`` / ``$MMOLRE_DATA_BASE_URL``, e.g. a mirror or a test
server). A download goes to ``<file>.part`` first; an interrupted one resumes from there with an HTTP Range request
(a server that ignores the range sends the whole file again), and the file takes its place only when its sha256 is
the recorded one. A file already present with the recorded sha256 is not downloaded again.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

from mmolre.data.dataset import DataError
from mmolre.data.sources import FILES, Source, sha256
from mmolre.messages import cut
from mmolre.paths import DATA_DIR_ENV, data_dir

BASE_URL = "https://raw.githubusercontent.com"
BASE_URL_ENV = "MMOLRE_DATA_BASE_URL"
CHUNK = 1 << 20
TIMEOUT_S = 60


@dataclass(frozen=True)
class FileStatus:
    """One file of the data folder: ``ok``, ``missing`` or ``differs`` (with the sha256 found)."""

    relative: str
    state: str
    found: str | None = None


def datasets(files: Mapping[str, Source] = FILES) -> tuple[str, ...]:
    """The dataset folders the files belong to (``mosi``, ``mosei``, ...), in table order."""
    return tuple(dict.fromkeys(relative.split("/")[0] for relative in files))


def selected(only: Sequence[str] | None, files: Mapping[str, Source] = FILES) -> list[str]:
    """The files of the datasets in ``only`` (all when None); an unknown name is a ValueError listing the known."""
    known = datasets(files)
    unknown = sorted(set(only or ()) - set(known))
    if unknown:
        raise ValueError(f"unknown dataset(s) {unknown}; the data folders are {list(known)}")
    return [relative for relative in files if only is None or relative.split("/")[0] in only]


def resolve_folder(folder: str | Path | None) -> Path:
    """``folder``, else ``$MMOLRE_DATA_DIR``; neither is a ValueError saying to give one."""
    chosen = Path(folder).expanduser().resolve() if folder else data_dir()
    if chosen is None:
        raise ValueError(f"no data folder: give --dir FOLDER or set ${DATA_DIR_ENV}")
    return chosen


def source_url(source: Source, base: str | None = None) -> str:
    """Where a file is downloaded from: ``<base>/<repository>/<commit>/<path>``."""
    base = (base or os.environ.get(BASE_URL_ENV) or BASE_URL).rstrip("/")
    return f"{base}/{source.repo}/{source.commit}/{quote(source.path)}"


def check(
    folder: str | Path | None, only: Sequence[str] | None = None, files: Mapping[str, Source] = FILES
) -> list[FileStatus]:
    """The state of every selected file in the data folder (files the table does not name are ignored)."""
    root = resolve_folder(folder)
    statuses = []
    for relative in selected(only, files):
        source, path = files[relative], root / relative
        if not path.is_file():
            statuses.append(FileStatus(relative, "missing"))
            continue
        found = sha256(path)
        statuses.append(FileStatus(relative, "ok" if found == source.sha256 else "differs", found))
    return statuses


def _download(url: str, part: Path, out: TextIO, label: str) -> int:
    """Download ``url`` into ``part``, resuming after the bytes it already holds; returns the bytes resumed from."""
    start = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if error.code == 416 and start:  # the part already holds the whole file
            return start
        raise
    with response:
        if start and response.status != 206:  # the server ignored the range: start over
            start = 0
        total = response.headers.get("Content-Length")
        total = int(total) + start if total is not None else None
        done = start
        with part.open("ab" if start else "wb") as handle:
            for block in iter(lambda: response.read(CHUNK), b""):
                handle.write(block)
                done += len(block)
                if out.isatty():
                    of = f"{total:>12,}" if total else f"{'?':>12}"
                    print(f"\r{label}  {done:>12,} / {of} bytes", end="", file=out, flush=True)
    if out.isatty():
        print("\r", end="", file=out)
    return start


def fetch_file(relative: str, source: Source, root: Path, base: str | None, out: TextIO) -> str:
    """Make ``root/relative`` the recorded file; returns its progress line (DataError/OSError on failure)."""
    target = root / relative
    if target.is_file() and sha256(target) == source.sha256:
        return f"ok          {relative} (already present, sha256 checked)"
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    url = source_url(source, base)
    try:
        resumed = _download(url, part, out, relative)
    except urllib.error.HTTPError as error:
        raise DataError(f"{url}: HTTP {error.code} {error.reason} (for {relative})") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise DataError(f"{url}: download failed ({cut(str(reason), 120)}); run again to resume") from None
    found = sha256(part)
    if found != source.sha256:
        part.unlink()
        raise DataError(
            f"{url}: downloaded file has sha256 {found[:16]}..., recorded {source.sha256[:16]}... for {relative}; "
            "the source changed or the transfer was damaged (nothing kept)"
        )
    replaced = target.is_file()
    os.replace(part, target)
    how = (f", resumed at byte {resumed:,}" if resumed else "") + (", replaced a differing copy" if replaced else "")
    return f"downloaded  {relative} ({target.stat().st_size:,} bytes{how}, sha256 checked)"


def fetch(
    folder: str | Path | None,
    only: Sequence[str] | None = None,
    base: str | None = None,
    files: Mapping[str, Source] = FILES,
    out: TextIO | None = None,
) -> list[str]:
    """Download every selected file that is missing or differs into the data folder, one progress line per file;
    returns the failures (one line each; the other files are still fetched)."""
    root, out = resolve_folder(folder), out or sys.stdout
    failures = []
    for relative in selected(only, files):
        try:
            print(fetch_file(relative, files[relative], root, base, out), file=out, flush=True)
        except (DataError, OSError) as error:
            line = f"failed      {relative}: {cut(str(error), 300)}"
            print(line, file=out, flush=True)
            failures.append(line)
    return failures


def data_command(command: str, folder: Path | None, only: Sequence[str] | None, base: str | None) -> int:
    """``python -m mmolre data fetch|check``; the exit code (1 when a file failed, is missing or differs)."""
    if command == "fetch":
        failures = fetch(folder, only, base)
        print(f"{len(failures)} file(s) failed" if failures else "every file present with its recorded sha256")
        return 1 if failures else 0
    statuses = check(folder, only)
    for status in statuses:
        detail = ""
        if status.state == "differs":
            detail = f" (sha256 {str(status.found)[:16]}..., recorded {FILES[status.relative].sha256[:16]}...)"
        print(f"{status.state:<8} {status.relative}{detail}")
    bad = [s for s in statuses if s.state != "ok"]
    print(f"{len(statuses) - len(bad)} ok, {len(bad)} missing or different" + ("" if not bad else "; run data fetch"))
    return 1 if bad else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The actions and options of ``python -m mmolre data``."""
    actions = parser.add_subparsers(dest="data_command", required=True)
    fetch_parser = actions.add_parser("fetch", help="download the missing or differing files (sha256 checked)")
    check_parser = actions.add_parser("check", help="report every file as ok / missing / differs")
    for sub in (fetch_parser, check_parser):
        sub.add_argument("--dir", type=Path, default=None, help=f"data folder (default ${DATA_DIR_ENV})")
        sub.add_argument("--only", nargs="+", metavar="DATASET", help=f"data folders among {list(datasets())}")
    fetch_parser.add_argument(
        "--base-url", default=None, help=f"download base instead of {BASE_URL} (or ${BASE_URL_ENV}): a mirror"
    )
