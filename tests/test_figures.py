"""Figures a reader can trust (mmolre/report/plots/): points with error bars on a zoomed axis, readable metric
names, legends outside the data, probabilities kept in [0, 1], nothing drawn for a degenerate case."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from mmolre.emotions import EMOTION4_CLASSES
from mmolre.metrics import confusion_counts, metric_label
from mmolre.report import Reporter, plots
from mmolre.report.reporter import NoFigure
from mmolre.results.recorded import RecordedRuns


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _runs(levels: dict[str, float], seeds: int = 3) -> pd.DataFrame:
    rows = [
        {"variant": model, "seed": seed, "split": "test", "acc2_non0": level + 0.01 * seed, "mae": 1.0 - level}
        for model, level in levels.items()
        for seed in range(seeds)
    ]
    return pd.DataFrame(rows)


def _conditions(conditions: tuple[str, ...]) -> pd.DataFrame:
    rows = [
        {"method": method, "seed": seed, "condition": c, "applicable": True, "acc2_non0": 0.7 + 0.01 * seed}
        for method in ("mculora_js", "full_only")
        for seed in range(3)
        for c in (*conditions, "avg")
    ]
    return pd.DataFrame(rows)


def _legend_right_of_axes(fig: Figure) -> bool:
    fig.canvas.draw()
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)
    renderer = fig.canvas.get_renderer()
    data = [ax.get_window_extent(renderer) for ax in fig.axes]
    return bool(legends) and all(
        legend.get_window_extent(renderer).x0 >= max(box.x1 for box in data) - 1
        or legend.get_window_extent(renderer).y1 <= min(box.y0 for box in data) + 1
        for legend in legends
    )


def test_metric_labels_are_readable() -> None:
    assert metric_label("acc2_non0") == "Acc-2 (non-zero)" and metric_label("emo_wa") == "emotion WA"
    assert metric_label("emo_f1_happy") == "happy F1" and metric_label("unknown_column") == "unknown_column"


def test_metric_points_are_dots_on_a_zoomed_axis_with_readable_titles() -> None:
    fig = plots.plot_metric_points(_runs({"mmolre": 0.80, "hard_sharing": 0.78}), ["acc2_non0", "mae"])
    acc, mae = fig.axes
    assert not [p for p in acc.patches if isinstance(p, Rectangle) and p.get_height() > 0.1]  # no bars
    assert acc.get_xlim()[0] > 0.7  # zoomed to the data, not from 0
    assert acc.get_title() == "test Acc-2 (non-zero)\n(higher is better)" and "lower is better" in mae.get_title()
    assert [t.get_text() for t in acc.get_yticklabels()] == ["MMoLRE", "hard sharing"]


def test_more_than_five_metric_panels_wrap_onto_even_rows_with_labels_in_the_first_column() -> None:
    metrics = ["acc2_non0", "mae", "corr", "acc7", "f1_non0", "emo_wa", "emo_f1"]
    runs = _runs({"mmolre": 0.80, "linear_head": 0.78}).assign(**{m: 0.5 for m in metrics[2:]})
    fig = plots.plot_metric_points(runs, metrics)
    assert len(fig.axes) == 7  # no empty eighth panel
    grid = {ax.get_subplotspec().get_geometry()[:2] for ax in fig.axes}
    assert grid == {(2, 4)}  # 7 panels: two rows of at most four, not one row of seven
    labelled = [bool([t for t in ax.get_yticklabels() if t.get_text()]) for ax in fig.axes]
    assert labelled == [True, False, False, False, True, False, False]
    assert plots.plot_metric_points(runs, metrics[:5]).axes[0].get_subplotspec().get_geometry()[:2] == (1, 5)


@pytest.mark.parametrize(
    "drawn",
    [
        lambda: plots.plot_learning_curves(pd.DataFrame({"epoch": [1], "train_loss": [1.0], "valid_loss": [1.0]})),
        lambda: plots.plot_missing_rates(
            pd.DataFrame({"method": ["a"], "seed": [1], "rate": [0.0], "wa": [0.5]}), "wa"
        ),
        lambda: plots.plot_condition_points(_conditions(("t",))),
        lambda: plots.plot_ablation(_runs({"full": 0.8}), ["mae"], title="ablation: blocks"),
        lambda: plots.plot_paired_differences(pd.DataFrame()),
        lambda: plots.plot_emotion_results(RecordedRuns(pd.DataFrame(), pd.DataFrame(), {}, [])),
        lambda: plots.plot_published_comparison(
            pd.DataFrame({"dataset": ["IEMOCAP"], "method": ["x"], "kind": ["ours"], "acc2_non0": [np.nan]})
        ),
    ],
    ids=["one-epoch", "one-rate", "one-condition", "one-setting", "no-pairs", "no-emotions", "empty-panel"],
)
def test_degenerate_cases_draw_nothing_and_say_why(drawn, tmp_path: Path, monkeypatch, capsys) -> None:
    result = drawn()
    assert isinstance(result, NoFigure) and len(result.reason) > 20
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path))
    Reporter("quick").figure(result, "nothing")
    assert not (tmp_path / "quick" / "figures" / "nothing.png").exists()
    assert capsys.readouterr().out == f"No figure nothing: {result.reason}\n"


def test_an_ablation_figure_carries_its_title() -> None:
    """The notebook titles each ablation's figure through the plot (a single setting has no figure to title)."""
    fig = plots.plot_ablation(_runs({"blocks=1": 0.8, "blocks=2": 0.7}), ["mae", "acc2_non0"], title="ablation: blocks")
    assert isinstance(fig, Figure) and fig._suptitle is not None and fig._suptitle.get_text() == "ablation: blocks"
    plt.close(fig)


