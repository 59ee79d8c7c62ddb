"""The trainable part of a Hugging Face text encoder inside a model, fine-tuned end-to-end with it.

Given a :class:`~mmolre.data.text_encoder.TextInput` with ``layer = k``, the module holds the encoder's layers
``k .. N-1`` (and its embeddings when ``k = 0``, the input then being token ids); the lower ``k`` layers stay frozen
and their outputs come cached from the dataset. ``lora_rank > 0`` instead freezes every encoder weight and trains
LoRA adapters (through peft) on the attention and MLP projections of the held layers.

The held layers run inside the encoder's own layer stack (its ``encoder`` module with the lower layers removed), so
whatever the stack adds between layers is kept: MPNet's relative position bias, for example, is computed by its
stack from the (trainable) bias table.
"""

from __future__ import annotations

import torch
from torch import nn

from mmolre.data.encoders import load_pretrained
from mmolre.data.text_encoder import TextInput

LORA_TARGETS: dict[str, tuple[str, ...]] = {
    "bert": ("query", "key", "value", "dense"),
    "mpnet": ("q", "k", "v", "o", "dense"),
}
"""Per encoder family, the linear layers of a block that get LoRA adapters: attention projections and the MLP."""


class TextEncoder(nn.Module):
    """Top layers of a pretrained encoder: ``(B, T)`` ids or ``(B, T, H)`` states + ``(B, T)`` mask -> ``(B, T, H)``."""

    def __init__(
        self, text_input: TextInput, lora_rank: int = 0, lora_alpha: float | None = None, lora_dropout: float = 0.0
    ) -> None:
        super().__init__()
        _, pretrained = load_pretrained(text_input.encoder)
        family = pretrained.config.model_type
        if family not in LORA_TARGETS:
            raise ValueError(
                f"text encoder {text_input.encoder!r} is a {family!r} model; fine-tuning inside a model supports "
                f"{sorted(LORA_TARGETS)}"
            )
        self.text_input = text_input
        self.hf_config = pretrained.config
        self.embeddings = pretrained.embeddings if text_input.layer == 0 else None
        self.stack = pretrained.encoder
        self.stack.layer = nn.ModuleList(pretrained.encoder.layer[text_input.layer :])
        if lora_rank > 0:
            from peft import LoraConfig, inject_adapter_in_model

            config = LoraConfig(
                r=lora_rank,
                lora_alpha=lora_alpha or lora_rank,
                lora_dropout=lora_dropout,
                target_modules=list(LORA_TARGETS[family]),
            )
            inject_adapter_in_model(config, self.stack.layer)
            for name, parameter in self.named_parameters():
                parameter.requires_grad = "lora_" in name

    @property
    def layers(self) -> nn.ModuleList:
        """The encoder layers this module trains (``layer .. N-1``)."""
        return self.stack.layer

    def forward(self, text: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        from transformers.masking_utils import create_bidirectional_mask

        if self.embeddings is not None:
            if text.ndim != 2:
                raise ValueError(f"a text encoder from layer 0 takes (B, T) token ids, got shape {tuple(text.shape)}")
            states = self.embeddings(input_ids=text.long())
        else:
            if text.ndim != 3 or text.shape[-1] != self.text_input.hidden:
                raise ValueError(
                    f"a text encoder from layer {self.text_input.layer} takes (B, T, "
                    f"{self.text_input.hidden}) states, got shape {tuple(text.shape)}"
                )
            states = text.to(next(self.stack.parameters()).dtype)
        attention = create_bidirectional_mask(config=self.hf_config, inputs_embeds=states, attention_mask=mask.long())
        output = self.stack(states, attention_mask=attention)
        return output[0]
