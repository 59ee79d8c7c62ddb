"""MCLA layer: registration, LoRA init, per-combination gradients, combination mapping; the MCULoRA model contract."""

from __future__ import annotations

import pytest
import torch

from mmolre.modalities import (
    COMBINATIONS,
    CONDITIONS,
    MODALITIES,
    combination_index,
    combination_mask,
    combination_modalities,
)
from mmolre.models import MCULoRAConfig, build_model
from mmolre.nn import MCLA, LoRA


def build_mculora(dims: dict[str, int], tasks: tuple[str, ...], config: MCULoRAConfig):
    return build_model("mculora", dims, tasks, config)


def test_lora_starts_as_a_noop_and_scales_by_alpha_over_rank() -> None:
    torch.manual_seed(0)
    adapter = LoRA(10, 6, rank=4, alpha=8.0)
    x = torch.randn(3, 5, 10)
    assert torch.equal(adapter(x), torch.zeros(3, 5, 6)) and adapter.scaling == 2.0
    assert dict(adapter.named_parameters()).keys() == {"A", "B"}
    with torch.no_grad():
        adapter.B.normal_()
    torch.testing.assert_close(adapter(x), 2.0 * (x @ adapter.A.T) @ adapter.B.T)
    assert LoRA(10, 6, rank=4).scaling == 1.0  # alpha defaults to the rank
    with pytest.raises(ValueError, match="alpha"):
        LoRA(10, 6, rank=4, alpha=0.0)


def test_combinations_are_none_plus_the_seven_conditions() -> None:
    assert COMBINATIONS == ("none", *CONDITIONS)
    assert combination_modalities("at") == ("text", "audio")
    assert combination_modalities("v") == ("vision",)
    assert combination_modalities("none") == ()
    with pytest.raises(ValueError, match="unknown modality combination"):
        combination_modalities("x")


def test_combination_index_follows_condition_letters() -> None:
    for index, name in enumerate(COMBINATIONS):
        mask = combination_mask(name)
        assert [m for m, on in zip(MODALITIES, mask.tolist()) if on] == list(combination_modalities(name))
        assert int(combination_index(mask)) == index
    # text only -> "t"; audio + vision -> "av"; all -> "atv"
    batch = torch.tensor([[True, False, False], [False, True, True], [True, True, True], [False, False, False]])
    assert [COMBINATIONS[i] for i in combination_index(batch).tolist()] == ["t", "av", "atv", "none"]
    with pytest.raises(ValueError, match="last dimension 3"):
        combination_index(torch.ones(2, 2, dtype=torch.bool))


def test_every_factor_is_registered() -> None:
    layer = MCLA(6, 5, rank=3)
    names = set(dict(layer.named_parameters()))
    expected = {"base.weight", "base.bias", "shared.A", "shared.B"}
    expected |= {f"adapters.{name}.{factor}" for name in COMBINATIONS for factor in ("A", "B")}
    assert names == expected
    assert set(layer.state_dict()) == expected
    assert layer.shared.A.shape == (3, 6) and layer.adapters["none"].B.shape == (5, 3)


def test_fresh_mcla_equals_its_base_linear_layer() -> None:
    torch.manual_seed(0)
    layer = MCLA(7, 4, rank=4).eval()
    x = torch.randn(3, 2, 7)
    for combination in range(len(COMBINATIONS)):
        torch.testing.assert_close(layer(x, combination), layer.base(x))
    torch.testing.assert_close(layer(x, torch.tensor([1, 5, 7])), layer.base(x))
    assert torch.count_nonzero(layer.shared.B) == 0 and all(
        torch.count_nonzero(e.B) == 0 for e in layer.adapters.values()
    )
    assert torch.count_nonzero(layer.shared.A) > 0


def _perturbed(rank: int = 2) -> MCLA:
    torch.manual_seed(1)
    layer = MCLA(5, 3, rank=rank, dropout=0.0)
    with torch.no_grad():
        for expert in [layer.shared, *layer.adapters.values()]:
            expert.B.normal_()  # non-zero B so that A receives gradient too
    return layer


