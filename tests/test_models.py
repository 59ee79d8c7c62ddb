"""Model registry, forward contract, masking, gradients and counting helpers."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import pytest
import torch

from mmolre.modalities import CONDITIONS, combination_mask
from mmolre.models import MODEL_NAMES, MCULoRAConfig, ModelConfig, build_model, config_class, eval_mode
from mmolre.models.inspection import (
    COMPONENTS,
    count_flops,
    count_parameters,
    example_batch,
    flop_breakdown,
    parameter_breakdown,
    trained_parameter_count,
)
from mmolre.nn import LoRA
from mmolre.tasks import TASKS

DIMS = {"text": 10, "audio": 5, "vision": 7}
CONFIG = ModelConfig(dim=16, n_shared=3, shared_ranks=(2, 4), specific_rank=4, top_k=2, dropout=0.0)


def _tasks(name: str) -> tuple[str, ...]:
    return ("emotion",) if name == "single_task" else TASKS


def _config(name: str) -> ModelConfig | MCULoRAConfig:
    return CONFIG if config_class(name) is ModelConfig else MCULoRAConfig(hidden=8, rank=2, mlp_rank=2)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_registered_parameter_receives_gradient(name: str) -> None:
    """One training step on a realistic batch (L > 1, three modalities, every task, rows cycling through every
    modality combination) gives every registered parameter a non-zero gradient: nothing is dead weight.

    Dense gates (``top_k=None``): with sparse per-sample routing a shared expert that no sample of the batch keeps
    gets no gradient from that batch, as in any sparse mixture (see test_experts for the router's side)."""
    torch.manual_seed(0)
    groups = [(t,) for t in TASKS] if name == "single_task" else [TASKS]
    config = _config(name)
    config = config.replace(top_k=None) if isinstance(config, ModelConfig) else config
    for tasks in groups:
        model = build_model(name, DIMS, tasks, config).train()
        with torch.no_grad():  # LoRA's B starts at zero, so A (and a stream's lower layers) learn from step two on
            for module in model.modules():
                if isinstance(module, LoRA):
                    module.B.normal_(std=0.1)
        batch = example_batch(DIMS, batch_size=14, seq_len=4)
        batch["mask"] = torch.stack([combination_mask(CONDITIONS[i % len(CONDITIONS)]) for i in range(14)])
        out = model(batch)
        (sum(v.pow(2).mean() for v in out.predictions.values()) + out.aux_loss).backward()
        dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.ne(0).any()]
        assert not dead, f"{name} {tasks}: parameters without gradient: {dead[:6]}"
        if config_class(name) is ModelConfig:  # every element of a mixture model trains
            assert trained_parameter_count(model, batch) == count_parameters(model)


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("length", [1, 6])
def test_output_contract(name: str, length: int) -> None:
    tasks = _tasks(name)
    model = build_model(name, DIMS, tasks, _config(name))
    out = model(example_batch(DIMS, batch_size=3, seq_len=length))
    expected = {"sentiment": (3,), "emotion": (3, 6)}
    assert model.name == name and model.tasks == tasks and model.modalities == tuple(DIMS)
    assert {k: tuple(v.shape) for k, v in out.predictions.items()} == {k: expected[k] for k in tasks}
    assert out.aux_loss.shape == ()
    assert all(0 < w.sum() <= 1 + 1e-6 for w in out.routing.values())  # top-k kept without renormalising


def test_eval_mode_restores_the_mode_and_disables_gradients() -> None:
    model = build_model("mmolre", DIMS, TASKS, CONFIG).train()
    with eval_mode(model):
        assert not model.training
        assert not model(example_batch(DIMS)).predictions["sentiment"].requires_grad
    assert model.training
    with pytest.raises(ValueError, match="takes a ModelConfig"):
        build_model("mmolre", DIMS, TASKS, MCULoRAConfig())


def test_missing_modality_does_not_influence_the_sample() -> None:
    torch.manual_seed(0)
    model = build_model("mmolre", DIMS, TASKS, CONFIG).eval()
    batch = example_batch(DIMS, batch_size=4, seq_len=5)
    batch["mask"][:2, 1] = False
    before = model(batch).predictions
    batch["audio"] = batch["audio"].clone()
    batch["audio"] += 10.0
    after = model(batch).predictions
    for task in TASKS:
        assert torch.allclose(before[task][:2], after[task][:2], atol=1e-6)
        assert not torch.allclose(before[task][2:], after[task][2:])


