"""The results dashboard ``reports/index.html``: the headline table (our best run per dataset beside the strongest
published number), the paired verdicts, the gap to the published numbers as a figure, then one card per profile
(what it runs, its data, its notebooks and wall time). Written by ``python -m mmolre reports`` and ``train`` after
their runs, on the page skeleton and stylesheet every report page shares (:mod:`mmolre.runner.pages`).
"""

from __future__ import annotations

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
from mmolre.runner.pages import render, write_stylesheet

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


@dataclass(frozen=True)
class Table:
    """A table for a page: its column names and rows of ``(text, css class or "")`` cells (``table.html.j2``)."""

    columns: list[str]
    rows: list[list[tuple[str, str]]]


def _table(frame: pd.DataFrame, gap_column: str | None = None) -> Table:
    """A table of text cells; cells of ``gap_column`` coloured by sign."""

    def tone(column: object, text: str) -> str:
        if column != gap_column or text in ("–", ""):
            return ""
        return "gap-neg" if text.startswith("−") else "gap-pos"

    rows = [[(str(value), tone(column, str(value))) for column, value in row.items()] for _, row in frame.iterrows()]
    return Table([str(c) for c in frame.columns], rows)


def _verdicts(paired: pd.DataFrame) -> Table:
    """The paired table (:func:`~mmolre.results.tables.paired_results_table`) on the leading metrics, one row per
    dataset, profile and metric, one column per baseline."""
    leading = {metric_label("acc2_non0"), metric_label("emo_wa"), metric_label("wa")}
    kept = paired[paired["metric"].map(lambda m: m.rsplit(" (", 1)[0] in leading)]
    baselines = list(dict.fromkeys(kept["comparison"]))
    rows: dict[tuple[str, str, str], dict[str, tuple[str, str]]] = {}
    for _, row in kept.iterrows():
        key = (str(row["dataset"]), str(row["source"]).removeprefix("ours: "), str(row["metric"]).rsplit(" (", 1)[0])
        verdict = str(row["verdict"])
        tone = "gap-pos" if verdict.startswith("ahead") else "gap-neg" if verdict.startswith("behind") else ""
        text = f"{str(row['difference [95 % CI]']).split(' [')[0]} (p {row['p (paired t)']})"
        rows.setdefault(key, {})[row["comparison"]] = (text, tone)
    return Table(
        ["dataset", "profile", "metric", *baselines],
        [[(k, "") for k in key] + [cells.get(b, ("–", "")) for b in baselines] for key, cells in rows.items()],
    )


def _results(reports_root: Path) -> dict[str, object]:
    """What the dashboard shows of every profile's recorded tables (the ``default`` profile, the quick synthetic
    configuration, is left out as in the README): the headline table, the test-selected published references, the
    verdicts and the gap figure (written next to the dashboard), or the error that kept them from being read."""
    import matplotlib.pyplot as plt  # matplotlib, seaborn and the results code load only for the index
    from matplotlib.figure import Figure

    from mmolre.report import plots
    from mmolre.results import headline, recorded, tables

    shown: dict[str, object] = {"error": "", "headline": None, "test_selected": [], "verdicts": None, "gaps_figure": ""}
    try:
        profiles = [p for p in recorded.list_profiles(reports_root) if p not in headline.README_SKIPPED]
        runs = recorded.collect_runs(reports_root, profiles)
        records = headline.headline_records(runs)
        paired = tables.paired_results_table(runs)
    except ValueError as error:
        return {**shown, "error": str(error)}
    if not records:
        return shown
    references = {r["published"].key: r["published"] for r in records if r["published"]}.values()
    shown.update(
        headline=_table(headline.headline_table(runs), "gap"),
        test_selected=[ref for ref in references if ref.test_selected],
        verdicts=None if paired.empty else _verdicts(paired),
    )
    drawn = plots.plot_headline_gaps(records)
    if isinstance(drawn, Figure):
        save = partial(drawn.savefig, format="png", dpi=100, bbox_inches="tight")
        atomic_write(reports_root / GAPS_FIGURE, lambda tmp: save(tmp))
        plt.close(drawn)
        shown["gaps_figure"] = GAPS_FIGURE
    return shown


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
    cards = [profile_card(folder) for folder in folders if output_files(folder)]
    values = {"title": "MMoLRE results", "to_root": "", "cards": cards, **_results(reports_root)}
    text = render("dashboard.html.j2", ("mmolre.results",), **values)
    return atomic_write(site, lambda tmp: tmp.write_text(text, encoding="utf-8"))
