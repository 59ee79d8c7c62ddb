"""MCULoRA's block: the official form by default (no norms, no attention output projection, ``x + a + mlp(a)``), and
each departure of our earlier block as a switch that reproduces it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mmolre.models import MCULoRAConfig, build_model
from mmolre.models.mculora_block import MCLABlock
from mmolre.nn.attention import QKVAttention

DIMS = {"text": 6, "audio": 4, "vision": 5}
EARLIER = dict(pre_norm=True, attention_projection=True, attention_dropout=0.0, fusion_norm=True, residual="sequential")
"""Our earlier block (the reduced profiles set these, with ``attention_dropout`` = their ``dropout``)."""


def _quiet(**changes: object) -> MCULoRAConfig:
    return MCULoRAConfig(**{"hidden": 8, "depth": 2, "heads": 2, "dropout": 0.0, "lora_dropout": 0.0, **changes})


def _block(config: MCULoRAConfig) -> MCLABlock:
    torch.manual_seed(0)
    block = MCLABlock(config, ("t",)).eval()
    with torch.no_grad():
        for name, parameter in block.named_parameters():
            if name.endswith(".B"):
                parameter.normal_(std=0.5)
    return block


def _mlp(block: MCLABlock, h: torch.Tensor) -> torch.Tensor:
    return block.fc2(block.activation(block.fc1(h).output)).output


def test_the_default_is_the_official_block() -> None:
    model = build_model("mculora", DIMS, ("sentiment",), _quiet())
    kinds = {type(m) for m in model.modules()}
    assert nn.LayerNorm not in kinds and nn.MultiheadAttention not in kinds and QKVAttention in kinds
    assert not any("norm" in key or "out_proj" in key for key in model.state_dict())
    block, x = _block(_quiet()), torch.randn(3, 4, 8)
    with torch.no_grad():
        attended = block.attention(x)
        expected = x + attended + _mlp(block, attended)  # Attention.forward + Block.forward of the official code
        torch.testing.assert_close(block(x, {}, None)[0], expected)


def test_each_switch_restores_one_part_of_the_earlier_block() -> None:
    x = torch.randn(3, 4, 8)
    block = _block(_quiet(residual="sequential"))
    with torch.no_grad():
        inner = x + block.attention(x)
        torch.testing.assert_close(block(x, {}, None)[0], inner + _mlp(block, inner))
    normed = _block(_quiet(pre_norm=True))
    assert isinstance(normed.norm1, nn.LayerNorm) and isinstance(normed.norm2, nn.LayerNorm)
    with torch.no_grad():
        attended = normed.attention(normed.norm1(x))
        torch.testing.assert_close(normed(x, {}, None)[0], x + attended + _mlp(normed, normed.norm2(attended)))
    assert isinstance(_block(_quiet(attention_projection=True)).attention, nn.MultiheadAttention)
    fused = build_model("mculora", DIMS, ("sentiment",), _quiet(fusion_norm=True))
    assert all(isinstance(norm, nn.LayerNorm) for norm in fused.norms.values())
    earlier = build_model("mculora", DIMS, ("sentiment",), _quiet(**EARLIER)).state_dict()
    assert {"encoders.text.0.norm1.weight", "encoders.text.0.attention.out_proj.weight", "norms.text.weight"} <= set(
        earlier
    )
    with pytest.raises(ValueError, match="residual must be one of"):
        _quiet(residual="parallel")
    with pytest.raises(ValueError, match="attention_dropout"):
        _quiet(attention_dropout=1.0)


def test_attention_without_projection_is_multihead_attention_with_an_identity_projection() -> None:
    torch.manual_seed(1)
    ours = QKVAttention(8, 2)
    reference = nn.MultiheadAttention(8, 2, batch_first=True)
    with torch.no_grad():
        reference.in_proj_weight.copy_(torch.cat([ours.q.weight, ours.k.weight, ours.v.weight]))
        reference.in_proj_bias.copy_(torch.cat([ours.q.bias, ours.k.bias, ours.v.bias]))
        reference.out_proj.weight.copy_(torch.eye(8))
        reference.out_proj.bias.zero_()
    x = torch.randn(3, 5, 8)
    steps = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]]).bool()
    with torch.no_grad():
        expected = reference(x, x, x, key_padding_mask=~steps, need_weights=False)[0]
        torch.testing.assert_close(ours(x, steps), expected)
        changed = x.clone()
        changed[0, 3:] += 100.0  # padded steps never reach a real one
        torch.testing.assert_close(ours(changed, steps)[0, :3], ours(x, steps)[0, :3])


@pytest.mark.parametrize("switches", [{}, EARLIER], ids=["official", "earlier"])
def test_every_parameter_of_either_block_is_trained(switches: dict[str, object]) -> None:
    torch.manual_seed(0)
    model = build_model("mculora", DIMS, ("sentiment",), _quiet(**switches))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(".B"):
                parameter.normal_(std=0.1)
    batch = {m: torch.randn(7, 3, d) for m, d in DIMS.items()}
    masks = [[1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]]
    batch["mask"] = torch.tensor(masks).bool()
    model(batch).predictions["sentiment"].pow(2).mean().backward()
    untrained = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not untrained
