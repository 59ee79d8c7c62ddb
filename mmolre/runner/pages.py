"""HTML pages of the runner: executed notebooks without code cells and an index page per profile, and what every
page of the reports shares (the dashboard :mod:`mmolre.results.dashboard` included): one page skeleton linking the
one stylesheet ``reports/style.css`` (written by :func:`write_stylesheet`, never inlined), no warning output and no
absolute path of the machine that made it.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from pathlib import Path

from mmolre.files import atomic_write
from mmolre.paths import PROJECT_ROOT
from mmolre.runner.outputs import HTML_INDEX, failed_notebooks, grouped, manifests, unattributed

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
    text = page(f"{notebook.stem} ({target.parent.parent.name})", [without_absolute_paths(body)], "../../")
    return atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def page(title: str, body: list[str], to_root: str) -> str:
    """A complete page; ``to_root`` is the relative path from the page to the reports folder."""
    head = (
        f'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
        f'<link rel="stylesheet" href="{html.escape(to_root + STYLESHEET)}"></head>'
    )
    return "\n".join([head, "<body>", *body, "</body>", "</html>"]) + "\n"


def link(href: str, text: str) -> str:
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def _files(files: Sequence[str]) -> list[str]:
    """HTML list of a profile's output files (links relative to ``html/``); figures are shown inline."""
    entries, figures = grouped(files)
    items = [
        f"<li>{label}: {link('../' + name, Path(name).name)}"
        + (f" ({link('../' + csv, 'csv')})" if csv else "")
        + "</li>"
        for label, name, csv in entries
    ]
    shown = [
        f'<figure><img src="{html.escape("../" + name)}" alt="{html.escape(Path(name).stem)}" loading="lazy">'
        f"<figcaption>{html.escape(Path(name).stem)}</figcaption></figure>"
        for name in figures
    ]
    return (["<ul>", *items, "</ul>"] if items else []) + shown


def duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _parameters(parameters: dict[str, object]) -> str:
    """A notebook's parameters as a small table (not raw JSON)."""
    if not parameters:
        return ""
    rows = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td><td><code>{html.escape(json.dumps(value, default=str))}"
        "</code></td></tr>"
        for name, value in sorted(parameters.items())
    )
    return f'<details><summary>parameters</summary><table class="params">{rows}</table></details>'


def write_profile_index(root: Path, parameters: dict[str, dict[str, object]]) -> Path:
    """Write ``<root>/html/index.html``: per notebook its run (``parameters``: what each was given), HTML, notebook,
    tables, results and figures."""
    profile = root.name
    found = manifests(root)
    failed = failed_notebooks(root)
    body = [
        f"<h1>Reports for profile <code>{html.escape(profile)}</code></h1>",
        "<p>Generated by <code>python -m mmolre reports</code>; do not edit. "
        f"{link('../../index.html', 'All profiles and the headline results')} · "
        f"{link('../README.md', 'README.md')}</p>",
    ]
    for stem in sorted(set(found) | set(failed)):
        body.append(f"<h2>{html.escape(stem)}</h2>")
        if stem in failed:
            body.append(
                '<p class="failed">The latest run of this notebook failed '
                f"({link('../' + failed[stem], Path(failed[stem]).name)}); "
                + ("what follows is from the last successful run.</p>" if stem in found else "it has no outputs.</p>")
            )
        if stem in found:
            run = found[stem]
            own = next((name for name in run.files if name == f"html/{stem}.html"), None)
            read = f" Read it: {link('../' + own, 'the notebook as a page')}." if own else ""
            body += [
                f"<p>Last successful run finished {html.escape(run.finished)} in {duration(run.seconds)}.{read}</p>",
                _parameters(parameters.get(stem, {})),
                *_files(run.files),
            ]
    other = unattributed(root)
    if other:
        body += [
            "<h2>Other files</h2>",
            "<p>Not written by a recorded runner run (written by hand, or before the runner kept manifests).</p>",
            *_files(other),
        ]
    if not found and not failed and not other:
        body.append("<p>(no outputs)</p>")
    text = page(f"Reports: {profile}", body, "../../")
    return atomic_write(root / HTML_INDEX, lambda tmp: tmp.write_text(text, encoding="utf-8"))
