"""HTML pages of the runner: executed notebooks without code cells and an index page per profile, and what every
page of the reports shares (the dashboard :mod:`mmolre.results.dashboard` included): Jinja templates
(``mmolre/runner/templates/``, every value escaped unless marked safe) on one page skeleton (``page.html.j2``) that
links the one stylesheet ``reports/style.css`` (written by :func:`write_stylesheet`, never inlined), no warning
output and no absolute path of the machine that made it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined

from mmolre.files import atomic_write
from mmolre.paths import PROJECT_ROOT
from mmolre.runner.outputs import HTML_INDEX, Manifest, failed_notebooks, grouped, manifests, unattributed

STYLESHEET = "style.css"
"""The stylesheet every page links, at the top of the reports folder."""
_STYLE = """\
body { font-family: system-ui, sans-serif; max-width: 78em; margin: 2em auto; padding: 0 1em; line-height: 1.45;
       color: #222; }
h1, h2, h3 { line-height: 1.2; }
a { color: #1f5fa8; }
code { background: #f3f3f3; padding: 0 .2em; border-radius: 3px; }
img { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: .88em; }
th, td { border: 1px solid #ddd; padding: .25em .55em; text-align: left; vertical-align: top; }
th { background: #f5f7fa; }
tbody tr:nth-child(even) { background: #fafafa; }
.wrap { overflow-x: auto; }
.note { color: #555; font-size: .92em; }
.failed { color: #a00; font-weight: bold; }
.gap-neg { color: #a33; white-space: nowrap; }
.gap-pos { color: #2a7a2a; white-space: nowrap; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(22em, 1fr)); gap: 1em; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .6em 1em; background: #fcfcfd; }
.card h3 { margin: .2em 0 .4em; }
.card p { margin: .3em 0; font-size: .92em; }
figure { display: inline-block; margin: 0 1em 1em 0; vertical-align: top; }
pre { background: #f7f7f7; padding: .5em; overflow-x: auto; font-size: .85em; }
.jp-Cell { margin: .4em 0; }
.anchor-link { display: none; }
.jp-OutputArea-output pre { margin: 0; }
"""
_WARNING = re.compile(r"\b\w*Warning\b|warnings\.warn|\bWARNING\b")
_ABSOLUTE = re.compile(
    r"(?<![\w.:/+=-])/(?:home|Users|root|tmp|work|mnt|opt|usr|var|srv|data)(?:/[^\s\"'<>()\[\],;]+)+"
)


def write_stylesheet(reports_root: Path) -> Path:
    """Write ``<reports_root>/style.css`` (only when its content changed)."""
    target = reports_root / STYLESHEET
    if target.is_file() and target.read_text(encoding="utf-8") == _STYLE:
        return target
    return atomic_write(target, lambda tmp: tmp.write_text(_STYLE, encoding="utf-8"))


def without_absolute_paths(text: str) -> str:
    """``text`` with paths inside the project made relative and any other absolute path cut to its last part."""
    text = text.replace(str(PROJECT_ROOT) + "/", "").replace(str(PROJECT_ROOT), ".")
    return _ABSOLUTE.sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def _quiet(notebook: object) -> None:
    """Drop warnings from an executed notebook's outputs: stderr streams that hold a warning."""
    for cell in notebook.cells:  # type: ignore[attr-defined]
        outputs = cell.get("outputs", [])
        cell["outputs"] = [
            out
            for out in outputs
            if not (out.get("output_type") == "stream" and out.get("name") == "stderr" and _WARNING.search(out["text"]))
        ]


def duration(seconds: float) -> str:
    """A wall time as a reader wants it: ``42 s``, ``12 min``, ``1 h 05 min``."""
    minutes = round(seconds / 60)
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


@cache
def environment(*packages: str) -> Environment:
    """The Jinja environment of the templates of ``packages`` (the runner's last, so every page can extend
    ``page.html.j2``): autoescaped, block tags on lines of their own leave no blank lines."""
    loaders = [PackageLoader(package, "templates") for package in (*packages, "mmolre.runner")]
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )
    env.filters.update(basename=lambda name: Path(name).name, stem=lambda name: Path(name).stem, duration=duration)
    env.globals["stylesheet"] = STYLESHEET
    return env


def render(template: str, packages: tuple[str, ...] = (), **values: object) -> str:
    """A page from ``template`` (looked up in ``packages``' templates, then the runner's)."""
    return environment(*packages).get_template(template).render(**values)


def export_html(notebook: Path, target: Path) -> Path:
    """Write the executed ``notebook`` as HTML without code cells (outputs and Markdown only), without warnings
    and absolute paths, linking ``reports/style.css`` (``target`` is ``reports/<profile>/html/<name>.html``)."""
    import nbformat  # imported here: nbconvert is slow to import and only the runner needs it
    from nbconvert import HTMLExporter

    content = nbformat.read(str(notebook), as_version=4)
    _quiet(content)
    exporter = HTMLExporter(
        template_name="basic", exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(content)
    title = f"{notebook.stem} ({target.parent.parent.name})"
    text = render("notebook.html.j2", title=title, to_root="../../", body=without_absolute_paths(body))
    return atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


@dataclass(frozen=True)
class Listing:
    """Files to list on a page: ``(label, file, csv companion or None)`` entries and the figures (see
    :func:`mmolre.runner.outputs.grouped`)."""

    entries: list[tuple[str, str, str | None]]
    figures: list[str]

    @classmethod
    def of(cls, files: Sequence[str]) -> Listing:
        return cls(*grouped(files))


@dataclass(frozen=True)
class NotebookEntry:
    """One notebook on a profile's index page: its last successful run (None: none) and its failed run, if any."""

    stem: str
    manifest: Manifest | None
    failed: str | None
    parameters: list[tuple[str, str]]
    page: str | None
    listing: Listing | None


def write_profile_index(root: Path, parameters: dict[str, dict[str, object]]) -> Path:
    """Write ``<root>/html/index.html``: per notebook its run (``parameters``: what each was given), HTML, notebook,
    tables, results and figures."""
    found = manifests(root)
    failed = failed_notebooks(root)
    runs = []
    for stem in sorted(set(found) | set(failed)):
        run = found.get(stem)
        given = sorted((parameters.get(stem) or {}).items())
        runs.append(
            NotebookEntry(
                stem,
                run,
                failed.get(stem),
                [(name, json.dumps(value, default=str)) for name, value in given],
                next((name for name in run.files if name == f"html/{stem}.html"), None) if run else None,
                Listing.of(run.files) if run else None,
            )
        )
    other = unattributed(root)
    text = render(
        "profile_index.html.j2",
        title=f"Reports: {root.name}",
        to_root="../../",
        profile=root.name,
        runs=runs,
        other=Listing.of(other) if other else None,
    )
    return atomic_write(root / HTML_INDEX, lambda tmp: tmp.write_text(text, encoding="utf-8"))
