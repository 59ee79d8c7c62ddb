"""Offline text inputs from a Hugging Face encoder (see :mod:`mmolre.data.encoders`: all-MiniLM-L6-v2 by default,
all-mpnet-base-v2, or a local checkpoint folder), cached on disk.

Three kinds of text input (:data:`KINDS`):

- ``sentence``: one frozen mean-pooled sentence vector per utterance, ``(n, 1, H)``;
- ``tokens``: frozen final-layer token states, ``(n, T, H)`` float16, with the number of real tokens per row;
- ``finetune``: the input of an encoder that the model fine-tunes end-to-end: token ids ``(n, T)`` when no layer is
  frozen, else the hidden states after the ``freeze_layers`` frozen lower layers, ``(n, T, H)`` float16, so an
  epoch runs only the top layers (:class:`TextInput` tells the model which layers to hold).

``T`` is the longest tokenised text, at most ``max_tokens``; batches are trimmed to their longest row.
Every array is cached under ``cache_dir()/text`` keyed by encoder, kind, layer, ``max_tokens`` and the sha256 of
the texts, so a second call with the same texts only reads ``.npy`` files. Each entry has a sidecar recording its
shape, dtype and sha256; an entry that does not match it (truncated, edited, another shape) is recomputed with a
warning naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from mmolre.data.encoders import (
    ENCODER_NAME,
    MPNET_NAME,
    canonical,
    checkpoint_dir,
    frozen_layers_phrase,
    load_pretrained,
    offline_transformers,
)
from mmolre.device import default_device
from mmolre.paths import cache_dir
from mmolre.progress import tracked

KINDS = ("sentence", "tokens", "finetune")
BATCH_SIZE = 64


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
def _sentence_model(encoder: str, device: str):
    offline_transformers()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(checkpoint_dir(encoder)), device=device)


@lru_cache(maxsize=2)
def _hf(encoder: str):
    return load_pretrained(encoder)


def encoder_shape(encoder: str = ENCODER_NAME) -> tuple[int, int]:
    """``(hidden size, number of layers)`` of an encoder, read from its config."""
    config = json.loads((checkpoint_dir(encoder) / "config.json").read_text(encoding="utf-8"))
    return int(config["hidden_size"]), int(config["num_hidden_layers"])


def _cache_path(texts: Sequence[str], name: str) -> Path:
    digest = hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode("utf-8")).hexdigest()
    return cache_dir() / "text" / f"{name}-{digest[:32]}.npy"


def _array_digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).data).hexdigest()


def _read_verified(path: Path) -> np.ndarray | None:
    """The cached array at ``path`` if it matches its sidecar (shape, dtype, sha256), else None with a warning
    naming the damaged entry (a missing entry is simply None)."""
    sidecar = path.with_suffix(".json")
    if not path.is_file() and not sidecar.is_file():
        return None
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        array = np.load(path, allow_pickle=False)
        if list(array.shape) != meta["shape"] or str(array.dtype) != meta["dtype"]:
            raise ValueError(f"shape {array.shape} / {array.dtype}, recorded {meta['shape']} / {meta['dtype']}")
        if _array_digest(array) != meta["sha256"]:
            raise ValueError("contents differ from the recorded sha256")
    except (OSError, ValueError, KeyError, TypeError, EOFError) as error:
        warnings.warn(f"text cache entry {path} is damaged ({str(error)[:200]}); recomputing it", stacklevel=3)
        return None
    return array


def _cached(path: Path, compute: Callable[[], np.ndarray]) -> np.ndarray:
    array = _read_verified(path)
    if array is not None:
        return array
    array = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(partial, array)
    meta = {"shape": list(array.shape), "dtype": str(array.dtype), "sha256": _array_digest(array)}
    sidecar = path.with_suffix(f".tmp{os.getpid()}.json")
    sidecar.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(partial, path)
    os.replace(sidecar, path.with_suffix(".json"))
    return array


def _token_ids(encoder: str, name: str, texts: list[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids (n, T) padded to the longest row and the number of real tokens per row, both cached."""
    ids_path = _cache_path(texts, f"{name}-ids-{max_tokens}")
    lengths_path = _cache_path(texts, f"{name}-lengths-{max_tokens}")
    ids, lengths = _read_verified(ids_path), _read_verified(lengths_path)
    if ids is not None and lengths is not None and ids.shape[0] == lengths.shape[0] == len(texts):
        return ids, lengths
    tokenizer, _ = _hf(encoder)
    encoded = tokenizer(texts, truncation=True, max_length=max_tokens, padding="longest", return_tensors="np")
    ids = encoded["input_ids"].astype(np.int64)
    lengths = encoded["attention_mask"].sum(axis=1).astype(np.int64)
    return _cached(ids_path, lambda: ids), _cached(lengths_path, lambda: lengths)