def test_sample_without_any_modality_gets_the_zero_fused_vector() -> None:
    model = build_model("mmolre", DIMS, TASKS, CONFIG).eval()
    batch = example_batch(DIMS, batch_size=2, seq_len=3)
    batch["mask"][0] = False
    out = model(batch).predictions
    expected = model.heads["sentiment"](torch.zeros(1, CONFIG.dim)).squeeze(-1)
    assert torch.allclose(out["sentiment"][:1], expected) and torch.isfinite(out["emotion"]).all()


def test_routing_weights_per_modality_block_and_task() -> None:
    model = build_model("mmolre", DIMS, TASKS, CONFIG).eval()
    weights = model(example_batch(DIMS)).routing
    assert len(weights) == len(DIMS) * CONFIG.blocks * len(TASKS)
    assert "text/block2/emotion" in weights
    for w in weights.values():
        assert w.shape == (CONFIG.n_shared,) and 0 < w.sum() < 1  # top 2 of 3 after the softmax, not renormalised
    renormalised = build_model("mmolre", DIMS, TASKS, CONFIG.replace(renormalise_topk=True)).eval()
    for w in renormalised(example_batch(DIMS)).routing.values():
        assert torch.isclose(w.sum(), torch.tensor(1.0))


def test_subset_of_modalities() -> None:
    dims = {"text": 10, "vision": 7}
    out = build_model("mmoe", dims, TASKS, CONFIG)(example_batch(dims, batch_size=2))
    assert out.predictions["emotion"].shape == (2, 6)


def test_config_and_registry_errors() -> None:
    with pytest.raises(ValueError, match="unknown model name 'nope'"):
        build_model("nope", DIMS, TASKS, CONFIG)
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['rnak'\]"):
        ModelConfig.from_dict({"dim": 8, "rnak": 2})
    assert ModelConfig.from_dict({"shared_ranks": [2, 4], "dim": 8}).shared_ranks == (2, 4)
    with pytest.raises(ValueError, match="shared_ranks"):
        ModelConfig(dim=8, shared_ranks=(16,))
    with pytest.raises(ValueError, match="exactly one task"):
        build_model("single_task", DIMS, TASKS, CONFIG)
    with pytest.raises(ValueError, match="dims must map"):
        build_model("mmolre", {"txt": 10}, TASKS, CONFIG)
    with pytest.raises(ValueError, match="tasks must be"):
        build_model("mmolre", DIMS, ("sentiment", "valence"), CONFIG)


def test_bad_batches_are_refused() -> None:
    model = build_model("mmolre", DIMS, TASKS, CONFIG)
    batch = example_batch(DIMS)
    del batch["vision"]
    with pytest.raises(ValueError, match=r"lacks modality feature\(s\) \['vision'\]"):
        model(batch)
    batch = example_batch(DIMS)
    batch["audio"] = torch.randn(2, 8, 4)
    with pytest.raises(ValueError, match=r"batch\['audio'\] must have shape"):
        model(batch)
    batch = example_batch(DIMS)
    batch["mask"] = batch["mask"][:, :2]
    with pytest.raises(ValueError, match="mask"):
        model(batch)


def test_low_rank_models_are_cheaper_than_full_rank_at_equal_expert_count() -> None:
    config = ModelConfig(dim=64, n_shared=4, shared_ranks=(4, 8))
    low, full = build_model("mmoe", DIMS, TASKS, config), build_model("mmoe_full", DIMS, TASKS, config)
    assert parameter_breakdown(low)["experts"] < 0.25 * parameter_breakdown(full)["experts"]
    assert flop_breakdown(low, DIMS, 10)["experts"] < 0.25 * flop_breakdown(full, DIMS, 10)["experts"]


def test_breakdowns_add_up() -> None:
    model = build_model("mmolre", DIMS, TASKS, CONFIG)
    params = parameter_breakdown(model)
    assert params["total"] == count_parameters(model) == sum(params[c] for c in COMPONENTS)
    flops = flop_breakdown(model, DIMS, seq_len=5)
    assert flops["total"] == count_flops(model, DIMS, 5) == sum(flops[c] for c in COMPONENTS)
    assert flops["experts"] > 0 and count_flops(model, DIMS, 10) > flops["total"]
    assert model.training  # counting FLOPs restores the mode


