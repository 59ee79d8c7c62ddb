"""HTML for readers: executed notebooks without code cells, an index page per profile, and the results dashboard
``reports/index.html`` (headline table, verdicts, the gap to the published numbers, one card per profile).

Every page links the one stylesheet ``reports/style.css`` (written by :func:`write_stylesheet`, never inlined),
carries no warning output and no absolute path of the machine that made it.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from mmolre.files import atomic_write
from mmolre.metrics import metric_label
from mmolre.paths import PROJECT_ROOT
from mmolre.report.outputs import (
    HTML_INDEX,
    Manifest,
    failed_notebooks,
    grouped,
    manifests,
    output_files,
    unattributed,
)

STYLESHEET = "style.css"
"""The stylesheet every page links, at the top of the reports folder."""
GAPS_FIGURE = "headline_gaps.png"
"""The dashboard's figure of our best runs against the published numbers, next to ``index.html``."""
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
    text = _page(f"{notebook.stem} ({target.parent.parent.name})", [without_absolute_paths(body)], "../../")
    return atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _page(title: str, body: list[str], to_root: str) -> str:
    """A complete page; ``to_root`` is the relative path from the page to the reports folder."""
    head = (
        f'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
        f'<link rel="stylesheet" href="{html.escape(to_root + STYLESHEET)}"></head>'
    )
    return "\n".join([head, "<body>", *body, "</body>", "</html>"]) + "\n"


def _link(href: str, text: str) -> str:
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def _files(files: Sequence[str]) -> list[str]:
    """HTML list of a profile's output files (links relative to ``html/``); figures are shown inline."""
    entries, figures = grouped(files)
    items = [
        f"<li>{label}: {_link('../' + name, Path(name).name)}"
        + (f" ({_link('../' + csv, 'csv')})" if csv else "")
        + "</li>"
        for label, name, csv in entries
    ]
    shown = [
        f'<figure><img src="{html.escape("../" + name)}" alt="{html.escape(Path(name).stem)}" loading="lazy">'
        f"<figcaption>{html.escape(Path(name).stem)}</figcaption></figure>"
        for name in figures
    ]
    return (["<ul>", *items, "</ul>"] if items else []) + shown


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def describe_run(manifest: Manifest) -> str:
    """One plain sentence: when the notebook's last successful run finished, how long it took, its parameters."""
    parameters = json.dumps(manifest.parameters, sort_keys=True, default=str)
    return f"Last successful run finished {manifest.finished} in {manifest.seconds:.1f} s with parameters {parameters}."


def _parameters(manifest: Manifest) -> str:
    """A notebook's parameters as a small table (not raw JSON)."""
    if not manifest.parameters:
        return ""
    rows = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td><td><code>{html.escape(json.dumps(value, default=str))}"
        "</code></td></tr>"
        for name, value in sorted(manifest.parameters.items())
    )
    return f'<details><summary>parameters</summary><table class="params">{rows}</table></details>'


def write_profile_index(root: Path) -> Path:
    """Write ``<root>/html/index.html``: per notebook its run, HTML, notebook, tables, results and figures."""
    profile = root.name
    found = manifests(root)
    failed = failed_notebooks(root)
    body = [
        f"<h1>Reports for profile <code>{html.escape(profile)}</code></h1>",
        "<p>Generated by <code>python -m mmolre reports</code>; do not edit. "
        f"{_link('../../index.html', 'All profiles and the headline results')} · "
        f"{_link('../README.md', 'README.md')}</p>",
    ]
    for stem in sorted(set(found) | set(failed)):
        body.append(f"<h2>{html.escape(stem)}</h2>")
        if stem in failed:
            body.append(
                '<p class="failed">The latest run of this notebook failed '
                f"({_link('../' + failed[stem], Path(failed[stem]).name)}); "
                + ("what follows is from the last successful run.</p>" if stem in found else "it has no outputs.</p>")
            )
        if stem in found:
            run = found[stem]
            page = next((name for name in run.files if name == f"html/{stem}.html"), None)
            read = f" Read it: {_link('../' + page, 'the notebook as a page')}." if page else ""
            body += [
                f"<p>Last successful run finished {html.escape(run.finished)} in {_duration(run.seconds)}.{read}</p>",
                _parameters(run),
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
    text = _page(f"Reports: {profile}", body, "../../")
    return atomic_write(root / HTML_INDEX, lambda tmp: tmp.write_text(text, encoding="utf-8"))


@dataclass(frozen=True)
class ProfileCard:
    """What the dashboard says about one report profile."""

    name: str
    page: str
    runs: str
    data: str
    notebooks: tuple[str, ...]
    seconds: float
    finished: str
    failed: int
    files: int


def _param_summary(profile: str) -> str:
    """The first sentence of ``params/<profile>.yaml``'s header comment (what the profile runs), or ''."""
    path = PROJECT_ROOT / "params" / f"{profile}.yaml"
    if not path.is_file():
        return ""
    header = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("# ").strip())
    text, depth = " ".join(header), 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and text[i : i + 2] in (". ", ": "):
            return text[:i] + "."
    return text.rstrip(".") + "." if text else ""


