"""The task records: a new task's loss weight, metrics of plain lists, and one column order whatever a model's
task order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmolre.emotions import EMOTIONS
from mmolre.exports.predict import _frame
from mmolre.protocols.paired import score_predictions
from mmolre.tasks import TASK_SPECS, in_task_order
from mmolre.train.config import TrainConfig
from mmolre.train.evaluation import task_weights


def test_every_task_has_a_weight_and_a_new_one_weighs_one(monkeypatch: pytest.MonkeyPatch) -> None:
    config = TrainConfig(sentiment_weight=0.5, emotion_weight=2.0)
    assert task_weights(config) == {"sentiment": 0.5, "emotion": 2.0, "emotion4": 1.0}
    monkeypatch.setitem(TASK_SPECS, "arousal", TASK_SPECS["sentiment"])
    assert task_weights(config)["arousal"] == 1.0


def test_metrics_take_lists_as_well_as_arrays() -> None:
    truth, outputs = [-2.0, -0.5, 0.5, 2.5], [-1.5, 0.2, 0.4, 2.0]
    from_lists = TASK_SPECS["sentiment"].metrics(truth, outputs)
    assert from_lists == TASK_SPECS["sentiment"].metrics(np.array(truth)[:, None], np.array(outputs)[:, None])
    assert from_lists["mae"] == pytest.approx(np.mean(np.abs(np.subtract(truth, outputs))))
    labels, logits = [0, 1, 2, 3, 0], np.eye(4)[[0, 1, 2, 0, 0]]
    scores = TASK_SPECS["emotion4"].metrics(labels, logits)
    assert scores["wa"] == pytest.approx(4 / 5) and scores["ua"] == pytest.approx((1 + 1 + 1 + 0) / 4)


def test_the_four_class_constant_takes_integer_labels_of_any_dtype() -> None:
    labels = torch.tensor([0.0, 0.0, 1.0, 3.0])  # float labels, as a tensor read from a table may be
    constant = TASK_SPECS["emotion4"].constant(labels, None)  # type: ignore[arg-type]
    assert constant.exp().tolist() == pytest.approx([0.5, 0.25, 1e-6, 0.25], rel=1e-4)


def test_columns_and_metrics_follow_the_task_order_not_the_model_order() -> None:
    assert in_task_order(["emotion", "sentiment"]) == ("sentiment", "emotion")
    outputs = {"emotion": torch.zeros(2, len(EMOTIONS)), "sentiment": torch.tensor([0.5, -4.0])}
    frame = _frame(outputs, ["a", "b"])
    assert list(frame.columns) == ["text", "sentiment", *(f"emotion_{e}" for e in EMOTIONS)]
    assert frame["sentiment"].tolist() == [0.5, -3.0]  # clipped to [-3, 3]
    truth = {"sentiment": np.array([1.0, -1.0]), "emotion": np.array([[1.0] + [0.0] * 5, [0.0] * 6])}
    predictions = {"emotion": np.zeros((2, len(EMOTIONS))), "sentiment": np.array([0.5, -0.5])}
    keys = list(score_predictions(truth, predictions))
    assert keys.index("mae") < min(i for i, key in enumerate(keys) if key.startswith("emo_"))
