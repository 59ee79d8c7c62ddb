"""The results dashboard ``reports/index.html``: the headline table (our best run per dataset beside the strongest
published number), the paired verdicts, the gap to the published numbers as a figure, then one card per profile
(what it runs, its data, its notebooks and wall time). Written by ``python -m mmolre reports`` and ``train`` after
their runs, on the page skeleton and stylesheet every report page shares (:mod:`mmolre.runner.pages`).
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pandas as pd

from mmolre.files import atomic_write
from mmolre.metrics import metric_label
from mmolre.paths import PROJECT_ROOT
from mmolre.runner.outputs import HTML_INDEX, failed_notebooks, manifests, output_files
from mmolre.runner.pages import duration, link, page, write_stylesheet

GAPS_FIGURE = "headline_gaps.png"
"""The dashboard's figure of our best runs against the published numbers, next to ``index.html``."""


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
    lines = [f"<h3>{link(card.page, card.name)}</h3>"]
    if card.runs:
        lines.append(f"<p>{html.escape(card.runs)}</p>")
    if card.data:
        lines.append(f"<p><b>Data:</b> {html.escape(card.data)}</p>")
    if card.notebooks:
        timing = f"; wall time {duration(card.seconds)}, last run {html.escape(card.finished)}"
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
    """The paired table (:func:`~mmolre.results.tables.paired_results_table`) on the leading metrics, one row per
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

    from mmolre.report import plots
    from mmolre.results import headline, recorded, tables

    try:
        profiles = [p for p in recorded.list_profiles(reports_root) if p not in headline.README_SKIPPED]
        runs = recorded.collect_runs(reports_root, profiles)
        records = headline.headline_records(runs)
        paired = tables.paired_results_table(runs)
    except ValueError as error:
        return [f'<p class="failed">The recorded tables could not be read: {html.escape(str(error))}</p>']
    if not records:
        return ["<p>No profile has recorded runs yet: run <code>./run.sh reports -f params/mosi.yaml</code>.</p>"]
    body = [
        "<h2>Headline: our best run per dataset beside the strongest published number</h2>",
        "<p class='note'>Test split; ours: mean ± std over the seeds (groups of at least three seeds); published: "
        "the number as reported, with the features it used. Gap = ours − published (positive: ours better).</p>",
        _table(headline.headline_table(runs), "gap"),
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
    recorded profile, then one card per profile folder that holds outputs. A folder in the way (a profile named
    ``index.html``, no longer a valid name) is moved aside."""
    site = reports_root / "index.html"
    if site.is_dir():
        aside = site.with_name(f".index.html.folder-{datetime.now(UTC):%Y%m%d%H%M%S}")
        os.replace(site, aside)
        print(f"moved the folder {site} (a profile named like the site index) to {aside}", flush=True)
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
    text = page("MMoLRE results", body, "")
    return atomic_write(reports_root / "index.html", lambda tmp: tmp.write_text(text, encoding="utf-8"))
