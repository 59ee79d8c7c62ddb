"""Text inputs from the offline MiniLM encoder: shapes, lengths, the layer cache and cache hits."""

from __future__ import annotations

import numpy as np
import pytest

import mmolre.data.text_encoder as text_encoder

SENTENCES = ["the film was wonderful", "i did not like the ending at all", "", "OK"]


def _no_model(*args: object) -> None:
    raise AssertionError("the encoder was loaded although the cache holds these texts")


def test_every_kind_then_cache_hit(tmp_path, monkeypatch):
    monkeypatch.setenv("MMOLRE_CACHE_DIR", str(tmp_path))
    vectors = text_encoder.text_features(SENTENCES, "sentence")
    tokens = text_encoder.text_features(SENTENCES, "tokens", max_tokens=6)
    ids = text_encoder.text_features(SENTENCES, "finetune", max_tokens=6, freeze_layers=0)
    layer3 = text_encoder.text_features(SENTENCES, "finetune", max_tokens=6, freeze_layers=3)
    assert vectors.values.shape == (4, 1, 384) and vectors.values.dtype == np.float32 and vectors.lengths is None
    assert np.isfinite(vectors.values).all() and not np.allclose(vectors.values[0], vectors.values[1])
    # [CLS] + words + [SEP], cut at 6; the empty text keeps [CLS] [SEP]
    assert ids.lengths.tolist() == [6, 6, 2, 3] and ids.values.shape == (4, 6) and ids.values.dtype == np.int64
    assert tokens.values.shape == layer3.values.shape == (4, 6, 384) and tokens.values.dtype == np.float16
    assert not tokens.values[2, 2:].any() and tokens.values[2, :2].any()  # padding stays zero
    assert tokens.text_input is None
    assert ids.text_input == text_encoder.TextInput("all-MiniLM-L6-v2", 0, 384, 6)
    assert layer3.text_input.layer == 3 and not np.allclose(layer3.values[0, :6], tokens.values[0, :6])
    monkeypatch.setattr(text_encoder, "_hf", _no_model)
    monkeypatch.setattr(text_encoder, "_sentence_model", _no_model)
    again = text_encoder.text_features(SENTENCES, "finetune", max_tokens=6, freeze_layers=3)
    np.testing.assert_array_equal(again.values, layer3.values)
    np.testing.assert_array_equal(text_encoder.text_features(SENTENCES, "sentence").values, vectors.values)
    with pytest.raises(AssertionError, match="cache"):
        text_encoder.text_features(SENTENCES[:2], "sentence")


def test_bad_kind_layers_and_checkpoint():
    with pytest.raises(ValueError, match="text kind must be one of"):
        text_encoder.text_features(["x"], "words")
    with pytest.raises(ValueError, match=r"freeze_layers must be in \[0, 5\]"):
        text_encoder.text_features(["x"], "finetune", freeze_layers=6)
    with pytest.raises(ValueError, match="local Hugging Face checkpoint folder"):
        text_encoder.text_features(["x"], "tokens", encoder="/nonexistent/roberta-large")
