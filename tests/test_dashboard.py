"""The results dashboard and the notebook pages (mmolre/results/dashboard.py, mmolre/runner/pages.py): headline
first, one linked stylesheet, no warnings and no absolute paths."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd

from mmolre.paths import PROJECT_ROOT
from mmolre.results import dashboard
from mmolre.runner import pages

SEEDS = (1111, 1112, 1113)


def _profile(root: Path, name: str, dataset: str, level: float) -> None:
    rows = [
        {"model": model, "variant": model, "seed": seed, "split": "test", "acc2_non0": lead + 0.01 * i, "mae": 0.9}
        for model, lead in (("mmolre", level), ("hard_sharing", level - 0.02))
        for i, seed in enumerate(SEEDS)
    ]
    (root / name / "tables").mkdir(parents=True)
    pd.DataFrame(rows).to_csv(root / name / "tables" / "baselines_runs.csv", index=False)
    (root / name / "results").mkdir()
    summary = {"name": dataset, "real_modalities": ["text", "audio"], "notes": {}}
    (root / name / "results" / "data_summary.json").write_text(json.dumps(summary), encoding="utf-8")


def test_dashboard_opens_with_the_headline_then_verdicts_gaps_and_cards(tmp_path: Path) -> None:
    _profile(tmp_path, "mosi", "mosi", 0.80)
    _profile(tmp_path, "default", "synthetic_mosei", 0.99)  # the quick CI profile: a card, never a headline
    index = dashboard.write_site_index(tmp_path).read_text(encoding="utf-8")
    order = [index.index(text) for text in ("Headline", "Verdicts", "How far from the published", "Profiles")]
    assert order == sorted(order)
    headline = index[index.index("Headline") : index.index("Verdicts")]
    assert "MMoLRE (mosi)" in headline and "0.810 ± 0.010 (3 seeds)" in headline and "MMML (large, context)" in headline
    assert "default" not in headline and '<span class="gap-neg">−0.0935</span>' in headline
    assert "MMoLRE − hard sharing" in index and "+0.0200 (p " in index  # the verdicts, paired over seeds
    assert (tmp_path / dashboard.GAPS_FIGURE).stat().st_size > 1000
    assert index.count('<div class="card">') == 2 and "mosi; real modalities: text, audio" in index
    assert '<link rel="stylesheet" href="style.css">' in index and "<style" not in index
    assert (tmp_path / "style.css").read_text(encoding="utf-8").startswith("body")
    assert str(tmp_path) not in index and str(PROJECT_ROOT) not in index


def test_dashboard_without_runs_says_what_to_run(tmp_path: Path) -> None:
    (tmp_path / "benchmarks" / "tables").mkdir(parents=True)
    (tmp_path / "benchmarks" / "tables" / "speed.md").write_text("| x |\n", encoding="utf-8")
    index = dashboard.write_site_index(tmp_path).read_text(encoding="utf-8")
    assert "No profile has recorded runs yet" in index and 'href="benchmarks/"' in index


def test_notebook_page_links_the_stylesheet_and_drops_warnings_and_absolute_paths(tmp_path: Path) -> None:
    cell = nbformat.v4.new_code_cell("print(1)")
    cell.outputs = [
        nbformat.v4.new_output(
            "stream", name="stderr", text="/home/someone/.venv/tqdm/auto.py:21: TqdmWarning: IProgress not found\n"
        ),
        nbformat.v4.new_output("stream", name="stdout", text=f"Reports read from {PROJECT_ROOT}/reports/mosi\n"),
        nbformat.v4.new_output("stream", name="stdout", text="data in /home/someone/data/mosi/labels.pkl\n"),
        nbformat.v4.new_output("stream", name="stderr", text="epoch 3 of 10\n"),
    ]
    notebook = tmp_path / "mosi" / "notebooks" / "01_data.ipynb"
    notebook.parent.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), str(notebook))
    page = pages.export_html(notebook, tmp_path / "mosi" / "html" / "01_data.html").read_text(encoding="utf-8")
    assert "TqdmWarning" not in page and "epoch 3 of 10" in page  # warnings go, other stderr stays
    assert "Reports read from reports/mosi" in page and "data in …/labels.pkl" in page
    assert "/home/" not in page and str(PROJECT_ROOT) not in page and "print(1)" not in page
    assert '<link rel="stylesheet" href="../../style.css">' in page and len(page) < 20_000  # no inlined stylesheet


def test_absolute_paths_are_cut_but_urls_and_base64_are_kept() -> None:
    text = 'see https://github.com/a/home/b and <img src="data:image/png;base64,AB/home/CD"> /tmp/x/y.csv'
    assert pages.without_absolute_paths(text) == text.replace("/tmp/x/y.csv", "…/y.csv")


def test_pages_escape_what_they_show(tmp_path: Path) -> None:
    """Every value reaches the page through the templates' autoescaping: a parameter or a file name is text."""
    root = tmp_path / "p"
    (root / "tables").mkdir(parents=True)
    (root / "tables" / "a<b>.csv").write_text("x\n", encoding="utf-8")
    (root / ".manifest").mkdir()
    manifest = {"notebook": "01_x", "files": ["tables/a<b>.csv"], "finished": "now", "seconds": 3.0}
    (root / ".manifest" / "01_x.json").write_text(json.dumps(manifest), encoding="utf-8")
    page = pages.write_profile_index(root, {"01_x": {"note": "<script>alert(1)</script>"}}).read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page and "a&lt;b&gt;.csv" in page
    assert '<link rel="stylesheet" href="../../style.css">' in page and "in 3 s." in page
