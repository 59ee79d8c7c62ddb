"""MCLA layer and MCULoRA model: registration, no-op at init, per-combination gradients, streams meet at the head."""

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
from mmolre.models.mculora import MCULoRA
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


def test_every_factor_is_registered_and_the_empty_combination_has_no_adapter() -> None:
    layer = MCLA(6, 5, rank=3)
    names = set(dict(layer.named_parameters()))
    expected = {"base.weight", "base.bias", "shared.A", "shared.B"}
    expected |= {f"adapters.{name}.{factor}" for name in CONDITIONS for factor in ("A", "B")}
    assert names == expected and set(layer.state_dict()) == expected
    assert layer.combinations == CONDITIONS and "none" not in layer.adapters
    assert layer.shared.A.shape == (3, 6) and layer.adapters["at"].B.shape == (5, 3)
    assert MCLA(6, 5, rank=2, combinations=("a", "t", "at")).combinations == ("a", "t", "at")
    with pytest.raises(ValueError, match="combinations must be among"):
        MCLA(6, 5, combinations=("none",))


def test_fresh_mcla_equals_its_base_linear_layer() -> None:
    torch.manual_seed(0)
    layer = MCLA(7, 4, rank=4).eval()
    x = torch.randn(3, 2, 7)
    out = layer(x)
    torch.testing.assert_close(out.output, layer.base(x))
    assert set(out.streams) == set(CONDITIONS) and all(torch.count_nonzero(t) == 0 for t in out.streams.values())
    for combination in range(len(COMBINATIONS)):
        torch.testing.assert_close(layer.inline(x, combination), layer.base(x))
    torch.testing.assert_close(layer.inline(x, torch.tensor([0, 5, 7])), layer.base(x))
    assert torch.count_nonzero(layer.shared.A) > 0


def _perturbed(rank: int = 2) -> MCLA:
    torch.manual_seed(1)
    layer = MCLA(5, 3, rank=rank, dropout=0.0)
    with torch.no_grad():
        for expert in [layer.shared, *layer.adapters.values()]:
            expert.B.normal_()  # non-zero B so that A receives gradient too
    return layer


def _grad(p: torch.Tensor) -> float:
    return 0.0 if p.grad is None else float(p.grad.abs().sum())


def test_each_stream_term_uses_its_own_input_and_adapter() -> None:
    layer = _perturbed()
    x, s = torch.randn(4, 5), torch.randn(4, 5)
    out = layer(x, {"at": s, "v": x})
    assert set(out.streams) == {"at", "v"}
    torch.testing.assert_close(out.streams["at"], (s @ layer.adapters["at"].A.T) @ layer.adapters["at"].B.T)
    torch.testing.assert_close(out.output, layer.base(x) + layer.shared(x))
    out.streams["at"].sum().backward()
    assert _grad(layer.adapters["at"].B) > 0 and _grad(layer.adapters["at"].A) > 0
    assert all(_grad(e.B) == 0 and _grad(e.A) == 0 for c, e in layer.adapters.items() if c != "at")
    assert _grad(layer.base.weight) == 0 and _grad(layer.shared.B) == 0  # a stream term never touches the main path
    with pytest.raises(ValueError, match="no adapter"):
        MCLA(5, 3, combinations=("a",))(x, {"t": x})


@pytest.mark.parametrize("combination", [1, 4, 7])
def test_inline_switch_trains_only_the_current_combination(combination: int) -> None:
    layer = _perturbed()
    layer.inline(torch.randn(4, 1, 5), combination).pow(2).sum().backward()
    assert _grad(layer.shared.A) > 0 and _grad(layer.shared.B) > 0 and _grad(layer.base.weight) > 0
    for name, expert in layer.adapters.items():
        assert (_grad(expert.A) > 0 and _grad(expert.B) > 0) == (name == COMBINATIONS[combination])


def test_inline_per_sample_combinations_and_the_empty_one() -> None:
    layer = _perturbed().eval()
    x = torch.randn(4, 2, 5)
    combination = torch.tensor([2, 6, 2, 0])
    out = layer.inline(x, combination)
    for row, index in enumerate(combination.tolist()):
        torch.testing.assert_close(out[row], layer.inline(x[row : row + 1], index)[0])
    torch.testing.assert_close(out[3], layer.shared_path(x[3]))  # "none": shared path only


def test_rank_zero_is_a_plain_linear_layer() -> None:
    layer = MCLA(5, 3, rank=0)
    assert set(dict(layer.named_parameters())) == {"base.weight", "base.bias"}
    x = torch.randn(2, 5)
    torch.testing.assert_close(layer.inline(x, 4), layer.base(x))
    assert layer(x).streams == {}
    with pytest.raises(ValueError, match="rank must be >= 0"):
        MCLA(5, 3, rank=-1)


DIMS = {"text": 6, "audio": 4, "vision": 5}
QUIET = MCULoRAConfig(hidden=8, depth=2, heads=2, dropout=0.0, lora_dropout=0.0)


def _batch(dims: dict[str, int], mask: list[bool], n: int = 4, length: int = 3) -> dict[str, torch.Tensor]:
    torch.manual_seed(2)
    batch = {m: torch.randn(n, length, d) for m, d in dims.items()}
    batch["mask"] = torch.tensor([mask] * n)
    batch["sentiment"] = torch.zeros(n)
    return batch


def _model(name: str = "mculora", dims: dict[str, int] = DIMS, perturb: bool = True) -> MCULoRA:
    torch.manual_seed(0)
    model = build_model(name, dims, ("sentiment", "emotion"), QUIET)
    if perturb:
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, LoRA):
                    module.B.normal_(std=0.5)
    return model


