"""Utterance context: per-video sequences, position masks, per-utterance losses and metrics."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pytest
import torch
from torch import nn

from mmolre.data import DataError, MultimodalDataset, SplitData
from mmolre.data.context import to_context, utterance_key
from mmolre.data.dataset import flatten_positions
from mmolre.models import MCULoRAConfig, ModelConfig, ModelOutput, build_model
from mmolre.models.base import AffectModel
from mmolre.protocols.incomplete_runs import IncompleteConfig, run_incomplete
from mmolre.tasks import TASK_OUTPUTS
from mmolre.train import TrainConfig, evaluate, train_model
from mmolre.train.evaluation import predict, task_losses

IDS = ["b_2", "a_10", "a_2", "b_1", "a_1", "c[0]"]


class PerPosition(AffectModel):
    """A linear head per task: per position for context batches (the contract), per sample otherwise."""

    def __init__(self, dims: Mapping[str, int], tasks: tuple[str, ...]) -> None:
        super().__init__()
        self.name, self.tasks, self.modalities, self.config = "per_position", tasks, ("text",), None
        self.supports_context = True
        self.heads = nn.ModuleDict({t: nn.Linear(dims["text"], TASK_OUTPUTS[t]) for t in tasks})

    def forward(self, batch: Mapping[str, torch.Tensor]) -> ModelOutput:
        x = batch["text"] if "positions" in batch else batch["text"].mean(dim=1)
        out = {t: self.heads[t](x) for t in self.tasks}
        out["sentiment"] = out["sentiment"].squeeze(-1)
        return ModelOutput(out, x.new_zeros(()))


def _split(ids: list[str], seed: int) -> SplitData:
    generator = torch.Generator().manual_seed(seed)
    n = len(ids)
    mask = torch.zeros(n, 3, dtype=torch.bool)
    mask[:, 1] = True
    mask[0, 0] = True  # audio present for one utterance of video b only
    return SplitData(
        features={
            "text": torch.randn(n, 1, 4, generator=generator),
            "audio": torch.randn(n, 1, 2, generator=generator),
        },
        mask=mask,
        sentiment=torch.rand(n, generator=generator) * 6 - 3,
        emotions=(torch.rand(n, 6, generator=generator) - 0.4).clamp(min=0),
        ids=list(ids),
    )


@pytest.fixture()
def flat() -> MultimodalDataset:
    splits = {s: _split(IDS, seed) for seed, s in enumerate(("train", "valid", "test"))}
    return MultimodalDataset("toy", splits, ("text", "audio"), "toy utterances")


def test_sequences_in_time_order_with_padding(flat):
    data = to_context(flat)
    test, source = data.splits["test"], flat.splits["test"]
    assert data.context and test.ids == ["a", "b", "c"] and data.sizes() == {"train": 3, "valid": 3, "test": 3}
    assert test.positions.tolist() == [[True] * 3, [True, True, False], [True, False, False]]
    rows = [[4, 2, 1], [3, 0], [5]]  # a_1, a_2, a_10 / b_1, b_2 / c[0]
    for v, video_rows in enumerate(rows):
        n = len(video_rows)
        assert torch.equal(test.features["text"][v, :n], source.features["text"][video_rows, 0])
        assert torch.equal(test.sentiment[v, :n], source.sentiment[video_rows])
        assert not test.features["text"][v, n:].any() and not test.sentiment[v, n:].any()
    assert test.mask[:, 0].tolist() == [False, True, False] and test.mask[:, 1].all()
    order = [r for video_rows in rows for r in video_rows]
    assert torch.equal(test.utterance_labels()["emotions"], source.emotions[order])
    assert data.notes["context"] == {
        "videos": {s: 3 for s in data.splits},
        "max_utterances": {s: 3 for s in data.splits},
    }


def test_losses_and_metrics_are_per_utterance(flat):
    data = to_context(flat)
    torch.manual_seed(0)
    model = PerPosition({"text": 4}, ("sentiment", "emotion"))
    assert evaluate(model, data, "test") == pytest.approx(evaluate(model, flat, "test"), nan_ok=True)
    flat_predictions = predict(model, flat, "test")["sentiment"]
    context_predictions = predict(model, data, "test", batch_size=2)["sentiment"]
    assert context_predictions.tolist() == pytest.approx(flat_predictions[[4, 2, 1, 3, 0, 5]].tolist())
    batch = data.splits["test"][0:3]
    flat_batch = flat.splits["test"][[4, 2, 1, 3, 0, 5]]
    losses = task_losses(model(batch).predictions, batch, ("sentiment", "emotion"))
    expected = task_losses(model(flat_batch).predictions, flat_batch, ("sentiment", "emotion"))
    assert {k: v.item() for k, v in losses.items()} == pytest.approx({k: v.item() for k, v in expected.items()})


def test_training_on_context_batches(flat):
    data = to_context(flat)
    torch.manual_seed(0)
    config = TrainConfig(epochs=2, batch_size=2, num_threads=1)
    result = train_model(PerPosition({"text": 4}, ("sentiment",)), data, config, seed=1)
    assert len(result.history) == 2 and result.history["train_loss"].notna().all()
    assert "mae" in result.test_metrics


def test_a_pooling_model_is_refused_by_name(flat):
    data = to_context(flat)
    model = build_model("mmolre", data.dims, ("sentiment",), ModelConfig(dim=8, shared_ranks=(2,), specific_rank=2))
    with pytest.raises(ValueError, match="'mmolre' pools over the sequence axis"):
        evaluate(model, data, "test")
    with pytest.raises(ValueError, match="cannot predict per utterance"):
        train_model(model, data, TrainConfig(epochs=1, batch_size=2, num_threads=1), seed=1)


@pytest.mark.parametrize("name", ["mculora", "mcla_inline", "mculora_plain"])
def test_mculora_predicts_per_utterance_with_attention_across_utterances(flat, name):
    data = to_context(flat)
    torch.manual_seed(0)
    model = build_model(name, data.dims, ("sentiment", "emotion"), MCULoRAConfig(hidden=8, depth=1, rank=2))
    for parameter in model.parameters():  # LoRA B matrices start at zero: make every path non-trivial
        nn.init.normal_(parameter, std=0.3)
    model.eval()
    batch = data.splits["test"][0:3]
    out = model(batch).predictions
    assert out["sentiment"].shape == (3, 3) and out["emotion"].shape == (3, 3, 6)
    padded = dict(batch, text=batch["text"].clone(), audio=batch["audio"].clone())
    padded["text"][~batch["positions"]] = 7.0  # padding never changes a real position
    padded["audio"][~batch["positions"]] = -7.0
    again = model(padded).predictions
    real = batch["positions"]
    assert torch.allclose(again["sentiment"][real], out["sentiment"][real], atol=1e-6)
    assert torch.allclose(again["emotion"][real], out["emotion"][real], atol=1e-6)
    changed = dict(batch, audio=batch["audio"].clone())
    changed["audio"][0, 2] += 1.0  # another utterance of the same video changes utterance 0 (attention)
    assert not torch.allclose(model(changed).predictions["sentiment"][0, 0], out["sentiment"][0, 0])
    assert torch.allclose(model(changed).predictions["sentiment"][1:], out["sentiment"][1:], atol=1e-6)
    assert evaluate(model, data, "test")["mae"] >= 0


def test_mculora_with_both_dpft_rules_trains_on_context(flat):
    data = to_context(flat)
    config = IncompleteConfig(
        model=MCULoRAConfig(hidden=8, rank=2, mlp_rank=4),
        train=TrainConfig(epochs=2, batch_size=2, num_threads=1),
        rates=(0.0, 0.5),
    )
    results = run_incomplete(["mculora_js", "mculora_acc", "mculora_fusion_js", "dropout_uniform"], data, config, [1])
    applicable = results.conditions[results.conditions["applicable"]]
    assert set(applicable["condition"]) == {"a", "t", "at", "avg"}
    assert applicable["mae"].notna().all() and len(results.sampling)


def test_mculora_ignores_token_padding():
    torch.manual_seed(0)
    model = build_model("mculora", {"text": 4, "audio": 3}, ("sentiment",), MCULoRAConfig(hidden=8, rank=2))
    for parameter in model.parameters():
        nn.init.normal_(parameter, std=0.3)
    model.eval()
    text_mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    batch = {
        "text": torch.randn(2, 4, 4),
        "text_mask": text_mask,
        "audio": torch.randn(2, 1, 3),
        "mask": torch.ones(2, 3, dtype=torch.bool),
    }
    out = model(batch).predictions["sentiment"]
    padded = dict(batch, text=batch["text"].clone())
    padded["text"][~text_mask] = 5.0
    assert torch.allclose(model(padded).predictions["sentiment"], out, atol=1e-6)
    trimmed = dict(batch, text=batch["text"][:1, :2], text_mask=text_mask[:1, :2], audio=batch["audio"][:1])
    trimmed["mask"] = batch["mask"][:1]
    assert torch.allclose(model(trimmed).predictions["sentiment"], out[:1], atol=1e-6)
    with pytest.raises(ValueError, match=r"batch\['text_mask'\] must have shape \(2, 4\)"):
        model(dict(batch, text_mask=text_mask[:, :3]))


def test_flatten_positions_shapes():
    positions = torch.tensor([[True, False], [True, True]])
    values = torch.arange(4.0).reshape(2, 2)
    assert flatten_positions(values, positions).tolist() == [0.0, 2.0, 3.0]
    assert flatten_positions(values.reshape(4), positions).tolist() == [0.0, 2.0, 3.0]
    assert flatten_positions(torch.zeros(2, 2, 6), positions).shape == (3, 6)
    with pytest.raises(ValueError, match="per position"):
        flatten_positions(torch.zeros(2, 6), torch.ones(2, 3, dtype=torch.bool))  # per-sample logits, 6 = 2 * 3


def test_bad_inputs(flat):
    assert utterance_key("abc_12") == ("abc", 12) and utterance_key("x_y[3]") == ("x_y", 3)
    with pytest.raises(DataError, match="names no video"):
        utterance_key("Ses01F_impro01_F000")
    with pytest.raises(DataError, match="same position"):
        to_context(flat.with_split("test", _split(["a_1", "a_01", "b_1", "b_2", "c_1", "d_1"], 0)))
    tokens = {"text": torch.zeros(6, 2, 4), "audio": torch.zeros(6, 2, 2)}
    sequence = flat.with_split("test", dataclasses.replace(flat.splits["test"], features=tokens))
    with pytest.raises(DataError, match=r"utterance-level feature vectors \(n, 1, d\)"):
        to_context(sequence)
    with pytest.raises(ValueError, match="already"):
        to_context(to_context(flat))
