"""Paired comparisons over seeds and test utterances, verdicts and seed ensembles (mmolre/protocols/paired.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mmolre.protocols.paired import (
    BOOTSTRAP_METRICS,
    add_bootstrap,
    bootstrap_scores,
    compare_models,
    ensemble_table,
    lower_is_better,
    paired_table,
    paired_test,
    score_predictions,
    seed_ensemble,
    verdict,
    wilcoxon_p,
)
from mmolre.report import plots
from mmolre.report.reporter import NoFigure
from mmolre.results import tables
from mmolre.results.recorded import RecordedRuns


def _runs(values: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    """A per-seed run table: {variant: {metric: [value per seed]}}, seeds 1111, 1112, ..."""
    rows = []
    for variant, metrics in values.items():
        for i in range(len(next(iter(metrics.values())))):
            values_i = {m: v[i] for m, v in metrics.items()}
            rows.append({"variant": variant, "seed": 1111 + i, "split": "test", **values_i})
    return pd.DataFrame(rows)


def test_paired_t_test_by_hand():
    # differences -0.01, -0.02, -0.03: mean -0.02, sd 0.01, t = -0.02 / (0.01 / sqrt 3) = -2 sqrt 3 on 2 df;
    # with 2 df the t CDF is 1/2 + t / (2 sqrt(2 + t^2)), so the two-sided p = 1 - |t| / sqrt(2 + t^2)
    test = paired_test([0.60, 0.70, 0.80], [0.61, 0.72, 0.83], "mae")
    t = 2 * math.sqrt(3)
    assert test.seeds == 3 and test.difference == pytest.approx(-0.02)
    assert test.p_t == pytest.approx(1 - t / math.sqrt(2 + t * t))  # 0.0742
    half = 4.302653 * 0.01 / math.sqrt(3)  # t_{0.975, 2} from a table
    assert (test.ci_low, test.ci_high) == pytest.approx((-0.02 - half, -0.02 + half), abs=1e-6)
    assert test.ahead == 3 and test.p_wilcoxon == pytest.approx(0.25)  # 2 of 8 sign patterns as extreme
    assert verdict(test, "mae") == "not distinguishable (p = 0.0742)"


def test_overlapping_spreads_but_a_significant_paired_difference():
    mmolre = [0.60, 0.70, 0.80, 0.65, 0.75]
    hard = [m + d for m, d in zip(mmolre, [0.021, 0.019, 0.022, 0.018, 0.020])]
    runs = _runs({"mmolre": {"mae": mmolre}, "hard_sharing": {"mae": hard}})
    gap = np.mean(hard) - np.mean(mmolre)
    assert gap < min(np.std(mmolre, ddof=1), np.std(hard, ddof=1)) / 3  # mean ± std overlap widely
    row = paired_table(runs).iloc[0]
    assert row["p_t"] < 1e-4 and row["ahead"] == 5 and row["ci_high"] < 0
    assert row["verdict"] == "ahead with paired p < 0.05"
    text = compare_models(runs, {}, {}).verdict
    assert "mae (lower is better): mmolre 0.7000 vs hard_sharing 0.7200, 5 paired seeds: difference −0.0200" in text
    assert text.endswith("ahead on 5 of 5 seeds: **ahead with paired p < 0.05**")


def test_direction_per_metric():
    assert lower_is_better("mae") and lower_is_better("mae_non0") and not lower_is_better("acc2_non0")
    lower_mae = paired_test([0.5, 0.6, 0.7], [0.6, 0.7, 0.85], "mae")
    lower_acc = paired_test([0.5, 0.6, 0.7], [0.6, 0.7, 0.85], "acc2_non0")
    assert lower_mae.ahead == 3 and lower_acc.ahead == 0
    assert verdict(lower_mae, "mae").startswith("ahead") and verdict(lower_acc, "acc2_non0").startswith("behind")
    runs = _runs(
        {
            "mmolre": {"mae": [0.5, 0.6, 0.7], "acc2_non0": [0.8, 0.9, 0.85]},
            "b": {"mae": [0.4, 0.52, 0.61], "acc2_non0": [0.7, 0.82, 0.76]},
        }
    )
    table = paired_table(runs).set_index("metric")
    assert table.loc["mae", "better"] == "lower" and table.loc["acc2_non0", "better"] == "higher"
    assert table.loc["mae", "verdict"] == "behind with paired p < 0.05"
    assert table.loc["acc2_non0", "verdict"] == "ahead with paired p < 0.05"


def test_wilcoxon_with_ties_and_zeros():
    # zero dropped; |d| = 2, 2, 2, 1 -> ranks 3, 3, 3, 1 (mid-ranks); W+ = 9 of 10, mean 5; of the 16 sign patterns
    # those with |W+ - 5| >= 4 are W+ in {0, 1, 9, 10}: 4 of 16
    assert wilcoxon_p([2.0, 2.0, 2.0, -1.0, 0.0]) == pytest.approx(4 / 16)
    assert wilcoxon_p([0.1, 0.2, 0.3, 0.4, 0.5]) == pytest.approx(2 / 32)  # the floor with 5 seeds
    assert math.isnan(wilcoxon_p([0.0, 0.0]))


def test_one_seed_has_nothing_to_pair():
    runs = _runs({"mmolre": {"mae": [0.6]}, "hard_sharing": {"mae": [0.65]}})
    row = paired_table(runs).iloc[0]
    assert row["seeds"] == 1 and math.isnan(row["p_t"]) and row["verdict"] == "nothing to pair (one seed)"
    assert compare_models(runs, {}, {}).verdict.endswith("vs hard_sharing 0.6500: **nothing to pair (one seed)**")
    assert compare_models(runs, {}, {}, reference="absent").verdict.startswith("no verdict: 'absent'")


def _truth_and_outputs(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    sentiment = np.round(rng.uniform(-3, 3, n) * 3) / 3
    emotions = rng.uniform(0, 3, (n, 6)) * (rng.random((n, 6)) < 0.3)
    truth = {"sentiment": sentiment, "emotion": emotions}

    def outputs(noise: float, run: int) -> dict[str, np.ndarray]:
        r = np.random.default_rng(100 * seed + run)
        return {
            "sentiment": sentiment + r.normal(0, noise, n),
            "emotion": np.where(emotions > 0, 1.0, -1.0) + r.normal(0, 2 * noise, (n, 6)),
        }

    return truth, outputs


def test_resampled_metrics_are_the_metrics_module_on_the_identity_resample():
    truth, outputs = _truth_and_outputs()
    run = outputs(0.8, 1)
    n = len(truth["sentiment"])
    resampled = bootstrap_scores(truth, [run], [m for m in BOOTSTRAP_METRICS if m != "wa"], np.arange(n)[None])
    scores = score_predictions(truth, run)
    for metric in resampled.columns:
        assert resampled[metric].iloc[0] == pytest.approx(scores[metric], abs=1e-12), metric
    four = {"emotion4": np.arange(n) % 4}
    logits = {"emotion4": np.random.default_rng(3).normal(size=(n, 4))}
    wa = bootstrap_scores(four, [logits], ["wa"], np.arange(n)[None])["wa"].iloc[0]
    assert wa == pytest.approx(score_predictions(four, logits)["wa"])


def test_bootstrap_is_deterministic_per_seed_and_finds_a_clear_difference():
    truth, outputs = _truth_and_outputs()
    predictions = {("mmolre", s): outputs(0.3, s) for s in (1, 2)} | {("hard", s): outputs(1.2, 10 + s) for s in (1, 2)}
    runs = pd.DataFrame(
        [
            {"variant": label, "seed": s, "split": "test", **score_predictions(truth, out)}
            for (label, s), out in predictions.items()
        ]
    )
    table = paired_table(runs)
    first, again = (add_bootstrap(table, predictions, truth, samples=200, seed=7) for _ in range(2))
    other = add_bootstrap(table, predictions, truth, samples=200, seed=8)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["boot_low"], other["boot_low"])
    mae = first.set_index("metric").loc["mae"]
    assert mae["boot_high"] < 0 and mae["p_bootstrap"] == pytest.approx(2 / 201)  # no resample on the other side
    assert mae["boot_low"] < mae["difference"] < mae["boot_high"]
    assert first["p_bootstrap"].notna().all()  # every verdict metric here is resampled


def test_seed_ensemble_of_identical_predictions_equals_each():
    truth, outputs = _truth_and_outputs()
    run = outputs(0.5, 1)
    ensemble = seed_ensemble([run, run, run])
    for task in run:
        np.testing.assert_allclose(ensemble[task], run[task])
    table = ensemble_table({("mmolre", s): run for s in (1, 2, 3)}, truth, ["mae", "acc2_non0", "emo_wa"])
    assert table["rows"].tolist() == ["mean over seeds", "seed ensemble"] and (table["seeds"] == 3).all()
    assert table.iloc[0][["mae", "acc2_non0", "emo_wa"]].tolist() == pytest.approx(
        table.iloc[1][["mae", "acc2_non0", "emo_wa"]].tolist()
    )
    with pytest.raises(ValueError, match="same tasks"):
        seed_ensemble([run, {"sentiment": run["sentiment"]}])


def test_seed_ensemble_averages_outputs():
    truth = {"sentiment": np.array([1.0, -1.0, 2.0, -2.0])}
    runs = [{"sentiment": np.array([2.0, 0.0, 2.0, -2.0])}, {"sentiment": np.array([0.0, -2.0, 2.0, -2.0])}]
    np.testing.assert_allclose(seed_ensemble(runs)["sentiment"], [1.0, -1.0, 2.0, -2.0])
    table = ensemble_table({("m", i): r for i, r in enumerate(runs)}, truth, ["mae"]).set_index("rows")
    assert table.loc["mean over seeds", "mae"] == pytest.approx(0.5) and table.loc["seed ensemble", "mae"] == 0.0


def test_results_table_pairs_within_a_profile_and_the_figure_has_a_panel_per_metric():
    mmolre = [0.60, 0.70, 0.80]
    frame = _runs({"mmolre": {"mae": mmolre}, "hard_sharing": {"mae": [m + 0.02 for m in mmolre]}})
    frame = frame.rename(columns={"variant": "model"}).assign(dataset="CMU-MOSI", profile="p", features="f")
    lone = frame[frame["model"] == "mmolre"].assign(profile="q", mae=[0.1, 0.2, 0.3])  # no baseline beside it
    table = tables.paired_results_table(RecordedRuns(pd.concat([frame, lone]), pd.DataFrame(), {}, ["p", "q"]))
    assert len(table) == 1 and table.iloc[0]["comparison"] == "MMoLRE − hard sharing"
    assert table.iloc[0]["difference [95 % CI]"].startswith("−0.0200 [") and table.iloc[0]["seeds ahead"] == "3 of 3"
    assert "results_paired" in tables.headline_tables(RecordedRuns(frame, pd.DataFrame(), {}, ["p"]))
    paired = paired_table(frame, by="model")
    fig = plots.plot_paired_differences(paired)
    assert [ax.get_title() for ax in fig.axes] == ["MAE\n(lower is better)"]
    assert isinstance(plots.plot_paired_differences(pd.DataFrame()), NoFigure)


def test_ablations_pair_every_variant_with_the_base_configuration() -> None:
    from mmolre.models import ModelConfig
    from mmolre.protocols.ablations import ablation_arms, base_arm, paired_ablations
    from mmolre.train import TrainConfig

    model, train = ModelConfig(), TrainConfig(epochs=1)
    arms = ablation_arms("block", model, train, ["old_block", "mlore", "no_task_maps"])
    assert base_arm(arms, model, train) == "mlore"
    assert base_arm(ablation_arms("block", model, train, ["old_block"]), model, train) is None
    assert base_arm(ablation_arms("n_shared", model, train, [1, 4, 8]), model, train) == "n_shared=4"
    rows = [
        {"variant": variant, "seed": seed, "split": "test", "mae": 0.6 + shift + 0.01 * seed}
        for variant, shift in (("mlore", 0.0), ("old_block", 0.05), ("no_task_maps", -0.02))
        for seed in range(3)
    ]
    runs = {"block": pd.DataFrame(rows), "rank": pd.DataFrame(rows).assign(variant="rank=64")}
    grid = {"block": ["old_block", "mlore", "no_task_maps"], "rank": [64]}
    table = paired_ablations(runs, grid, model, train)
    assert set(table["ablation"]) == {"block"}  # the rank grid leaves out the base configuration
    by_baseline = table.set_index("baseline")
    assert by_baseline.loc["old_block", "difference"] == pytest.approx(-0.05)
    assert by_baseline.loc["no_task_maps", "difference"] == pytest.approx(0.02)
    assert (table["reference"] == "mlore").all()


def test_differences_equal_up_to_rounding_have_no_spread():
    """0.3 - 0.1, 0.5 - 0.3 and 0.7 - 0.5 differ in the last bits; the t-test must not read that as a spread."""
    test = paired_test([0.3, 0.5, 0.7], [0.1, 0.3, 0.5], "acc2_non0")
    assert test.p_t == 0.0 and test.ci_low == test.ci_high == test.difference
    assert paired_test([0.3, 0.5, 0.7], [0.3, 0.5, 0.7], "acc2_non0").p_t == 1.0