_KNOWN_RUNS = {
    "default": "The quick synthetic configuration (the notebooks' own defaults, what CI executes); not a result.",
    "benchmarks": "benchmarks/*.py: low-rank against full-rank experts (cost) and text-encoder settings on MOSI.",
}


def profile_card(folder: Path) -> ProfileCard:
    """The card of one profile folder: what it runs, its data and real modalities, notebooks, wall time."""
    runs = manifests(folder)
    summary = folder / "results" / "data_summary.json"
    data = ""
    if summary.is_file():
        try:
            payload = json.loads(summary.read_text(encoding="utf-8"))
            real = ", ".join(payload.get("real_modalities") or []) or "none (synthetic)"
            data = f"{payload.get('name', '?')}; real modalities: {real}"
        except ValueError:
            data = "results/data_summary.json is not valid JSON"
    page = HTML_INDEX if (folder / HTML_INDEX).is_file() else ("README.md" if (folder / "README.md").is_file() else "")
    return ProfileCard(
        name=folder.name,
        page=f"{folder.name}/{page}" if page else f"{folder.name}/",
        runs=_KNOWN_RUNS.get(folder.name) or _param_summary(folder.name),
        data=data,
        notebooks=tuple(sorted(runs)),
        seconds=sum(manifest.seconds for manifest in runs.values()),
        finished=max((manifest.finished for manifest in runs.values()), default=""),
        failed=len(failed_notebooks(folder)),
        files=len(output_files(folder)),
    )


def _card(card: ProfileCard) -> str:
    lines = [f"<h3>{_link(card.page, card.name)}</h3>"]
    if card.runs:
        lines.append(f"<p>{html.escape(card.runs)}</p>")
    if card.data:
        lines.append(f"<p><b>Data:</b> {html.escape(card.data)}</p>")
    if card.notebooks:
        timing = f"; wall time {_duration(card.seconds)}, last run {html.escape(card.finished)}"
        lines.append(f"<p><b>Notebooks:</b> {html.escape(', '.join(card.notebooks))}{timing}</p>")
    else:
        lines.append(f"<p><b>Files:</b> {card.files} (written outside the notebook runner)</p>")
    if card.failed:
        lines.append(f'<p class="failed">{card.failed} notebook(s) whose latest run failed</p>')
    return '<div class="card">' + "".join(lines) + "</div>"


