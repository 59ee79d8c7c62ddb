"""MiniLM text encoder: shapes, and a second call served from the on-disk cache."""

from __future__ import annotations

import numpy as np
import pytest

import mmolre.data.text_encoder as text_encoder

SENTENCES = ["the film was wonderful", "i did not like the ending at all", "", "OK"]


def test_encode_then_cache_hit(tmp_path, monkeypatch):
    monkeypatch.setenv("MMOLRE_CACHE_DIR", str(tmp_path))
    vectors = text_encoder.encode_texts(SENTENCES, kind="sentence")
    tokens = text_encoder.encode_texts(SENTENCES, kind="tokens", max_tokens=6)
    assert vectors.shape == (4, 1, 384) and vectors.dtype == np.float32
    assert tokens.shape == (4, 6, 384) and tokens.dtype == np.float16
    assert np.isfinite(vectors).all() and not np.allclose(vectors[0], vectors[1])
    assert len(list((tmp_path / "text").glob("*.npy"))) == 2

    def no_model(device):
        raise AssertionError("the encoder was loaded although the cache holds these texts")

    monkeypatch.setattr(text_encoder, "_model", no_model)
    np.testing.assert_array_equal(text_encoder.encode_texts(SENTENCES, kind="sentence"), vectors)
    np.testing.assert_array_equal(text_encoder.encode_texts(SENTENCES, kind="tokens", max_tokens=6), tokens)
    with pytest.raises(AssertionError, match="cache"):
        text_encoder.encode_texts(SENTENCES[:2], kind="sentence")


def test_bad_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        text_encoder.encode_texts(["x"], kind="words")
