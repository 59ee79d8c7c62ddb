"""DPFT's per-modality probability over the epochs beside uniform draws: the quantities, their range and the figure."""

from __future__ import annotations

import pandas as pd
import pytest

from mmolre.modalities import CONDITIONS
from mmolre.protocols.dpft_trajectory import (
    UNIFORM,
    modality_trajectories,
    movement_sentence,
    trajectory_range,
)
from mmolre.report.plots import plot_modality_trajectories


def _history(method: str, seed: int, rows: list[dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"method": method, "rank": 4, "seed": seed, "epoch": e, **r} for e, r in enumerate(rows)])


UNIFORM_ROW = dict.fromkeys(CONDITIONS, 1 / 7)
SHIFTED = {"a": 0.0, "t": 0.4, "v": 0.0, "at": 0.2, "av": 0.0, "tv": 0.2, "atv": 0.2}  # text always kept


def _sampling() -> pd.DataFrame:
    keep = {"p_text": 0.5, "p_audio": 0.5, "p_vision": 0.5}
    moved = {"p_text": 0.6, "p_audio": 0.45, "p_vision": 0.4}
    return pd.concat(
        [
            _history("mculora_js", 1, [{**UNIFORM_ROW, **keep}, {**UNIFORM_ROW, **keep}, {**SHIFTED, **moved}]),
            _history("mculora_js", 2, [{**UNIFORM_ROW, **keep}] * 3),
            _history("mcla_uniform", 1, [UNIFORM_ROW] * 3),
            _history("dropout_uniform", 1, [UNIFORM_ROW] * 3),
        ],
        ignore_index=True,
    )


def test_presence_is_the_sum_over_combinations_and_uniform_is_drawn_once() -> None:
    frame = modality_trajectories(_sampling())
    assert set(frame["method"]) == {"mculora_js", UNIFORM} and set(frame["quantity"]) == {"presence", "keep"}
    presence = frame[(frame["quantity"] == "presence") & (frame["epoch"] == 0)]
    assert presence["probability"].tolist() == pytest.approx([4 / 7] * len(presence))
    last = frame[(frame["method"] == "mculora_js") & (frame["seed"] == 1) & (frame["epoch"] == 2)]
    by = last.set_index(["quantity", "modality"])["probability"]
    assert by[("presence", "text")] == pytest.approx(1.0) and by[("presence", "audio")] == pytest.approx(0.4)
    assert by[("keep", "vision")] == pytest.approx(0.4)
    assert frame[frame["method"] == UNIFORM]["quantity"].eq("presence").all()


def test_range_and_sentence_say_how_far_it_moved() -> None:
    ranges = trajectory_range(modality_trajectories(_sampling())).set_index(["method", "quantity", "modality"])
    text = ranges.loc[("mculora_js", "presence", "text")]
    assert (text["start"], text["min"], text["max"]) == pytest.approx((4 / 7, 4 / 7, 1.0))
    assert text["final"] == pytest.approx((1.0 + 4 / 7) / 2) and text["moved"] == pytest.approx(3 / 7)
    assert ranges.loc[(UNIFORM, "presence", "audio"), "moved"] == pytest.approx(0.0)
    sentence = movement_sentence(ranges.reset_index())
    assert "**mculora_js** over 2 epochs: text 0.571 -> [0.571, 1.000] (moved 0.429)" in sentence
    assert UNIFORM not in sentence
    uniform_only = trajectory_range(modality_trajectories(_sampling().query("method == 'mcla_uniform'")))
    assert movement_sentence(uniform_only).startswith("No DPFT method")


def test_movement_by_the_selected_epoch_counts_only_the_draws_that_trained_the_reported_model() -> None:
    selected = _sampling().assign(best_epoch=lambda f: f["seed"].map({1: 2, 2: 1}))  # seed 1 moved at epoch 2
    ranges = trajectory_range(modality_trajectories(selected)).set_index(["method", "quantity", "modality"])
    text = ranges.loc[("mculora_js", "presence", "text")]
    assert text["moved"] == pytest.approx(3 / 7) and text["moved_by_selection"] == pytest.approx(0.0)
    assert (text["selected_min"], text["selected_max"]) == (1, 2)
    sentence = movement_sentence(ranges.reset_index())
    assert (
        "the models selected on valid come from epochs 1-2, and the probabilities that drew their batches " in sentence
    )
    assert "moved at most 0.000" in sentence
    later = trajectory_range(modality_trajectories(selected.assign(best_epoch=3)))
    assert later.set_index(["method", "quantity", "modality"]).loc[
        ("mculora_js", "presence", "text"), "moved_by_selection"
    ] == pytest.approx(3 / 7)  # the epoch-2 update drew epoch 3's batches
    assert trajectory_range(modality_trajectories(_sampling()))["moved_by_selection"].isna().all()


def test_figure_has_a_panel_per_modality_with_the_uniform_line_dashed() -> None:
    fig = plot_modality_trajectories(modality_trajectories(_sampling()))
    assert [ax.get_title() for ax in fig.axes] == ["text", "audio", "vision"]
    styles = {line.get_label(): line.get_linestyle() for line in fig.axes[0].get_lines()}
    assert styles == {"mculora_js": "-", UNIFORM: "--"}
    selected = _sampling().assign(best_epoch=lambda f: f["seed"].map({1: 2, 2: 1}))
    marked = plot_modality_trajectories(modality_trajectories(selected))
    dots = [line for line in marked.axes[0].get_lines() if line.get_marker() == "o"]
    assert len(dots) == 1 and list(dots[0].get_xdata()) == [0, 1]  # rows 1 and 0 drew epochs 2 and 1
    assert list(dots[0].get_ydata()) == pytest.approx([4 / 7, 4 / 7])  # not the epoch-2 update that drew nothing
