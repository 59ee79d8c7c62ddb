"""Headline results (mmolre/results/) on small generated report folders, and the README's staleness."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmolre.cli import main
from mmolre.emotions import EMOTIONS
from mmolre.modalities import CONDITIONS
from mmolre.paths import PROJECT_ROOT
from mmolre.report import plots
from mmolre.report.reporter import NoFigure
from mmolre.results import headline, published, recorded, tables
from mmolre.results import readme as generated

SEEDS = (1111, 1112, 1113)


def _baselines(models: dict[str, float], emotions: bool) -> pd.DataFrame:
    """Per-seed rows whose test Acc-2 non0 is ``level + 0.01 * i`` for seed i: mean level + 0.01, std 0.01."""
    rows = []
    for model, level in models.items():
        for i, seed in enumerate(SEEDS):
            for split in ("valid", "test"):
                row = {"model": model, "variant": model, "seed": seed, "split": split, "params": 100}
                row |= {"acc2_has0": level, "acc2_non0": level + 0.01 * i, "f1_non0": level, "acc7": 0.3}
                row |= {"mae": 1.0 - level, "corr": level - 0.1}
                if emotions:
                    row |= {f"emo_wa_{e}": 0.6 + 0.01 * i for e in EMOTIONS}
                    row |= {f"emo_f1_{e}": 0.7 for e in EMOTIONS}
                    row |= {"emo_wa": 0.6 + 0.01 * i, "emo_f1": 0.7}
                rows.append(row)
    return pd.DataFrame(rows)


def _conditions(methods: dict[str, float], applicable: tuple[str, ...]) -> pd.DataFrame:
    rows = []
    for method, level in methods.items():
        for i, seed in enumerate(SEEDS):
            values = {c: level + (0.02 * i if c == "t" else 0.0) for c in applicable}
            for condition in CONDITIONS:
                ok = condition in applicable
                value = values.get(condition, np.nan)
                rows.append(_condition_row(method, seed, condition, ok, value))
            rows.append(_condition_row(method, seed, "avg", True, float(np.mean(list(values.values())))))
    return pd.DataFrame(rows)


def _condition_row(method: str, seed: int, condition: str, applicable: bool, value: float) -> dict[str, object]:
    return {
        "method": method,
        "rank": 4,
        "seed": seed,
        "condition": condition,
        "applicable": applicable,
        "acc2_non0": value,
        "f1_non0": value,
        "mae": 1.0 - value if applicable else np.nan,
        "corr": value,
    }


def _executed(path: Path, injected: dict[str, object]) -> None:
    """A minimal executed notebook: a parameters cell with defaults and what papermill injected, recorded in its
    metadata as papermill records it."""
    cells = [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": 'dataset: str = "synthetic"\n'}]
    metadata = {"kernelspec": {"name": "python3", "language": "python"}, "papermill": {"parameters": injected}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}))


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """Profiles ``mosi`` (executed notebooks say which data), ``mosei`` (data_summary.json only) and benchmarks."""
    mosi = tmp_path / "mosi"
    (mosi / "tables").mkdir(parents=True)
    _baselines({"mmolre": 0.80, "hard_sharing": 0.78}, emotions=False).to_csv(
        mosi / "tables/baselines_runs.csv", index=False
    )
    _conditions({"mculora": 0.70, "full_only": 0.68}, ("a", "t", "at")).to_csv(
        mosi / "tables/incomplete_conditions_long.csv", index=False
    )
    options = {"text_kind": "finetune", "freeze_layers": 3}
    _executed(mosi / "notebooks/04_baselines.ipynb", {"dataset": "mosi", "dataset_options": options})
    _executed(mosi / "notebooks/06_incomplete_modalities.ipynb", {"dataset": "mosi"})
    mosei = tmp_path / "mosei"
    (mosei / "tables").mkdir(parents=True)
    (mosei / "results").mkdir()
    _baselines({"mmolre": 0.81}, emotions=True).to_csv(mosei / "tables/baselines_runs.csv", index=False)
    summary = {"name": "mosei", "notes": {"text_kind": "sentence"}}
    (mosei / "results/data_summary.json").write_text(json.dumps(summary))
    bench = tmp_path / "benchmarks" / "tables"
    bench.mkdir(parents=True)
    rows = [("low-rank", 64, 8, 10, 5, 100.0), ("full-rank", 64, 8, 100, 40, 50.0)]
    columns = ["experts", "width", "n_experts", "parameters", "flops_per_sample", "samples_per_s"]
    pd.DataFrame(rows, columns=columns).to_csv(bench / "efficiency_width.csv", index=False)
    return tmp_path


def _row(table: pd.DataFrame, source: str, method: str, dataset: str = "") -> pd.Series:
    hits = table[(table["source"] == source) & (table["method"] == method)]
    hits = hits[hits["dataset"] == dataset] if dataset else hits
    assert len(hits) == 1, f"expected one row {source} / {method} in\n{table}"
    return hits.iloc[0]


def test_collect_runs_tags_dataset_and_features_and_lists_what_is_missing(reports: Path) -> None:
    runs = recorded.collect_runs(reports)
    assert runs.profiles == ["mosei", "mosi"]
    by_profile = runs.sentiment.groupby("profile")[["dataset", "features"]].first()
    assert by_profile.loc["mosi", "dataset"] == "CMU-MOSI"
    assert "fine-tuned (3 lower layers frozen)" in by_profile.loc["mosi", "features"]
    assert "bc-LSTM audio" in by_profile.loc["mosi", "features"]
    assert by_profile.loc["mosei", "features"] == "all-MiniLM-L6-v2 sentence vectors, frozen text only"
    assert any("efficiency_experts.csv" in item for item in runs.missing)
    assert list(runs.efficiency) == ["efficiency_width"]


def test_sentiment_table_is_mean_std_over_seeds_beside_published(reports: Path) -> None:
    table = tables.sentiment_table(recorded.collect_runs(reports))
    ours = _row(table, "ours: mosi", "MMoLRE")
    assert ours["Acc-2 (non-zero)"] == "0.810 ± 0.010" and ours["seeds"] == "3"
    assert _row(table, "ours: mosi", "hard sharing")["MAE"] == "0.220 ± 0.000"
    self_mm = _row(table, "published: Self-MM", "Self-MM", "CMU-MOSI")
    assert self_mm["Acc-2 (non-zero)"] == "0.8546" and self_mm["MAE"] == "0.7080"
    assert "BERT" in self_mm["features"]
    mmml = _row(table, "published: MMML", "MMML", "CMU-MOSI")  # the paper's row: base-size encoders, no context
    assert (mmml["Acc-2 (non-zero)"], mmml["MAE"]) == ("0.8816", "0.6429") and "base size" in mmml["features"]
    large = _row(table, "published: MMML large+context", "MMML (large, context)", "CMU-MOSI")
    assert large["Acc-2 (non-zero)"] == "0.9035" and "RoBERTa-large" in large["features"]
    assert _row(table, "published: UniMSE", "UniMSE", "CMU-MOSEI")["Acc-7"] == "–"
    # published rows only for datasets that have runs of ours, listed before ours
    assert set(table["dataset"]) == {"CMU-MOSI", "CMU-MOSEI"}
    mosi = table[table["dataset"] == "CMU-MOSI"]["source"].tolist()
    assert mosi.index("published: Self-MM") < mosi.index("ours: mosi")


def test_emotion_table_only_for_runs_with_emotions(reports: Path) -> None:
    table = tables.emotion_table(recorded.collect_runs(reports))
    assert table["source"].tolist() == ["ours: mosei"]
    assert table.iloc[0]["happy WA"] == "0.610 ± 0.010" and table.iloc[0]["emotion F1"] == "0.700 ± 0.000"


def test_incomplete_table_names_the_conditions_averaged(reports: Path) -> None:
    runs = recorded.collect_runs(reports)
    table = tables.incomplete_table(runs)
    mculora = _row(table, "ours: mosi", "MCULoRA")
    assert mculora["conditions"] == "3: a, t, at"
    assert mculora["Acc-2 (non-zero)"] == "0.707 ± 0.007"  # per-seed avg over a, t, at with t rising 0.02 per seed
    published = _row(table, "published: MCULoRA", "MCULoRA (selected on test)")
    assert published["dataset"] == "CMU-MOSEI" and published["Acc-2 (non-zero)"] == "0.7961"
    assert published["conditions"] == "all 7"
    per_condition = tables.conditions_table(runs)
    ours = _row(per_condition, "ours: mosi", "MCULoRA")
    assert ours["t"] == "0.720 ± 0.020" and ours["v"] == "–"
    assert _row(per_condition, "published: MoMKE", "MoMKE")["atv"] == "–"


def test_efficiency_table_ratios(reports: Path) -> None:
    table = tables.efficiency_table(recorded.collect_runs(reports))
    row = table.iloc[0]
    assert (row["params ratio"], row["FLOPs ratio"], row["throughput ratio"]) == ("0.100", "0.125", "2.00")


def test_missing_profiles_and_tables_are_reported_not_raised(tmp_path: Path) -> None:
    assert recorded.collect_runs(tmp_path / "absent").missing[0].startswith("no report profile")
    (tmp_path / "empty" / "tables").mkdir(parents=True)
    runs = recorded.collect_runs(tmp_path, ["empty", "nowhere"])
    assert any(item.startswith("profile empty: none of") for item in runs.missing)
    assert any(item.startswith("profile nowhere: no folder") for item in runs.missing)
    assert tables.headline_tables(runs) == {}
    assert "Not found" in generated.readme_block(tmp_path)
    assert isinstance(plots.plot_published_comparison(tables.comparison_frame(runs)), NoFigure)


def test_malformed_table_is_an_error_naming_the_file(reports: Path) -> None:
    path = reports / "mosi" / "tables" / "baselines_runs.csv"
    pd.DataFrame({"model": ["mmolre"], "seed": [1]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"baselines_runs\.csv: missing column\(s\) \['split'\]"):
        recorded.collect_runs(reports)
    (reports / "mosi" / "notebooks" / "06_incomplete_modalities.ipynb").write_text('{"cells": [', encoding="utf-8")
    with pytest.raises(ValueError, match=r"06_incomplete_modalities\.ipynb: not a readable notebook"):
        recorded.run_context(reports, "mosi", "06_incomplete_modalities")


def test_write_readme_replaces_only_the_marked_block(reports: Path, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    stale = f"# title\n\nbefore\n\n{generated.BEGIN}\nSTALE-TEXT\n{generated.END}\n\nafter\n"
    readme.write_text(stale, encoding="utf-8")
    assert generated.write_readme(readme, reports)
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# title\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert "0.810 ± 0.010" in text and "STALE-TEXT" not in text
    assert not generated.write_readme(readme, reports)
    assert main(["readme", "--readme", str(readme), "--reports-dir", str(reports)]) == 0
    readme.write_text("no markers here\n", encoding="utf-8")
    assert main(["readme", "--readme", str(readme), "--reports-dir", str(reports)]) == 1


def test_readme_headline_and_results_match_the_committed_reports() -> None:
    """Fails when README.md's headline or docs/results.md is stale: run `python -m mmolre readme` (no arguments)
    after regenerating reports."""
    readme, full = PROJECT_ROOT / "README.md", generated.RESULTS_FILE
    headline = generated.readme_section(
        readme.read_text(encoding="utf-8"), readme, generated.HEADLINE_BEGIN, generated.HEADLINE_END
    )
    assert headline == generated.headline_block(PROJECT_ROOT / "reports"), (
        "README.md's headline differs from what reports/ regenerates: run `python -m mmolre readme`"
    )
    assert generated.readme_section(full.read_text(encoding="utf-8"), full) == generated.readme_block(
        PROJECT_ROOT / "reports"
    ), "docs/results.md differs from what reports/ regenerates: run `python -m mmolre readme`"
    assert generated.BEGIN not in readme.read_text(encoding="utf-8")  # the full tables live in docs/, not the README


def test_generated_blocks_are_written_where_their_markers_are(reports: Path, tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"# x\n\n{generated.HEADLINE_BEGIN}\nold\n{generated.HEADLINE_END}\n\nkept\n", encoding="utf-8")
    assert generated.write_readme(page, reports) and not generated.write_readme(page, reports)
    text = page.read_text(encoding="utf-8")
    assert "| CMU-MOSI " in text and "0.810 ± 0.010 (3 seeds)" in text and text.endswith("\n\nkept\n")
    page.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"page\.md: no generated block"):
        generated.write_readme(page, reports)


def test_comparison_frame_keeps_encoder_settings_apart(reports: Path) -> None:
    encoders = _baselines({"mmolre": 0.75}, emotions=False).drop(columns=["model", "variant"])
    encoders = pd.concat([encoders.assign(encoder="frozen"), encoders.assign(encoder="fine-tuned")])
    encoders.to_csv(reports / "mosi" / "tables" / "encoder_runs.csv", index=False)
    _executed(reports / "mosi" / "notebooks" / "05_ablations.ipynb", {"dataset": "mosi"})
    runs = recorded.collect_runs(reports)
    frame = tables.comparison_frame(runs, "acc2_non0")
    assert {"MMoLRE, frozen (mosi)", "MMoLRE, fine-tuned (mosi)", "MMoLRE (mosi)"} <= set(frame["method"])
    assert (frame.loc[frame["method"] == "Self-MM", "kind"] == "published").all()
    table = tables.sentiment_table(runs)
    assert "all-MiniLM-L6-v2 (fine-tuned) text + bc-LSTM audio; no video" in set(table["features"])
    with pytest.raises(ValueError, match="study must be"):
        tables.comparison_frame(runs, "acc2_non0", "other")


def test_run_context_falls_back_to_the_committed_notebook_default(tmp_path: Path) -> None:
    (tmp_path / "bare" / "tables").mkdir(parents=True)
    assert recorded.run_context(tmp_path, "bare", "06_incomplete_modalities")[0] == "synthetic"
    assert recorded.run_context(tmp_path, "bare", "99_absent") == ("unknown", {})


def test_features_name_context_iemocap_and_the_official_layout() -> None:
    assert recorded.features("iemocap", {}) == "all-MiniLM-L6-v2 sentence vectors, frozen text only"
    assert recorded.features("mosi_bclstm", {"context": True}).endswith("(bc-LSTM's own split), utterance context")
    assert recorded.features("mosi", {"audio": False}).endswith(" text only")  # MOSI without its audio
    assert recorded.features("mosi", {}).endswith(" text + bc-LSTM audio; no video")
    official = recorded.features("official", {"features": {"text": "deberta-large-4-UTT"}, "context": True})
    assert official == "official GCNet/MCULoRA utterance features (text: deberta-large-4-UTT), utterance context"


def test_test_selected_published_numbers_say_so(reports: Path) -> None:
    table = published.published_table()
    mculora = table[table["method"] == "MCULoRA (selected on test)"]
    assert len(mculora) and mculora["selected on test"].str.contains("test loader").all()
    assert (table.loc[table["method"] == "Self-MM", "selected on test"] == "no (not known to)").all()
    block = generated.readme_block(reports)
    assert "**Selected on the test split**" in block and "- MCULoRA: the official training script" in block


def test_headline_puts_our_best_run_beside_the_strongest_published_number(reports: Path) -> None:
    runs = recorded.collect_runs(reports)
    records = {r["dataset"]: r for r in headline.headline_records(runs)}
    mosi = records["CMU-MOSI"]
    assert (mosi["method"], mosi["profile"], mosi["seeds"]) == ("MMoLRE", "mosi", 3)  # 0.81 beats hard sharing 0.79
    assert mosi["published"].key == "MMML large+context" and mosi["gap"] == pytest.approx(0.81 - 0.9035)
    table = headline.headline_table(runs)
    assert table["dataset"].tolist() == ["CMU-MOSI", "CMU-MOSEI"]
    row = table.iloc[0]
    assert row["ours: value"] == "0.810 ± 0.010 (3 seeds)" and row["gap"] == "−0.0935"
    assert "bc-LSTM audio" in row["ours: features"] and "RoBERTa-large" in row["published: features"]


def test_headline_counts_seeds_not_fold_runs() -> None:
    """Runs over several folds: a seed's value is its mean over the folds, and the count is of seeds."""
    part = pd.DataFrame(
        {
            "method": "m",
            "profile": "p",
            "features": "f",
            "seed": [1, 1, 2, 2],
            "fold": [1, 2, 1, 2],
            "wa": [0.6, 0.8, 0.7, 0.9],
        }
    )
    table = headline._mean_table(part, "wa")
    assert table["seeds"].tolist() == [2] and table["mean"].tolist() == pytest.approx([0.75])
    assert table["std"].tolist() == pytest.approx([np.std([0.7, 0.8], ddof=1)])


def test_results_tables_count_fold_runs_as_seeds_times_folds() -> None:
    """Runs over several folds: the results tables' mean ± std is over every (fold, seed) run, and says so."""
    rows = [(seed, fold, 0.5 + 0.1 * fold + 0.01 * seed) for seed in (1, 2, 3) for fold in (1, 2)]
    folded = pd.DataFrame(
        [
            {"dataset": "d", "profile": "p", "features": "f", "method": "m", "seed": s, "fold": k, "wa": v}
            for s, k, v in rows
        ]
    )
    single = folded[folded["fold"] == 1].assign(profile="q", fold=float("nan"))
    table = tables._ours(pd.concat([folded, single], ignore_index=True), "method", {"wa": "WA"}, split=None)
    assert table.set_index("source")["seeds"].to_dict() == {"ours: p": "3 × 2 folds", "ours: q": 3}
    expected = f"{np.mean([v for *_, v in rows]):.3f} ± {np.std([v for *_, v in rows], ddof=1):.3f}"
    assert table.set_index("source").loc["ours: p", "WA"] == expected