@pytest.mark.parametrize("tasks", [("sentiment",), TASKS])
def test_linear_head_is_one_linear_map_per_task_over_pooled_inputs(tasks: tuple[str, ...]) -> None:
    model = build_model("linear_head", DIMS, tasks, CONFIG).eval()
    params = parameter_breakdown(model)
    assert params["experts"] == params["routers"] == params["norms"] == params["fusion"] == 0
    assert params["total"] == params["projections"] + params["heads"] > 0
    assert all(isinstance(head, torch.nn.Linear) for head in model.heads.values())
    batch = example_batch(DIMS, batch_size=3, seq_len=5)
    batch["text_mask"] = torch.tensor([[True] * 5, [True] * 2 + [False] * 3, [True] * 5])
    batch["mask"][1, 1] = False  # sample 1: audio missing
    out = model(batch)
    assert out.routing == {} and float(out.aux_loss) == 0.0
    # by hand: masked mean of each projected modality, mean over the present ones, one linear map
    pooled = {
        m: torch.stack(
            [
                model.projections[m](batch[m][i, : int(batch.get(f"{m}_mask", torch.ones(3, 5))[i].sum())]).mean(0)
                for i in range(3)
            ]
        )
        for m in DIMS
    }
    fused = torch.stack(
        [sum(pooled[m][i] for m in DIMS if not (i == 1 and m == "audio")) / (2 if i == 1 else 3) for i in range(3)]
    )
    for task in tasks:
        expected = model.heads[task](fused)
        torch.testing.assert_close(out.predictions[task], expected.squeeze(-1) if task == "sentiment" else expected)


def test_linear_head_trains_on_fine_tuned_text(tmp_path, monkeypatch) -> None:
    from test_finetune import tiny_dataset

    from mmolre.train import TrainConfig, train_model

    monkeypatch.setenv("MMOLRE_CACHE_DIR", str(tmp_path))
    data = tiny_dataset(freeze_layers=5)
    torch.manual_seed(0)
    model = build_model("linear_head", data.dims, data.tasks, CONFIG, data.text_input)
    assert len(model.text_encoder.layers) == 1
    assert not any("stages" in name or "routers" in name for name, _ in model.named_parameters())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    config = TrainConfig(epochs=2, batch_size=4, lr=1e-2, encoder_lr=1e-3, num_threads=1)
    result = train_model(model, data, config, seed=1)
    # every weight matrix moves (the L1 gradient of a bias can be exactly zero on these balanced labels)
    still = [k for k, v in model.state_dict().items() if k.endswith(".weight") and torch.equal(v, before[k])]
    assert not still, f"weights that did not move: {still}"
    assert result.history["train_loss"].iloc[-1] < result.history["train_loss"].iloc[0]


def test_block_switches_reach_every_mixture_block() -> None:
    from mmolre.nn import TaskMixture
    from mmolre.nn.mixture import OLD_BLOCK, BlockForm
    from mmolre.protocols.ablations import BLOCK_VARIANTS

    def forms(model: torch.nn.Module) -> set[BlockForm]:
        return {m.form for m in model.modules() if isinstance(m, TaskMixture)}

    assert forms(build_model("mmolre", DIMS, TASKS, CONFIG)) == {BlockForm()}
    assert ModelConfig().load_balance == 3e-4 and ModelConfig().routing == "sample"
    seen = set()
    for name, changes in BLOCK_VARIANTS.items():
        (form,) = forms(build_model("mmolre", DIMS, TASKS, CONFIG.replace(**changes)))
        seen.add(form)
        if name == "old_block":
            assert form == OLD_BLOCK and CONFIG.replace(**changes).load_balance == 0.01
        elif name != "mlore":
            assert sum(a != b for a, b in zip(dataclasses.astuple(form), dataclasses.astuple(BlockForm()))) == 1, name
    assert len(seen) == len(BLOCK_VARIANTS)  # every name is a different block
    with pytest.raises(ValueError, match="routing must be one of"):
        ModelConfig(routing="tokens")