def _stream_adapters(model: MCULoRA, skip_heads: bool = False) -> list[LoRA]:
    layers = [m for name, m in model.named_modules() if isinstance(m, MCLA) and not name.startswith("heads")]
    if not skip_heads:
        layers += list(model.heads.values())
    return [adapter for layer in layers for adapter in layer.adapters.values()]


@pytest.mark.parametrize("name", ["mculora", "mcla_inline"])
def test_mculora_forward_contract_and_mask(name: str) -> None:
    model = _model(name).eval()
    out = model(_batch(DIMS, [True, True, True]))
    assert out.predictions["sentiment"].shape == (4,) and out.predictions["emotion"].shape == (4, 6)
    assert out.aux_loss.shape == () and out.routing == {}
    masked = _batch(DIMS, [True, False, True])  # a masked-out modality has no influence on the output
    changed = dict(masked, audio=masked["audio"] + 100.0)
    torch.testing.assert_close(model(masked).predictions["sentiment"], model(changed).predictions["sentiment"])
    parts = model.representations(masked)
    assert parts["shared"].shape == parts["specific"].shape == (4, 3 * 8)
    assert (parts["combination"] == COMBINATIONS.index("tv")).all() and parts["specific"].abs().sum() > 0


def test_fresh_mculora_equals_its_plain_backbone() -> None:
    batch = _batch(DIMS, [True, False, True])
    plain = _model("mculora_plain", perturb=False).eval()
    for name in ("mculora", "mcla_inline"):
        model = _model(name, perturb=False).eval()
        missing, unexpected = plain.load_state_dict(model.state_dict(), strict=False)
        assert not missing and all(".shared." in k or ".adapters." in k for k in unexpected)
        for task in ("sentiment", "emotion"):
            torch.testing.assert_close(model(batch).predictions[task], plain(batch).predictions[task])


def test_adapters_exist_only_for_combinations_of_the_model_modalities() -> None:
    model = _model(dims={"text": 6, "audio": 4})
    assert model.combinations == ("a", "t", "at")
    assert model.fusion.combinations == model.heads["sentiment"].combinations == ("a", "t", "at")
    # a modality's own layers only for the combinations containing it: the others would never be trained
    for m, own in (("text", ("t", "at")), ("audio", ("a", "at"))):
        assert model.projections[m].combinations == own
        assert all(layer.combinations == own for layer in model.encoders[m].modules() if isinstance(layer, MCLA))
    assert build_model("mculora_plain", DIMS, ("sentiment",), QUIET).combinations == ()


@pytest.mark.parametrize("name", ["mculora", "mcla_inline"])
@pytest.mark.parametrize("combination", ["at", "v"])
def test_every_layer_of_only_the_drawn_combination_gets_gradient(name: str, combination: str) -> None:
    model = _model(name)
    batch = _batch(DIMS, combination_mask(combination).tolist())
    out = model(batch).predictions
    (out["sentiment"].sub(1.0).pow(2).mean() + out["emotion"].pow(2).mean()).backward()
    layers = [(n, layer) for n, layer in model.named_modules() if isinstance(layer, MCLA)]
    assert sum(combination in layer.adapters for _, layer in layers) == len(combination) * (1 + 2 * QUIET.depth) + 3
    for layer_name, layer in layers:  # per modality in it: projection + fc1, fc2 per block; fusion; two heads
        for key, adapter in layer.adapters.items():
            trained = _grad(adapter.A) > 0 and _grad(adapter.B) > 0
            assert trained == (key == combination), (layer_name, key)


def _silenced(name: str, adapters: str) -> MCULoRA:
    """A perturbed model with the B factors of its ``"head"``, ``"below"`` (sub-head) or ``"all"`` stream adapters
    zeroed."""
    model = _model(name).eval()
    chosen = {
        "head": [a for head in model.heads.values() for a in head.adapters.values()],
        "below": _stream_adapters(model, skip_heads=True),
        "all": _stream_adapters(model),
    }[adapters]
    with torch.no_grad():
        for adapter in chosen:
            adapter.B.zero_()
    return model


def test_streams_meet_the_main_path_only_at_the_head() -> None:
    batch = _batch(DIMS, [True, True, False])
    model = _model().eval()
    full = model(batch).predictions["sentiment"]
    # silencing every stream below the head leaves the main path untouched but changes the head's stream input
    below = _silenced("mculora", "below")
    torch.testing.assert_close(below.representations(batch)["shared"], model.representations(batch)["shared"])
    assert not torch.allclose(below(batch).predictions["sentiment"], full)
    # without the head's adapters the streams below cannot reach the output at all
    torch.testing.assert_close(
        _silenced("mculora", "head")(batch).predictions["sentiment"],
        _silenced("mculora", "all")(batch).predictions["sentiment"],
    )
    # with the per-layer switch the same silencing moves the main path (the contrast this test is about)
    inline = _model("mcla_inline").eval()
    moved = _silenced("mcla_inline", "below").representations(batch)["shared"]
    assert not torch.allclose(moved, inline.representations(batch)["shared"])
    assert not torch.allclose(
        _silenced("mcla_inline", "head")(batch).predictions["sentiment"],
        _silenced("mcla_inline", "all")(batch).predictions["sentiment"],
    )


def test_mculora_config_errors() -> None:
    with pytest.raises(ValueError, match="divisible"):
        MCULoRAConfig(hidden=9, heads=2)
    with pytest.raises(ValueError, match="unknown field"):
        MCULoRAConfig.from_dict({"hiden": 3})
    with pytest.raises(ValueError, match="both be 0"):
        MCULoRAConfig(rank=0, mlp_rank=8)
    with pytest.raises(ValueError, match="tasks"):
        build_model("mculora", {"text": 4}, ("valence",), MCULoRAConfig())
