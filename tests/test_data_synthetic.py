"""Synthetic data: deterministic, schema-exact, with the planted structure recorded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmolre.data import load_dataset
from mmolre.data.synthetic import CARDS, make_synthetic
from mmolre.emotions import EMOTIONS
from mmolre.modalities import MODALITIES

TINY = {"n_train": 40, "n_valid": 10, "n_test": 12, "seq_len": 4}


def test_deterministic_for_a_seed():
    first, second = make_synthetic(seed=3, dim_scale=0.05, **TINY), make_synthetic(seed=3, dim_scale=0.05, **TINY)
    other = make_synthetic(seed=4, dim_scale=0.05, **TINY)
    for split in ("train", "valid", "test"):
        for m in MODALITIES:
            assert torch.equal(first.splits[split].features[m], second.splits[split].features[m])
        assert torch.equal(first.splits[split].emotions, second.splits[split].emotions)
    assert not torch.equal(first.splits["train"].sentiment, other.splits["train"].sentiment)


@pytest.mark.parametrize("card", sorted(CARDS))
def test_schema_matches_card(card):
    data = load_dataset("synthetic", card=card, **TINY)
    assert data.dims == CARDS[card] and data.sizes() == {"train": 40, "valid": 10, "test": 12}
    assert data.real_modalities == () and "SYNTHETIC" in data.description
    train = data.splits["train"]
    assert train.features["text"].shape == (40, 4, 768) and train.features["text"].dtype == torch.float32
    assert train.mask.all() and train.sentiment.abs().max() <= 3
    assert data.has_emotions == (card == "mosei")
    if data.has_emotions:
        assert train.emotions.shape == (40, len(EMOTIONS))
        assert train.emotions.min() >= 0 and train.emotions.max() <= 3
    assert data.notes["seed"] == 0 and data.notes["structure"]["k_shared"] == 4


def test_explicit_dims_missing_rate_and_batches():
    data = make_synthetic(dims={"text": 6, "audio": 3, "vision": 2}, missing_rate=0.4, **TINY)
    train = data.splits["train"]
    assert data.dims == {"text": 6, "audio": 3, "vision": 2}
    assert train.mask.any(dim=1).all() and not train.mask.all()
    assert (train.features["audio"][~train.mask[:, 1]] == 0).all()
    batch = next(iter(data.loader("train", batch_size=8)))
    assert set(batch) == {"text", "audio", "vision", "mask", "sentiment", "emotions"}


def test_text_carries_more_signal_than_vision():
    data = make_synthetic(n_train=800, n_valid=10, n_test=400, seq_len=4, dim_scale=0.1)
    from mmolre.data.leakage import ridge_probe

    scores = {}
    for m in ("text", "vision"):
        tr, te = data.splits["train"], data.splits["test"]
        scores[m] = ridge_probe(tr.features[m].mean(1), tr.sentiment, te.features[m].mean(1), te.sentiment)["corr"]
    assert scores["text"] > scores["vision"] + 0.1


def test_bad_options():
    with pytest.raises(ValueError, match="unknown synthetic card"):
        make_synthetic(card="iemocap")
    with pytest.raises(ValueError, match="n_valid must be positive"):
        make_synthetic(n_valid=0)
    with pytest.raises(ValueError, match="missing_rate"):
        make_synthetic(missing_rate=1.0, **TINY)
    assert np.isfinite(make_synthetic(nonlinear=False, **TINY).splits["test"].features["text"].numpy()).all()