def test_baselines_share_the_block_form_and_differ_in_experts() -> None:
    from mmolre.nn import TaskMixture

    def mixtures(name: str) -> list[TaskMixture]:
        model = build_model(name, DIMS, ("emotion",) if name == "single_task" else TASKS, CONFIG)
        return [m for m in model.modules() if isinstance(m, TaskMixture)]

    base = mixtures("mmolre")[0].form
    for name in ("single_task", "hard_sharing", "moe_full", "mmoe", "mmoe_full"):
        for mixture in mixtures(name):
            assert mixture.form == (
                base if name in ("single_task", "hard_sharing") else replace(base, learned_noise=False)
            )
    full = mixtures("moe_full")[0]
    assert full.top_k is None and full.router_noise == 0 and full.shared_router and not full.specific_experts
    assert all(expert.rank == CONFIG.dim for expert in full.shared_experts)
    weights = full.eval().route("sentiment", torch.randn(3, 4, CONFIG.dim))
    assert (weights > 0).all() and torch.allclose(weights.sum(-1), torch.ones(3))  # a dense softmax gate
    hard = mixtures("hard_sharing")[0]
    assert hard.tasks == ("shared",) and hard.n_shared == 1 and not hard.specific_experts


def test_token_routing_table_per_position() -> None:
    from mmolre.protocols.routing import token_routing

    batch = example_batch(DIMS, batch_size=2, seq_len=5)
    batch["text_mask"] = torch.tensor([[True] * 3 + [False] * 2, [True] * 5])
    for routing, same in (("sample", True), ("token", False)):
        table = token_routing(build_model("mmolre", DIMS, TASKS, CONFIG.replace(routing=routing)), batch)
        text = table[table["router"] == "text/block1/sentiment"].pivot(index="position", columns="expert")
        assert len(text) == 3  # the real steps of sample 0
        assert (text.nunique() == 1).all() == same


class _CancelledShift(torch.nn.Module):
    """A learned shift that a LayerNorm cancels: its gradient is zero in exact arithmetic, rounding noise in floats."""

    def __init__(self) -> None:
        super().__init__()
        self.shift = torch.nn.Parameter(torch.full((1,), 0.3))
        self.linear = torch.nn.Linear(4, 4)
        self.norm = torch.nn.LayerNorm(4)
        self.register_buffer("readout", torch.arange(1.0, 5.0))

    def forward(self, batch: dict[str, torch.Tensor]):
        from mmolre.models.base import ModelOutput

        out = (self.norm(self.linear(batch["text"]) + self.shift) * self.readout).sum(-1)
        return ModelOutput(predictions={"sentiment": out}, aux_loss=out.new_zeros(()))


def test_trained_parameter_count_ignores_gradients_that_are_zero_in_exact_arithmetic() -> None:
    """The shift's float32 gradient is rounding noise (non-zero on some CPUs, zero on others); the count leaves it
    out on every machine, and the model keeps its dtype and gradients."""
    torch.manual_seed(0)
    model = _CancelledShift()
    batch = {"text": torch.randn(8, 4) * 100}
    out = model(batch)
    out.predictions["sentiment"].pow(2).mean().backward()
    assert float(model.shift.grad.abs()) < 1e-5 * float(model.linear.weight.grad.abs().max())
    before = model.shift.grad.clone()
    counted = trained_parameter_count(model, batch)
    assert counted == sum(p.numel() for n, p in model.named_parameters() if n != "shift")
    assert model.shift.dtype == torch.float32 and torch.equal(model.shift.grad, before)


class _Float32Only(_CancelledShift):
    """A user's model that casts its input to float32, as models written for one precision do."""

    def forward(self, batch: dict[str, torch.Tensor]):
        return super().forward({"text": batch["text"].float()})


def test_trained_parameter_count_of_a_model_that_cannot_run_in_float64() -> None:
    """Measured in the model's own precision, counting every non-zero gradient (the shift's rounding noise included
    where it is non-zero), instead of failing; other errors are not swallowed."""
    torch.manual_seed(0)
    model = _Float32Only()
    batch = {"text": torch.randn(8, 4) * 100}
    out = model(batch)
    out.predictions["sentiment"].pow(2).mean().backward()
    expected = sum(int(p.grad.ne(0).sum()) for p in model.parameters())
    model.zero_grad(set_to_none=True)
    assert trained_parameter_count(model, batch) == expected
    with pytest.raises(RuntimeError, match="shape"):
        trained_parameter_count(model, {"text": torch.randn(8, 5)})