@pytest.mark.parametrize("combination", [0, 3, 7])
def test_only_the_current_combination_gets_gradient(combination: int) -> None:
    layer = _perturbed()
    layer(torch.randn(4, 1, 5), combination).pow(2).sum().backward()
    for factor in ("A", "B"):
        assert getattr(layer.shared, factor).grad.abs().sum() > 0
    assert layer.base.weight.grad.abs().sum() > 0
    for index, expert in enumerate(layer.adapters.values()):
        for factor in (expert.A, expert.B):
            if index == combination:
                assert factor.grad is not None and factor.grad.abs().sum() > 0
            else:
                assert factor.grad is None or factor.grad.abs().sum() == 0


def test_per_sample_combinations_gather_the_right_experts() -> None:
    layer = _perturbed().eval()
    x = torch.randn(4, 2, 5)
    combination = torch.tensor([2, 6, 2, 7])
    out = layer(x, combination)
    for row, index in enumerate(combination.tolist()):
        torch.testing.assert_close(out[row], layer(x[row : row + 1], index)[0])
    out.sum().backward()
    used = {2, 6, 7}
    for index, expert in enumerate(layer.adapters.values()):
        assert (expert.B.grad is not None and expert.B.grad.abs().sum() > 0) == (index in used)


def test_rank_zero_is_a_plain_linear_layer() -> None:
    layer = MCLA(5, 3, rank=0)
    assert set(dict(layer.named_parameters())) == {"base.weight", "base.bias"}
    x = torch.randn(2, 5)
    torch.testing.assert_close(layer(x, 4), layer.base(x))
    with pytest.raises(ValueError, match="rank must be >= 0"):
        MCLA(5, 3, rank=-1)


def _batch(dims: dict[str, int], mask: list[bool], n: int = 4, length: int = 3) -> dict[str, torch.Tensor]:
    torch.manual_seed(2)
    batch = {m: torch.randn(n, length, d) for m, d in dims.items()}
    batch["mask"] = torch.tensor([mask] * n)
    batch["sentiment"] = torch.zeros(n)
    return batch


def test_mculora_forward_contract_and_mask() -> None:
    dims = {"text": 6, "audio": 4, "vision": 5}
    model = build_mculora(dims, ("sentiment", "emotion"), MCULoRAConfig(hidden=8, depth=2, heads=2)).eval()
    out = model(_batch(dims, [True, True, True]))
    assert out.predictions["sentiment"].shape == (4,) and out.predictions["emotion"].shape == (4, 6)
    assert out.aux_loss.shape == () and out.routing == {}
    # a masked-out modality has no influence on the output
    masked = _batch(dims, [True, False, True])
    changed = dict(masked, audio=masked["audio"] + 100.0)
    torch.testing.assert_close(model(masked).predictions["sentiment"], model(changed).predictions["sentiment"])
    parts = model.representations(masked)
    assert parts["shared"].shape == parts["specific"].shape == (4, 3 * 8)
    assert (parts["combination"] == COMBINATIONS.index("tv")).all()


def test_mculora_every_adapter_trains_under_its_combination() -> None:
    dims = {"text": 6, "audio": 4}
    model = build_mculora(dims, ("sentiment",), MCULoRAConfig(hidden=8, depth=1, dropout=0.0, lora_dropout=0.0))
    for name in ("t", "a", "at"):
        batch = _batch(dims, combination_mask(name).tolist())
        model.zero_grad()
        model(batch).predictions["sentiment"].sub(1.0).pow(2).mean().backward()
        head = model.heads["sentiment"]
        assert head.adapters[name].B.grad.abs().sum() > 0
        assert all(e.B.grad is None or e.B.grad.abs().sum() == 0 for key, e in head.adapters.items() if key != name)


def test_mculora_config_errors() -> None:
    with pytest.raises(ValueError, match="divisible"):
        MCULoRAConfig(hidden=9, heads=2)
    with pytest.raises(ValueError, match="unknown field"):
        MCULoRAConfig.from_dict({"hiden": 3})
    with pytest.raises(ValueError, match="tasks"):
        build_mculora({"text": 4}, ("valence",), MCULoRAConfig())