def test_two_conditions_are_drawn_with_the_legend_outside() -> None:
    fig = plots.plot_condition_points(_conditions(("t", "a")))
    assert isinstance(fig, Figure) and _legend_right_of_axes(fig)
    assert fig.axes[0].get_ylabel() == "Acc-2 (non-zero)"


def test_probability_bands_stay_in_zero_one() -> None:
    rows = [
        {"seed": s, "epoch": e, "combination": c, "probability": p}
        for s, spread in enumerate((-0.3, 0.3))
        for e in range(3)
        for c, p in (("t", min(1.0, 0.8 + spread)), ("a", max(0.0, 0.1 + spread)))
    ]
    fig = plots.plot_sampling_probabilities(pd.DataFrame(rows))
    bands = [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2
    for band in bands:
        ys = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
        assert ys.min() >= 0.0 and ys.max() <= 1.0
    assert _legend_right_of_axes(fig)


def test_published_gaps_are_against_the_strongest_published_row() -> None:
    frame = pd.DataFrame(
        [
            {"dataset": "CMU-MOSI", "method": "A", "kind": "published", "acc2_non0": 0.85, "mae": 0.70},
            {"dataset": "CMU-MOSI", "method": "B", "kind": "published", "acc2_non0": 0.88, "mae": 0.64},
            {"dataset": "CMU-MOSI", "method": "ours", "kind": "ours", "acc2_non0": 0.80, "mae": 0.90},
            {"dataset": "IEMOCAP", "method": "ours", "kind": "ours", "acc2_non0": 0.70, "mae": 0.50},
        ]
    )
    gaps = plots.published_gaps(frame, "acc2_non0")
    assert gaps[["dataset", "published_method"]].values.tolist() == [["CMU-MOSI", "B"]]
    assert gaps["gap"].iloc[0] == pytest.approx(-0.08)
    assert plots.published_gaps(frame, "mae")["gap"].iloc[0] == pytest.approx(0.26)  # lowest MAE is strongest
    fig = plots.plot_published_gaps(frame, "acc2_non0")
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["CMU-MOSI: against B (0.8800)"]


def test_confusion_matrix_is_drawn_from_counts_with_row_shares() -> None:
    labels = np.array([0, 0, 1, 3])
    logits = np.eye(4)[[0, 1, 1, 2]]
    counts = confusion_counts(labels, logits)
    assert counts[0].tolist() == [1, 1, 0, 0] and counts[3].tolist() == [0, 0, 1, 0] and counts.sum() == 4
    with pytest.raises(ValueError, match="logits must have shape"):
        confusion_counts(labels, logits[:3])
    fig = plots.plot_confusion_matrix(counts + counts)  # pooled over two seeds by summing their counts
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts[:2] == ["0.50\n(2)", "0.50\n(2)"]  # row 1 (happy): share of the true class, then the count
    assert texts[12:] == ["0.00\n(0)", "0.00\n(0)", "1.00\n(2)", "0.00\n(0)"]  # angry taken for neutral
    assert [t.get_text() for t in ax.get_yticklabels()] == list(EMOTION4_CLASSES)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    assert ax.get_title() == "Confusion matrix (test, 8 utterances)"
    # a labelled frame (pooled_confusion's form) gives its own class names, in its order
    frame = pd.DataFrame([[3, 1], [0, 4]], index=["yes", "no"], columns=["yes", "no"])
    ax = plots.plot_confusion_matrix(frame, title="pooled").axes[0]
    assert [t.get_text() for t in ax.texts] == ["0.75\n(3)", "0.25\n(1)", "0.00\n(0)", "1.00\n(4)"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["yes", "no"] and ax.get_title() == "pooled"
    with pytest.raises(ValueError, match="same classes"):
        plots.plot_confusion_matrix(frame[["no", "yes"]])
    with pytest.raises(ValueError, match="4 x 4"):
        plots.plot_confusion_matrix(np.ones((3, 3)))
    assert isinstance(plots.plot_confusion_matrix(np.zeros((4, 4))), NoFigure)


def test_predicted_vs_true_has_a_panel_per_model_with_its_error() -> None:
    truth = np.array([-2.0, -1.0, 0.5, 2.0])
    fig = plots.plot_predicted_vs_true(truth, {"MMoLRE": truth + 0.5, "hard sharing": -truth})
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == ["MMoLRE", "hard sharing"]
    assert "MAE 0.500, Corr 1.000" in fig.axes[0].get_title()