def _table(frame: pd.DataFrame, gap_column: str | None = None) -> str:
    """A table of text cells (escaped); cells of ``gap_column`` coloured by sign."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for column, value in row.items():
            text = html.escape(str(value))
            if column == gap_column and text not in ("–", ""):
                text = f'<span class="gap-{"neg" if text.startswith("−") else "pos"}">{text}</span>'
            cells.append(f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="wrap"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _verdicts(paired: pd.DataFrame) -> str:
    """The paired table (:func:`~mmolre.report.results.paired_results_table`) on the leading metrics, one row per
    dataset, profile and metric, one column per baseline."""
    leading = {metric_label("acc2_non0"), metric_label("emo_wa"), metric_label("wa")}
    kept = paired[paired["metric"].map(lambda m: m.rsplit(" (", 1)[0] in leading)]
    baselines = list(dict.fromkeys(kept["comparison"]))
    rows = {}
    for _, row in kept.iterrows():
        key = (str(row["dataset"]), str(row["source"]).removeprefix("ours: "), str(row["metric"]).rsplit(" (", 1)[0])
        verdict = str(row["verdict"])
        tone = "gap-pos" if verdict.startswith("ahead") else "gap-neg" if verdict.startswith("behind") else ""
        text = html.escape(f"{str(row['difference [95 % CI]']).split(' [')[0]} (p {row['p (paired t)']})")
        rows.setdefault(key, {})[row["comparison"]] = f'<span class="{tone}">{text}</span>' if tone else text
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["dataset", "profile", "metric", *baselines])
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(k)}</td>" for k in key)
        + "".join(f"<td>{cells.get(b, '–')}</td>" for b in baselines)
        + "</tr>"
        for key, cells in rows.items()
    )
    return f'<div class="wrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _results_sections(reports_root: Path) -> list[str]:
    """The dashboard's headline table, verdicts and gap figure from every profile's recorded tables (the
    ``default`` profile, the quick synthetic configuration, is left out as in the README)."""
    import matplotlib.pyplot as plt  # matplotlib, seaborn and the results code load only for the index
    from matplotlib.figure import Figure

    from mmolre.report import plots, recorded, results

    try:
        profiles = [p for p in recorded.list_profiles(reports_root) if p not in results.README_SKIPPED]
        runs = recorded.collect_runs(reports_root, profiles)
        records = results.headline_records(runs)
        paired = results.paired_results_table(runs)
    except ValueError as error:
        return [f'<p class="failed">The recorded tables could not be read: {html.escape(str(error))}</p>']
    if not records:
        return ["<p>No profile has recorded runs yet: run <code>./run.sh reports -f params/mosi.yaml</code>.</p>"]
    body = [
        "<h2>Headline: our best run per dataset beside the strongest published number</h2>",
        "<p class='note'>Test split; ours: mean ± std over the seeds (groups of at least three seeds); published: "
        "the number as reported, with the features it used. Gap = ours − published (positive: ours better).</p>",
        _table(results.headline_table(runs), "gap"),
    ]
    for ref in {r["published"].key: r["published"] for r in records if r["published"]}.values():
        if ref.test_selected:
            body.append(
                f"<p class='note'><b>{html.escape(ref.label)}</b>: {html.escape(ref.test_selected)}, so its numbers "
                "are optimistic against ours, which select on the validation split only.</p>"
            )
    if not paired.empty:
        body += [
            "<h2>Verdicts: MMoLRE against each baseline, paired over seeds</h2>",
            "<p class='note'>Same data, seeds and training loop. Each cell: MMoLRE − baseline (mean over the paired "
            "seeds) and the paired t-test p; green / red where MMoLRE is ahead / behind with p &lt; 0.05. Intervals, "
            "Wilcoxon p, MAE and Corr: docs/results.md.</p>",
            _verdicts(paired),
        ]
    drawn = plots.plot_headline_gaps(records)
    if isinstance(drawn, Figure):
        save = partial(drawn.savefig, format="png", dpi=100, bbox_inches="tight")
        atomic_write(reports_root / GAPS_FIGURE, lambda tmp: save(tmp))
        plt.close(drawn)
        body += [
            "<h2>How far from the published numbers</h2>",
            f'<img src="{GAPS_FIGURE}" alt="our best run minus the strongest published number, per dataset">',
        ]
    return body


def write_site_index(reports_root: Path) -> Path:
    """Write the dashboard ``<reports_root>/index.html`` (and ``style.css``): the headline results of every
    recorded profile, then one card per profile folder that holds outputs."""
    write_stylesheet(reports_root)
    folders = sorted(path for path in reports_root.iterdir() if path.is_dir() and not path.name.startswith("."))
    cards = [_card(profile_card(folder)) for folder in folders if output_files(folder)]
    body = [
        "<h1>MMoLRE: results</h1>",
        "<p>Multi-task low-rank experts for multimodal sentiment and emotion recognition, trained on CPU with small "
        "text encoders, set beside published numbers obtained with much stronger features. Generated by "
        "<code>python -m mmolre reports</code> from every profile's tables; do not edit.</p>",
        *_results_sections(reports_root),
        "<h2>Profiles</h2>",
        *(['<div class="cards">', *cards, "</div>"] if cards else ["<p>(no profile has outputs)</p>"]),
    ]
    text = _page("MMoLRE results", body, "")
    return atomic_write(reports_root / "index.html", lambda tmp: tmp.write_text(text, encoding="utf-8"))
