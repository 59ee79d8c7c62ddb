"""DPFT sampling, combination hooks, the incomplete-modality protocol and the MCULoRA-vs-dropout done criterion."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from mmolre.data import load_dataset
from mmolre.data.dataset import MultimodalDataset, SplitData
from mmolre.modalities import CONDITIONS, MODALITIES, available_combinations
from mmolre.models import MCULoRAConfig, build_model
from mmolre.protocols import driver
from mmolre.protocols.combination_sampler import UniformSampler, combination_hook
from mmolre.protocols.dpft import ModalityJSSampler, accuracy_rule_probabilities, js_rule_step
from mmolre.protocols.driver import Arm, run_experiment
from mmolre.protocols.fusion_js import project_to_band
from mmolre.protocols.incomplete import (
    PAIRED_BASELINES,
    dpft_movement_text,
    margin,
    mculora_paired,
    mculora_paired_text,
    mculora_verdict,
    sampling_long,
)
from mmolre.protocols.incomplete_runs import (
    IncompleteConfig,
    conditions_split,
    evaluate_conditions,
    evaluate_missing_rates,
    method_arm,
    random_missing_mask,
    run_incomplete,
)
from mmolre.protocols.paired import wilcoxon_p
from mmolre.protocols.samplers import make_sampler
from mmolre.train import TrainConfig


@pytest.fixture(scope="module")
def tri() -> MultimodalDataset:
    return load_dataset(
        "synthetic",
        card="mosi",
        n_train=64,
        n_valid=32,
        n_test=40,
        seq_len=2,
        dims={"text": 6, "audio": 4, "vision": 5},
        seed=3,
    )


def drop_vision(data: MultimodalDataset) -> MultimodalDataset:
    """The same dataset without vision features (a text + audio dataset, like MOSI with real audio)."""
    splits = {}
    for name, split in data.splits.items():
        mask = split.mask.clone()
        mask[:, MODALITIES.index("vision")] = False
        features = {m: v for m, v in split.features.items() if m != "vision"}
        splits[name] = SplitData(features, mask, split.sentiment, split.emotions, split.ids)
    return MultimodalDataset("bimodal", splits, (), "test data without vision")


def small_model(data: MultimodalDataset, rank: int = 2) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("mculora", data.dims, ("sentiment",), MCULoRAConfig(hidden=8, depth=1, rank=rank, mlp_rank=rank))


def test_available_combinations() -> None:
    assert available_combinations(MODALITIES) == CONDITIONS
    assert available_combinations(("text", "audio")) == ("a", "t", "at")


def test_project_to_band_keeps_band_and_sum() -> None:
    p = torch.tensor([0.9, 0.05, 0.03, 0.02], dtype=torch.float64)
    q = project_to_band(p, 0.1, 0.4)
    assert float(q.sum()) == pytest.approx(1.0)
    assert (q >= 0.1 - 1e-9).all() and (q <= 0.4 + 1e-9).all()


START = {"text": 0.5, "audio": 0.5, "vision": 0.5}


def test_js_rule_golden_direction_step_sizes_and_ties() -> None:
    # Changes rise in the official order atv, at, av, tv, a, t, v, so the i-th gets 0.003 * 2**-i, + for its
    # modalities, - for the others. audio: +1 +1/2 +1/4 -1/8 +1/16 -1/32 -1/64 = 1.640625 -> 0.5 + 0.003 * that;
    # text: +1 +1/2 -1/4 +1/8 -1/16 +1/32 -1/64 = 1.328125; vision: +1 -1/2 +1/4 +1/8 -1/16 -1/32 +1/64 = 0.796875.
    expected = {"text": 0.503984375, "audio": 0.504921875, "vision": 0.502390625}
    change = {"atv": 0.0, "at": 0.1, "av": 0.2, "tv": 0.3, "a": 0.4, "t": 0.5, "v": 0.6}
    assert js_rule_step(START, change) == pytest.approx(expected, abs=1e-12)
    # all tied: the official order decides, so the same result
    assert js_rule_step(START, dict.fromkeys(change, 0.1)) == pytest.approx(expected, abs=1e-12)
    # two modalities (a, t, at): changes t < a < at -> text +1 -1/2 +1/4, audio -1 +1/2 +1/4
    two = js_rule_step({"text": 0.5, "audio": 0.5}, {"a": 0.2, "t": 0.1, "at": 0.3})
    assert two == pytest.approx({"text": 0.50225, "audio": 0.49925}, abs=1e-12)


def test_js_rule_golden_clips_after_every_combination() -> None:
    # order a, t, v, at, av, tv, atv. Step 1 ("a", 0.003): audio 0.602 -> 0.6, text 0.398 -> 0.4, vision 0.497;
    # then -0.0015/+0.0015/-0.0015 ("t"), -+ 0.00075 ("v"), ... : audio 0.598265625, text 0.401078125,
    # vision 0.496203125. Clipping only at the end would give audio 0.6, text 0.4.
    p = js_rule_step({"text": 0.401, "audio": 0.599, "vision": 0.5}, {c: float(i) for i, c in enumerate(CONDITIONS)})
    assert p == pytest.approx({"text": 0.401078125, "audio": 0.598265625, "vision": 0.496203125}, abs=1e-12)
    for _ in range(200):  # pushed the same way again and again (vision's net step is -0.0038): kept in the band
        p = js_rule_step(p, {c: float(i) for i, c in enumerate(CONDITIONS)})
        assert all(0.4 <= value <= 0.6 for value in p.values())
    assert 0.4 <= p["vision"] < 0.4 + 0.003


def test_js_sampler_combination_probabilities_and_draws() -> None:
    sampler = ModalityJSSampler(MODALITIES)
    assert torch.allclose(sampler.probabilities, torch.full((7,), 1 / 7, dtype=torch.float64))
    sampler.p = {"text": 0.6, "audio": 0.4, "vision": 0.5}
    # P(kept set) = prod p or (1 - p); a: .4*.4*.5 = .08, t .18, v .12, at .12, av .08, tv .18, atv .12; / 0.88
    expected = torch.tensor([0.08, 0.18, 0.12, 0.12, 0.08, 0.18, 0.12], dtype=torch.float64) / 0.88
    torch.testing.assert_close(sampler.implied_probabilities(), expected)
    generator = torch.Generator().manual_seed(0)
    draws = [sampler.sample(generator) for _ in range(3000)]
    frequency = torch.tensor([draws.count(c) / len(draws) for c in CONDITIONS], dtype=torch.float64)
    assert (frequency - expected).abs().max() < 0.03  # the empty draw is redrawn, never returned


def test_accuracy_rule_golden() -> None:
    # sum 0.04; scores 0.5, 0.75, 0.75; q = 0.8 (1 + tan(s - 1)) = 0.362958, 0.595727, 0.595727; / 1.554411
    assert accuracy_rule_probabilities([0.02, 0.01, 0.01]).tolist() == pytest.approx(
        [0.233502, 0.383249, 0.383249], abs=1e-6
    )  # the combination that gained most is drawn least
    # sum 0.04; scores 0 (q = -0.446 -> 0), 1.25, 1, 0.75: q 1.004274, 0.8, 0.595726 (sum 2.4)
    assert accuracy_rule_probabilities([0.04, -0.01, 0.0, 0.01]).tolist() == pytest.approx(
        [0.0, 0.418447, 1 / 3, 0.248219], abs=1e-6
    )
    # sum 0.01; scores 0, 0 (-> q 0), 2 capped at 1.5 (q 1.237042), 1 (q 0.8)
    assert accuracy_rule_probabilities([0.01, 0.01, -0.01, 0.0]).tolist() == pytest.approx(
        [0.0, 0.0, 0.607274, 0.392726], abs=1e-6
    )
    assert accuracy_rule_probabilities([0.01, -0.01, 0.0]).tolist() == pytest.approx([1 / 3] * 3)  # sum 0
    assert accuracy_rule_probabilities([0.01, 0.01]).tolist() == pytest.approx([0.5, 0.5])  # ties
    # as published, tan past its pole: score -2 < 1 - pi/2 gives tan(-3) = 0.142547 > 0, q = 0.914037
    assert accuracy_rule_probabilities([0.03, -0.02, 0.0]).tolist() == pytest.approx(
        [0.309730, 0.419183, 0.271087], abs=1e-6
    )


@pytest.mark.parametrize("kind", ["dpft_js", "dpft_acc", "dpft_fusion_js"])
def test_dpft_rules_use_the_valid_split_only(
    kind: str, tri: MultimodalDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    sampler = make_sampler(kind, tri.modalities)
    model = small_model(tri)
    splits_seen: list[str] = []
    original = MultimodalDataset.loader

    def spy(self: MultimodalDataset, split: str, *args: object, **kwargs: object):
        splits_seen.append(split)
        return original(self, split, *args, **kwargs)

    monkeypatch.setattr(MultimodalDataset, "loader", spy)
    for _ in range(3):
        with torch.no_grad():  # move the weights so that the statistics change between epochs
            for parameter in model.parameters():
                parameter.add_(0.05 * torch.randn_like(parameter))
        sampler.update(model, tri)
        assert float(sampler.probabilities.sum()) == pytest.approx(1.0)
    assert set(splits_seen) == {"valid"}
    history = sampler.history
    assert list(history.columns[: 1 + len(CONDITIONS)]) == ["epoch", *CONDITIONS] and len(history) == 4
    assert (history[list(CONDITIONS)].sum(axis=1) - 1.0).abs().max() < 1e-9
    if kind == "dpft_js":
        assert list(history.columns[-3:]) == ["p_text", "p_audio", "p_vision"]
        assert history[["p_text", "p_audio", "p_vision"]].stack().between(0.4, 0.6).all()
        assert not torch.allclose(sampler.probabilities, torch.full((7,), 1 / 7, dtype=torch.float64))
    if kind == "dpft_fusion_js":
        assert (sampler.probabilities >= sampler.p_min - 1e-9).all()


def test_sampler_errors(tri: MultimodalDataset) -> None:
    with pytest.raises(ValueError, match="unknown combination sampler"):
        make_sampler("dpft", tri.modalities)
    with pytest.raises(ValueError, match="unknown option"):
        make_sampler("dpft_js", tri.modalities, band=(0.5, 2.0))
    with pytest.raises(ValueError, match="clip"):
        make_sampler("dpft_js", tri.modalities, clip=(0.6, 0.7))
    inline = build_model("mcla_inline", tri.dims, ("sentiment",), MCULoRAConfig(hidden=8, depth=1))
    with pytest.raises(ValueError, match="combination streams"):
        make_sampler("dpft_js", tri.modalities).update(inline, tri)
    with pytest.raises(ValueError, match="sampler_options"):
        run_incomplete(["mcla_uniform"], tri, IncompleteConfig(sampler_options={"dpft": {}}), seeds=(1,))


def test_uniform_sampler_and_hook(tri: MultimodalDataset) -> None:
    sampler = UniformSampler(("text", "audio"))
    generator = torch.Generator().manual_seed(0)
    drawn = {sampler.sample(generator) for _ in range(200)}
    assert drawn == {"a", "t", "at"}
    hook = combination_hook(sampler)
    batch = next(iter(tri.loader("train", batch_size=8)))
    for _ in range(20):
        out = hook(batch, 1, generator)
        for column, m in enumerate(MODALITIES):
            if not out["mask"][:, column].any():
                assert torch.count_nonzero(out[m]) == 0
        assert not out["mask"][:, MODALITIES.index("vision")].any()  # vision is never drawn here
    sampler.update(None, tri)
    assert (sampler.history[["a", "t", "at"]] == 1 / 3).all().all()


def test_conditions_table_tri_and_bimodal(tri: MultimodalDataset) -> None:
    table = evaluate_conditions(small_model(tri), tri)
    assert list(table["condition"]) == [*CONDITIONS, "avg"]
    assert table["applicable"].all() and table["acc2_non0"].notna().all()
    assert table.iloc[-1]["mae"] == pytest.approx(table.iloc[:-1]["mae"].mean())

    bi = drop_vision(tri)
    table = evaluate_conditions(small_model(bi), bi)
    ok = table.set_index("condition")["applicable"]
    assert [c for c in CONDITIONS if ok[c]] == ["a", "t", "at"]
    assert table.loc[~table["applicable"], "mae"].isna().all()
    assert table.iloc[-1]["mae"] == pytest.approx(table[table["condition"].isin(["a", "t", "at"])]["mae"].mean())


def test_random_missing_mask_is_seeded_and_keeps_one() -> None:
    mask = torch.ones(500, 3, dtype=torch.bool)
    mask[:100, 2] = False
    a = random_missing_mask(mask, 0.5, torch.Generator().manual_seed(1))
    b = random_missing_mask(mask, 0.5, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert a.any(dim=1).all() and not (a & ~mask).any()
    assert 0.3 < 1 - a[100:].float().mean() < 0.5  # about 0.5 dropped, minus the restored ones
    assert torch.equal(random_missing_mask(mask, 0.0, torch.Generator()), mask)


def test_missing_rates_and_condition_split(tri: MultimodalDataset) -> None:
    model = small_model(tri)
    rates = evaluate_missing_rates(model, tri, rates=(0.0, 0.5), seed=0)
    assert list(rates["rate"]) == [0.0, 0.5] and rates["mae"].notna().all()
    replicated = conditions_split(tri)
    assert replicated.sizes()["valid"] == 7 * tri.sizes()["valid"]
    assert replicated.splits["test"] is tri.splits["test"]


def test_run_incomplete_shapes(tri: MultimodalDataset) -> None:
    config = IncompleteConfig(
        model=MCULoRAConfig(hidden=8, depth=1), train=TrainConfig(epochs=1, batch_size=32), rates=(0.0, 0.5)
    )
    results = run_incomplete(["mculora_js", "full_only"], drop_vision(tri), config, seeds=(1111,))
    assert set(results.conditions["method"]) == {"mculora_js", "full_only"}
    assert set(results.runs["rank"]) == {0, config.model.rank}
    assert list(results.sampling.columns) == [
        *("method", "rank", "seed", "epoch", "a", "t", "at", "p_text", "p_audio", "best_epoch")
    ]
    selected = results.runs.set_index("method").loc["mculora_js", "best_epoch"]
    assert set(results.sampling["best_epoch"]) == {selected}  # the epoch whose model the tables report
    assert set(sampling_long(results.sampling, "modality")["modality"]) == {"text", "audio"}
    assert set(sampling_long(results.sampling)["combination"]) == {"a", "t", "at"}
    with pytest.raises(ValueError, match="unknown incomplete-modality method"):
        run_incomplete(["nope"], tri, config, seeds=(1,))


def test_modality_dropout_is_refused_for_sampled_arms_before_anything_trains(tri, monkeypatch) -> None:
    trained = []
    monkeypatch.setattr(driver, "train_model", lambda *args, **kwargs: trained.append(args))
    dropout = TrainConfig(epochs=1, batch_size=32, modality_dropout=0.3)
    model = MCULoRAConfig(hidden=8, depth=1)
    arms = [
        Arm("plain", "mculora_plain", model, dropout),  # no sampler: modality dropout is this arm's own sampling
        Arm("drawn", "mculora", model, dropout, partial(make_sampler, "uniform")),
    ]
    with pytest.raises(ValueError, match=r"arm 'drawn': its sampler .* train_config.modality_dropout = 0\.3"):
        run_experiment(arms, tri, seeds=(1,))
    assert trained == []
    config = IncompleteConfig(model=model, train=dropout)
    for method in ("mculora_js", "mcla_uniform", "full_only"):  # full_only too: it trains on full modalities only
        with pytest.raises(ValueError, match=f"method '{method}'.*modality_dropout = 0\\.3"):
            method_arm(method, config)
    assert trained == []


def test_mculora_beats_uniform_modality_dropout_on_the_condition_average() -> None:
    """Done criterion on synthetic data where the best use of a modality depends on which others are present.

    Every modality sees every latent factor (redundant views) with clearly different signal (text 2.0, audio 1.4,
    vision 1.0), so the right weighting of each view changes with the combination: per-combination LoRAs can
    learn it, a single shared backbone has to compromise. 800 / 100 / 150 samples, sequence length 4.
    Measured with exactly this configuration (= params/synthetic_planted.yaml, section 06), MCULoRA with the April
    DPFT rule (decoupled streams) against dropout_uniform on the 7-condition average, seeds 1111..1115: MAE
    0.612 / 0.673, 0.666 / 0.687, 0.619 / 0.655, 0.633 / 0.668, 0.594 / 0.636 (every seed wins; gap mean 0.039);
    Acc-2 non0 +0.015, -0.005, +0.020, +0.003, +0.001 (no robust gain, so only non-inferiority is asserted).
    MCLA without DPFT (mcla_uniform) does as well (MAE 0.626 ± 0.032 vs 0.625 ± 0.027): the gain over dropout
    comes from the combination adapters, not from DPFT.
    """
    every = ("shared", "sent", "emo")
    data = load_dataset(
        "synthetic",
        n_train=800,
        n_valid=100,
        n_test=150,
        seq_len=4,
        seed=0,
        sees={m: every for m in MODALITIES},
        strength={"text": 2.0, "audio": 1.4, "vision": 1.0},
    )
    config = IncompleteConfig(
        model=MCULoRAConfig(  # our earlier block, as the profile sets it
            hidden=32,
            depth=1,
            dropout=0.1,
            pre_norm=True,
            attention_projection=True,
            attention_dropout=0.1,
            fusion_norm=True,
            residual="sequential",
        ),
        train=TrainConfig(epochs=10, batch_size=32, lr=3e-3, patience=0, num_threads=1),
        rates=(0.0,),
    )
    results = run_incomplete(["mculora_js", "dropout_uniform"], data, config, seeds=(1111, 1112))
    avg = results.conditions[results.conditions["condition"] == "avg"].pivot(
        index="seed", columns="method", values="mae"
    )
    gap = avg["dropout_uniform"] - avg["mculora_js"]
    assert (gap > 0).all(), f"MCULoRA must win on every seed, MAE gaps {gap.round(3).to_dict()}"
    assert margin(results.conditions, "mculora_js", "dropout_uniform", "mae") > 0.02
    assert margin(results.conditions, "mculora_js", "dropout_uniform", "acc2_non0") > -0.01


def test_mculora_verdict_compares_with_the_best_baseline_per_seed() -> None:
    rows = []
    for seed, (ours, dropout, full) in zip((1, 2, 3), ((0.70, 0.60, 0.68), (0.66, 0.61, 0.69), (0.72, 0.62, 0.70))):
        for method, value in (("mculora_js", ours), ("dropout_uniform", dropout), ("full_only", full)):
            rows.append({"method": method, "seed": seed, "condition": "avg", "applicable": True, "acc2_non0": value})
            rows.append({"method": method, "seed": seed, "condition": "t", "applicable": True, "acc2_non0": 0.8})
            rows.append({"method": method, "seed": seed, "condition": "v", "applicable": False, "acc2_non0": None})
    table, sentence = mculora_verdict(pd.DataFrame(rows), "acc2_non0")
    row = table.iloc[0]
    assert row["best baseline"] == "full_only" and row["seeds ahead"] == "2 of 3"
    assert row["difference"] == pytest.approx((0.02 - 0.03 + 0.02) / 3, abs=1e-4)
    assert "ahead of the best baseline **full_only**" in sentence and "t 0.8000." in sentence and " v " not in sentence
    empty, message = mculora_verdict(pd.DataFrame(rows).query("method != 'mculora_js'"), "acc2_non0")
    assert empty.empty and message.startswith("no comparison")


LEVELS = {  # acc2_non0 on the avg row per seed 1..5
    "mculora_js": (0.70, 0.72, 0.69, 0.71, 0.73),
    "mculora_acc": (0.69, 0.70, 0.70, 0.68, 0.71),
    "dropout_uniform": (0.65, 0.66, 0.64, 0.66, 0.67),  # behind both by 3-7 points on every seed
    "full_only": (0.74, 0.75, 0.73, 0.74, 0.76),  # ahead of both
    "mcla_uniform": (0.71, 0.70, 0.70, 0.70, 0.72),  # mixed signs: a tie
    "mmolre_dropout": (0.50, 0.50, 0.50, 0.50, 0.50),  # not a baseline of the paired verdict
}


def _avg_rows(levels: dict[str, tuple[float, ...]], fold: int | None = None, shift: float = 0.0) -> list[dict]:
    rows = []
    for method, values in levels.items():
        for seed, value in enumerate(values, start=1):
            run = {"method": method, "rank": 0, **({} if fold is None else {"fold": fold}), "seed": seed}
            rows.append({**run, "condition": "avg", "applicable": True, "acc2_non0": value + shift})
            rows.append({**run, "condition": "t", "applicable": True, "acc2_non0": 0.9})
            rows.append({**run, "condition": "v", "applicable": False, "acc2_non0": np.nan})
    return rows


def _ranges(moved: float, modalities: tuple[str, ...] = ("text", "audio", "vision")) -> pd.DataFrame:
    """A dpft_modality_range table: mculora_js's presence moved by ``moved``, mculora_acc's not at all."""
    rows = []
    for method, shift in (("mculora_js", moved), ("mculora_acc", 0.0)):
        for m in modalities:
            span = {"start": 4 / 7, "min": 4 / 7, "max": 4 / 7 + shift, "final": 4 / 7, "moved": shift}
            rows.append({"method": method, "quantity": "presence", "modality": m, **span, "epochs": 12})
    return pd.DataFrame(rows)


def test_paired_verdict_pairs_each_mculora_method_with_each_baseline_per_seed() -> None:
    table = mculora_paired(pd.DataFrame(_avg_rows(LEVELS)), "acc2_non0")
    baselines = [b for b in PAIRED_BASELINES if b in LEVELS]
    assert table[["reference", "baseline"]].values.tolist() == [
        [m, b] for m in ("mculora_js", "mculora_acc") for b in baselines
    ]
    assert set(table["seeds"]) == {5} and set(table["paired_on"]) == {"seed"}
    row = table.set_index(["reference", "baseline"]).loc[("mculora_js", "mcla_uniform")]
    ours, theirs = np.array(LEVELS["mculora_js"]), np.array(LEVELS["mcla_uniform"])
    assert row["difference"] == pytest.approx((ours - theirs).mean())
    assert row["p_t"] == pytest.approx(stats.ttest_rel(ours, theirs).pvalue)
    assert row["p_wilcoxon"] == pytest.approx(wilcoxon_p(ours - theirs))  # the one owner of paired statistics
    half = stats.t.ppf(0.975, 4) * (ours - theirs).std(ddof=1) / np.sqrt(5)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        ((ours - theirs).mean() - half, (ours - theirs).mean() + half)
    )
    verdicts = table.set_index(["reference", "baseline"])["verdict"]
    assert verdicts[("mculora_js", "dropout_uniform")] == "ahead with paired p < 0.05"
    assert verdicts[("mculora_acc", "full_only")] == "behind with paired p < 0.05"
    assert verdicts[("mculora_js", "mcla_uniform")].startswith("not distinguishable")
    text = mculora_paired_text(table, "acc2_non0", _ranges(0.012))
    assert "\n" not in text and "one pair per seed, 5 pairs" in text
    assert "**mculora_js** is ahead of dropout_uniform (difference +0.0540, 95 % CI [" in text
    assert "; behind full_only (difference -0.0340, 95 % CI [-0.0408, -0.0272], t p = 0.000156" in text
    assert "; not distinguishable from mcla_uniform (" in text
    assert "the exact Wilcoxon p cannot fall below 0.0625" in text
    assert "DPFT's probabilities barely moved for mculora_js and mculora_acc" in text and "at most 0.012" in text
    assert "mculora_js and mculora_acc against mcla_uniform (the same model with uniform draws) are expected" in text


def test_paired_verdict_over_folds_pairs_each_seeds_fold_mean() -> None:
    rows = _avg_rows(LEVELS, fold=1) + _avg_rows(LEVELS, fold=2, shift=0.1)
    table = mculora_paired(pd.DataFrame(rows), "acc2_non0")
    assert set(table["seeds"]) == {5} and set(table["paired_on"]) == {"seed (mean over 2 folds)"}
    row = table.set_index(["reference", "baseline"]).loc[("mculora_acc", "full_only")]
    assert row["reference_mean"] == pytest.approx(np.mean(LEVELS["mculora_acc"]) + 0.05)
    one = pd.DataFrame([r for r in rows if not (r["fold"] == 2 and r["seed"] == 3 and r["method"] == "full_only")])
    with pytest.raises(ValueError, match="same folds"):
        mculora_paired(one, "acc2_non0")
    ranks = pd.DataFrame(rows + [{**r, "rank": 8} for r in rows if r["method"] == "mculora_js"])
    with pytest.raises(ValueError, match="several runs"):
        mculora_paired(ranks, "acc2_non0")


def test_paired_verdict_with_one_seed_says_there_is_nothing_to_pair() -> None:
    single = {method: values[:1] for method, values in LEVELS.items()}
    table = mculora_paired(pd.DataFrame(_avg_rows(single, fold=1) + _avg_rows(single, fold=2)), "acc2_non0")
    assert set(table["verdict"]) == {"nothing to pair (one seed)"} and table["p_t"].isna().all()
    text = mculora_paired_text(table, "acc2_non0", _ranges(0.0))
    assert text.startswith("**Nothing to pair**") and "folds share training sessions" in text
    assert "DPFT's probabilities barely moved" in text
    alone = pd.DataFrame(_avg_rows({"mculora_js": (0.7, 0.7), "mmolre_dropout": (0.5, 0.6)}))
    assert mculora_paired(alone, "acc2_non0").empty
    assert mculora_paired_text(pd.DataFrame(), "acc2_non0").startswith("No paired verdict")


def test_dpft_movement_text_judges_by_the_draws_that_trained_the_selected_models() -> None:
    methods, baselines = ["mculora_js", "mculora_acc"], ["mcla_uniform"]
    ranges = _ranges(0.08).assign(selected_min=3, selected_max=9)
    ranges["moved_by_selection"] = ranges["moved"].clip(upper=0.01)
    late = dpft_movement_text(ranges, methods, baselines)  # mculora_js moved 0.08, but only 0.01 by epochs 3-9
    assert "DPFT's probabilities moved for mculora_js, but only after the epochs selected on valid" in late
    assert "(mculora_js: 0.080 over 12 epochs, 0.010 by its selected epochs 3-9; below 0.05 by selection)" in late
    assert late.endswith("so a tie with mcla_uniform (the same model with uniform draws) is expected.")
    early = dpft_movement_text(ranges.assign(moved_by_selection=ranges["moved"].clip(upper=0.07)), methods, baselines)
    assert "moved for mculora_js: up to 0.080 from the uniform draws' 0.571 over 12 epochs" in early
    assert "(mculora_js 0.080, 0.070 by its selected epochs 3-9)" in early and "only after" not in early


def test_dpft_movement_text_says_per_method_whether_dpft_could_have_mattered() -> None:
    methods, baselines = ["mculora_js", "mculora_acc"], ["dropout_uniform", "mcla_uniform"]
    mixed = dpft_movement_text(_ranges(0.08), methods, baselines)  # mculora_js moved 0.08, mculora_acc not at all
    assert mixed.startswith("DPFT's probabilities barely moved for mculora_acc: over 12 epochs")
    assert "(mculora_acc 0.000; below 0.05), so it drew nearly" in mixed
    assert "mculora_acc against mcla_uniform (the same model with uniform draws) is expected to tie" in mixed
    assert "DPFT's probabilities moved for mculora_js: up to 0.080 from the uniform draws' 0.571" in mixed
    assert mixed.endswith("so a tie with mcla_uniform is not explained by nearly uniform draws.")
    barely = dpft_movement_text(_ranges(0.03), methods, baselines)
    assert "barely moved for mculora_js and mculora_acc" in barely and "moved for mculora_js:" not in barely
    assert "(mculora_js 0.030, mculora_acc 0.000; below 0.05)" in barely and "they are expected to tie" not in barely
    assert "a difference from dropout_uniform comes from what else differs" in barely
    assert dpft_movement_text(_ranges(0.0, ("text",)), methods, baselines).startswith("DPFT cannot move here")
    assert dpft_movement_text(None, methods, baselines) == "" and dpft_movement_text(_ranges(0.1), [], []) == ""
