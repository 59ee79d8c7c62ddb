"""The text encoder fine-tuned inside the model: a tiny slice of sentences, one unfrozen layer; optimiser groups,
learning-rate schedule, padding that never counts, LoRA through peft."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmolre.data.dataset import MultimodalDataset, SplitData
from mmolre.data.text_encoder import text_features
from mmolre.modalities import presence_mask
from mmolre.models import ModelConfig, build_model
from mmolre.train import TrainConfig, train_model
from mmolre.train.optim import build_optimizer, parameter_groups

TEXTS = [
    "a truly wonderful film",
    "boring and far too long",
    "i loved every minute of it",
    "not good",
    "the acting was fine but the story was weak",
    "great",
    "terrible ending",
    "quite funny at times",
]
CONFIG = ModelConfig(dim=16, n_shared=2, shared_ranks=(4,), specific_rank=4, dropout=0.0)


def tiny_dataset(freeze_layers: int) -> MultimodalDataset:
    """Eight sentences with random audio, sentiment and emotions in every split (the same rows)."""
    text = text_features(TEXTS, "finetune", max_tokens=12, freeze_layers=freeze_layers)
    values, lengths = text.take(range(len(TEXTS)))
    rng = np.random.default_rng(0)
    audio = torch.from_numpy(rng.standard_normal((len(TEXTS), 1, 5)).astype(np.float32))
    sentiment = torch.tensor([2.5, -2.0, 3.0, -1.0, -0.5, 2.0, -2.5, 1.0])
    emotions = torch.from_numpy(rng.uniform(0, 3, (len(TEXTS), 6)).astype(np.float32)) * (torch.rand(8, 6) > 0.5)
    split = SplitData(
        {"text": values, "audio": audio},
        presence_mask(len(TEXTS), ["text", "audio"]),
        sentiment,
        emotions,
        [f"s{i}" for i in range(len(TEXTS))],
        {"text": lengths},
    )
    return MultimodalDataset(
        "tiny", {"train": split, "valid": split, "test": split}, ("text",), "tiny", {}, text.text_input
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> MultimodalDataset:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMOLRE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        return tiny_dataset(freeze_layers=5)


def test_top_layer_trains_jointly_and_padding_never_counts(data: MultimodalDataset) -> None:
    torch.manual_seed(0)
    model = build_model("mmolre", data.dims, data.tasks, CONFIG, data.text_input)
    assert data.dims == {"text": 384, "audio": 5} and len(model.text_encoder.layers) == 1
    before = {k: v.clone() for k, v in model.text_encoder.state_dict().items()}
    config = TrainConfig(epochs=2, batch_size=4, lr=1e-3, encoder_lr=1e-3, lr_schedule="linear", num_threads=1)
    result = train_model(model, data, config, seed=1)
    changed = [k for k, v in model.text_encoder.state_dict().items() if not torch.equal(v, before[k])]
    assert len(changed) == len(before), "every weight of the unfrozen encoder layer must move"
    model.eval()
    batch = next(iter(data.loader("test", batch_size=8)))
    padded = dict(batch)
    padded["text"] = torch.cat([batch["text"], torch.randn(8, 3, 384).half()], dim=1)
    padded["text_mask"] = torch.cat([batch["text_mask"], torch.zeros(8, 3, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        clean, noisy = model(batch), model(padded)
    for task in data.tasks:
        torch.testing.assert_close(clean.predictions[task], noisy.predictions[task])
    assert np.isfinite(result.test_metrics["mae"])


def test_optimiser_groups_and_linear_schedule(data: MultimodalDataset) -> None:
    model = build_model("mmolre", data.dims, data.tasks, CONFIG, data.text_input)
    config = TrainConfig(lr=1e-3, encoder_lr=2e-5, weight_decay=0.1, lr_schedule="linear", warmup_ratio=0.2)
    groups = parameter_groups(model, config)
    encoder = {id(p) for p in model.text_encoder.parameters()}
    assert {group["role"] for group in groups} == {"encoder", "rest"}
    for group in groups:
        in_encoder = {id(p) in encoder for p in group["params"]}
        assert in_encoder == {group["role"] == "encoder"} and group["lr"] == (2e-5 if in_encoder.pop() else 1e-3)
        assert all((p.ndim >= 2) == (group["weight_decay"] == 0.1) for p in group["params"])
    assert sum(len(g["params"]) for g in groups) == len([p for p in model.parameters() if p.requires_grad])
    optimizer, schedule = build_optimizer(model, config, steps=10)
    rates = []
    for _ in range(10):
        rates.append(schedule.get_last_lr()[0] / optimizer.param_groups[0]["initial_lr"])
        optimizer.step()
        schedule.step()
    # two warm-up steps (20 % of 10), then linear decay that would reach zero after the last step
    assert rates == pytest.approx([0.5, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125])


def test_lora_fine_tuning_trains_only_adapters_in_their_own_group(data: MultimodalDataset) -> None:
    model = build_model("mmolre", data.dims, data.tasks, CONFIG.replace(encoder_lora_rank=2), data.text_input)
    trainable = [n for n, p in model.text_encoder.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert any(n.endswith("query.lora_A.default.weight") for n in trainable)
    assert any("intermediate.dense.lora_B" in n for n in trainable)
    config = TrainConfig(lr=1e-3, encoder_lr=2e-5, lora_lr=5e-4, weight_decay=0.1)
    groups = parameter_groups(model, config)
    adapters = {id(p) for p in model.text_encoder.parameters() if p.requires_grad}
    lora = [group for group in groups if group["role"] == "lora"]
    assert {id(p) for group in lora for p in group["params"]} == adapters
    assert all(group["lr"] == 5e-4 for group in lora)
    assert all(group["lr"] == 1e-3 and group["role"] == "rest" for group in groups if group not in lora)
    optimizer, _ = build_optimizer(model, config, steps=10)
    assert sorted({group["lr"] for group in optimizer.param_groups}) == [5e-4, 1e-3]


def test_paper_profile_stops_before_anything_runs_without_gpu_or_checkpoint(tmp_path, monkeypatch) -> None:
    from mmolre.paths import PROJECT_ROOT
    from mmolre.runner import RunnerError
    from mmolre.runner.execute import run_reports

    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RunnerError, match=r"paper_mosei\.yaml needs.*CUDA GPU.*roberta-large \(not found"):
        run_reports(PROJECT_ROOT / "params" / "paper_mosei.yaml", echo=False)
    assert not any(tmp_path.iterdir())
    checkpoint = tmp_path / "roberta"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text("{}")
    params = tmp_path / "p.yaml"
    params.write_text(f"profile: p\nrequires: {{checkpoints: [{checkpoint}], gpu: true}}\n")
    with pytest.raises(RunnerError, match="'requires' must be a mapping with keys among"):
        run_reports(params, echo=False)


def test_a_bad_encoder_setting_is_refused_before_anything_trains(monkeypatch) -> None:
    from mmolre.protocols import encoders

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("load_dataset must not run when a setting is malformed")

    monkeypatch.setattr(encoders, "load_dataset", never)
    settings = [
        {"label": "frozen", "text_kind": "sentence"},
        {"label": "fine-tuned", "3 of 6 layers frozen": None, "text_kind": "finetune"},  # an unquoted YAML comma
    ]
    with pytest.raises(ValueError, match=r"encoder setting 2 of 2: .*quote a label that contains a comma"):
        encoders.compare_encoders("mosi", settings, ModelConfig(), TrainConfig())
    with pytest.raises(ValueError, match="encoder setting 1 of 1: needs a text label"):
        encoders.compare_encoders("mosi", [{"text_kind": "sentence"}], ModelConfig(), TrainConfig())
