"""The data command against a loopback HTTP server (never the network): every file downloaded from its pinned
source path with its sha256 checked, partial downloads resumed with a Range request, damaged downloads refused,
``data check`` reporting ok / missing / differs; the real table rebuilt from $MMOLRE_DATA_DIR when it is set."""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest

from mmolre.cli import main
from mmolre.data.fetch import check, fetch, source_url
from mmolre.data.sources import FILES, Source

REPO, COMMIT = "someone/features", "0123456789abcdef0123456789abcdef01234567"
CONTENT = {
    "mosi/a.pkl": os.urandom(3000),
    "mosi/sub/b.csv": b"id,value\n" + b"x,1\n" * 500,
    "mosei/c.csv": b"c" * 10,
}


def table(content: Mapping[str, bytes]) -> dict[str, Source]:
    return {
        relative: Source(REPO, COMMIT, f"data dir/{relative}", hashlib.sha256(data).hexdigest())
        for relative, data in content.items()
    }


@contextmanager
def serve(routes: Mapping[str, bytes | Path], ranges: bool = True) -> Iterator[tuple[str, list[dict]]]:
    """An HTTP server on 127.0.0.1 serving ``routes`` (URL path -> bytes or file); with ``ranges`` it answers
    ``Range: bytes=N-`` with 206 and the rest of the file. Yields the base URL and the log of requests."""
    log: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            log.append({"path": unquote(self.path), "range": self.headers.get("Range")})
            body = routes.get(unquote(self.path))
            if body is None:
                self.send_error(404)
                return
            data = body.read_bytes() if isinstance(body, Path) else body
            wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if ranges and wanted:
                start = int(wanted.group(1))
                if start >= len(data):
                    self.send_error(416)
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                data = data[start:]
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mirror", log
    finally:
        server.shutdown()
        server.server_close()


def routes_for(files: Mapping[str, Source], content: Mapping[str, bytes | Path]) -> dict[str, bytes | Path]:
    return {f"/mirror/{s.repo}/{s.commit}/{s.path}": content[relative] for relative, s in files.items()}


def test_fetch_downloads_every_file_from_its_pinned_path(tmp_path: Path) -> None:
    files = table(CONTENT)
    out = io.StringIO()
    with serve(routes_for(files, CONTENT)) as (base, log):
        assert fetch(tmp_path, base=base, files=files, out=out) == []
        again = io.StringIO()
        assert fetch(tmp_path, base=base, files=files, out=again) == []
    for relative, data in CONTENT.items():
        assert (tmp_path / relative).read_bytes() == data
    assert sorted(entry["path"] for entry in log) == sorted(f"/mirror/{REPO}/{COMMIT}/data dir/{r}" for r in CONTENT)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and all(line.startswith("downloaded") and "sha256 checked" in line for line in lines)
    assert all("already present" in line for line in again.getvalue().splitlines())
    assert [s.state for s in check(tmp_path, files=files)] == ["ok", "ok", "ok"]
    assert not list(tmp_path.rglob("*.part"))


def test_only_selects_dataset_folders(tmp_path: Path) -> None:
    files = table(CONTENT)
    with serve(routes_for(files, CONTENT)) as (base, log):
        assert fetch(tmp_path, only=["mosei"], base=base, files=files, out=io.StringIO()) == []
    assert [entry["path"].rsplit("/", 1)[1] for entry in log] == ["c.csv"]
    with pytest.raises(ValueError, match=r"unknown dataset\(s\) \['mosy'\]"):
        fetch(tmp_path, only=["mosy"], files=files, out=io.StringIO())


@pytest.mark.parametrize("ranges", [True, False])
def test_partial_download_resumes_or_restarts(tmp_path: Path, ranges: bool) -> None:
    files = table(CONTENT)
    part = tmp_path / "mosi" / "a.pkl.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(CONTENT["mosi/a.pkl"][:1234])
    out = io.StringIO()
    with serve(routes_for(files, CONTENT), ranges=ranges) as (base, log):
        assert fetch(tmp_path, only=["mosi"], base=base, files=files, out=out) == []
    assert (tmp_path / "mosi/a.pkl").read_bytes() == CONTENT["mosi/a.pkl"] and not part.exists()
    assert log[0]["range"] == "bytes=1234-"
    assert ("resumed at byte 1,234" in out.getvalue()) == ranges


def test_damaged_download_is_refused_and_edited_file_replaced(tmp_path: Path) -> None:
    files = table(CONTENT)
    served = {**CONTENT, "mosi/sub/b.csv": CONTENT["mosi/sub/b.csv"].replace(b"x,1", b"x,2", 1)}
    (tmp_path / "mosi").mkdir()
    (tmp_path / "mosi/a.pkl").write_bytes(b"my own edited copy")
    out = io.StringIO()
    with serve(routes_for(files, served)) as (base, _):
        failures = fetch(tmp_path, only=["mosi"], base=base, files=files, out=out)
    assert len(failures) == 1 and "mosi/sub/b.csv" in failures[0] and "sha256" in failures[0]
    assert not (tmp_path / "mosi/sub/b.csv").exists() and not (tmp_path / "mosi/sub/b.csv.part").exists()
    assert (tmp_path / "mosi/a.pkl").read_bytes() == CONTENT["mosi/a.pkl"]
    assert "replaced a differing copy" in out.getvalue()


def test_unreachable_source_keeps_going(tmp_path: Path) -> None:
    files = table(CONTENT)
    with serve({}) as (base, _):
        failures = fetch(tmp_path, base=base, files=files, out=io.StringIO())
    assert len(failures) == 3 and all("HTTP 404" in line for line in failures)


def test_source_urls_use_full_commits() -> None:
    for source in FILES.values():
        assert re.fullmatch(r"[0-9a-f]{40}", source.commit) and re.fullmatch(r"[0-9a-f]{64}", source.sha256)
    url = source_url(Source("a/b", "c" * 40, "dir with space/f.csv", "0" * 64), "https://mirror.example/raw/")
    assert url == f"https://mirror.example/raw/a/b/{'c' * 40}/dir%20with%20space/f.csv"


DATA = Path(os.environ.get("MMOLRE_DATA_DIR") or "/nonexistent")


@pytest.mark.skipif(not (DATA / "mosi").is_dir(), reason="no real data: set MMOLRE_DATA_DIR")
def test_real_table_rebuilds_the_data_folder_and_check_flags_an_edit(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Serve the real files under their recorded repository paths; `data fetch` rebuilds the folder with every
    sha256 checked and `data check` then flags an edited file."""
    routes = routes_for(FILES, {relative: DATA / relative for relative in FILES})
    with serve(routes) as (base, _):
        assert main(["data", "fetch", "--dir", str(tmp_path), "--base-url", base]) == 0
    assert capsys.readouterr().out.count("sha256 checked") == len(FILES)
    assert main(["data", "check", "--dir", str(tmp_path)]) == 0
    capsys.readouterr()
    edited = tmp_path / "mosi/bclstm/transcripts.csv"
    edited.write_bytes(edited.read_bytes().replace(b",", b";", 1))
    (tmp_path / "mosei/umons_d_test.pkl").unlink()
    assert main(["data", "check", "--dir", str(tmp_path)]) == 1
    report = capsys.readouterr().out
    assert re.search(r"^differs\s+mosi/bclstm/transcripts.csv \(sha256", report, re.M)
    assert re.search(r"^missing\s+mosei/umons_d_test.pkl$", report, re.M)
    assert len(re.findall(r"^ok\s", report, re.M)) == len(FILES) - 2