def _cache_name(encoder: str) -> str:
    """The cache-key prefix of an encoder: its name, or a digest of its folder for a local checkpoint."""
    if encoder in (ENCODER_NAME, MPNET_NAME):
        return encoder
    return "hf-" + hashlib.sha256(str(checkpoint_dir(encoder)).encode()).hexdigest()[:12]


def _hidden_states(encoder: str, ids: np.ndarray, lengths: np.ndarray, layer: int, device: str) -> np.ndarray:
    """Hidden states after ``layer`` layers (0 = embeddings) for every row, float16, padded rows zero.

    Only the lower ``layer`` layers run, on batches of rows of similar length trimmed to their longest row (the
    result does not depend on the batching: attention never looks at padding)."""
    _, model = _hf(encoder)
    model = model.to(device)
    out = np.zeros((*ids.shape, model.config.hidden_size), dtype=np.float16)
    order = np.argsort(lengths, kind="stable")
    stack = model.encoder.layer
    model.encoder.layer = stack[:layer]
    try:
        with torch.no_grad():
            starts = range(0, len(ids), BATCH_SIZE)
            label = f"encoding {len(ids):,} texts with {encoder} ({layer} layers, cached once)"
            for start in tracked(starts, label, len(starts)):
                rows = order[start : start + BATCH_SIZE]
                width = max(int(lengths[rows].max()), 1)
                mask = torch.from_numpy(np.arange(width)[None, :] < lengths[rows, None]).long().to(device)
                batch = torch.from_numpy(ids[rows, :width]).to(device)
                states = model(input_ids=batch, attention_mask=mask).last_hidden_state
                out[rows, :width] = (states * mask[..., None]).float().cpu().numpy().astype(np.float16)
    finally:
        model.encoder.layer = stack
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
    encoder = canonical(encoder)
    if kind == "sentence":
        if encoder not in (ENCODER_NAME, MPNET_NAME):
            raise ValueError(
                f"sentence vectors come from the sentence-transformers encoders {ENCODER_NAME} and {MPNET_NAME} "
                f"only; use kind='tokens' for {encoder!r}"
            )
        path = _cache_path(texts, f"{encoder}-sentence")

        def encode() -> np.ndarray:
            model = _sentence_model(encoder, str(default_device(device)))
            vectors = model.encode(texts, batch_size=BATCH_SIZE, show_progress_bar=False, convert_to_numpy=True)
            return vectors.astype(np.float32)[:, None, :]

        return TextFeatures(_cached(path, encode), None, None)
    hidden, layers = encoder_shape(encoder)
    if kind == "finetune" and not 0 <= freeze_layers < layers:
        raise ValueError(
            f"freeze_layers must be in [0, {layers - 1}] for {encoder!r} ({layers} layers), got {freeze_layers}"
        )
    name = _cache_name(encoder)
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
    encoder = canonical(encoder)
    name = encoder if encoder in (ENCODER_NAME, MPNET_NAME) else f"the encoder at {encoder}"
    if kind == "finetune":
        return f"{name} fine-tuned end-to-end inside the model, {frozen_layers_phrase(freeze_layers)}"
    return f"frozen {name} {'sentence vectors' if kind == 'sentence' else 'token states'}"
