"""Golden tests for mmolre.metrics: every formula pinned on small arrays computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmolre.emotions import EMOTIONS
from mmolre.metrics import SENTIMENT_METRICS, emotion_metrics, sentiment_metrics, weighted_accuracy

TRUTH = [-2.6, -0.4, 0.0, 0.5, 2.5, 3.0]
PRED = [-3.4, 0.2, -0.5, 1.5, 2.5, 2.2]


def test_sentiment_golden() -> None:
    # Has0 (all six): truth>=0 FFTTTT, pred>=0 FTFTTT -> 4/6; F1 per class: True 3/4 (support 4), False 1/2 (2).
    # Non0 (drop truth==0): truth>0 FFTTT, pred>0 FTTTT -> 4/5; F1: True 6/7 (3), False 2/3 (2) -> 82/105.
    # Acc-7 rounds (half to even) truth -3,-0,0,0,2,3 vs pred -3,0,-0,2,2,2 -> 4/6;
    # Acc-5 also clips 3.0/2.2 to 2 -> 5/6.
    expected = {
        "acc2_has0": 4 / 6,
        "f1_has0": (4 * 3 / 4 + 2 * 1 / 2) / 6,
        "acc2_non0": 4 / 5,
        "f1_non0": 82 / 105,
        "acc5": 5 / 6,
        "acc7": 4 / 6,
        "mae": (0.8 + 0.6 + 0.5 + 1.0 + 0.0 + 0.8) / 6,
        "mae_non0": (0.8 + 0.6 + 1.0 + 0.0 + 0.8) / 5,  # the truth == 0 sample (error 0.5) is dropped
    }
    result = sentiment_metrics(TRUTH, PRED)
    assert tuple(result) == SENTIMENT_METRICS
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-12), key


def test_zero_prediction_is_positive_for_has0_only() -> None:
    result = sentiment_metrics([1.0, 1.0, -1.0], [0.0, 0.0, 0.0])
    assert result["acc2_has0"] == pytest.approx(2 / 3)
    assert result["acc2_non0"] == pytest.approx(1 / 3)


def test_non0_undefined_when_all_truth_zero() -> None:
    result = sentiment_metrics([0.0, 0.0], [0.5, -0.5])
    assert math.isnan(result["acc2_non0"]) and math.isnan(result["f1_non0"])
    assert result["acc2_has0"] == 0.5


def test_rounding_is_half_to_even() -> None:
    # half to even: 0.5 -> 0, 2.5 -> 2, -0.5 -> -0, 1.5 -> 2; rounding half away from zero would give 1/4.
    result = sentiment_metrics([0.5, 2.5, -0.5, 1.5], [0.0, 2.0, 0.0, 2.0])
    assert result["acc7"] == 1.0
    assert result["acc5"] == 1.0


def test_clipping_differs_between_acc5_and_acc7_and_mae_is_unclipped() -> None:
    far = sentiment_metrics([3.0, -3.0], [7.0, -9.0])
    assert far["acc7"] == 1.0 and far["acc5"] == 1.0
    assert far["mae"] == pytest.approx(5.0)
    near = sentiment_metrics([2.4, -2.6], [3.0, -2.0])
    assert near["acc5"] == 1.0  # both clip to 2 / -2
    assert near["acc7"] == 0.0  # 2 vs 3 and -3 vs -2


def test_mculora_convention_metrics_use_nonzero_labels_only() -> None:
    # non-zero pairs (1, 1), (2, 3), (3, 2): r = 1/2 as below; the zero-label sample (0, 9) is ignored.
    result = sentiment_metrics([1.0, 0.0, 2.0, 3.0], [1.0, 9.0, 3.0, 2.0])
    assert result["corr_non0"] == pytest.approx(0.5)
    assert result["mae_non0"] == pytest.approx(2 / 3)
    assert result["mae"] == pytest.approx(11 / 4) and result["corr"] < 0.5  # ours keep the zero label
    both_undefined = sentiment_metrics([0.0, 0.0, 1.0], [0.3, -0.2, 0.4])
    assert math.isnan(both_undefined["corr_non0"]) and both_undefined["mae_non0"] == pytest.approx(0.6)
    assert math.isnan(sentiment_metrics([0.0, 0.0], [0.1, 0.2])["mae_non0"])


def test_pearson_correlation() -> None:
    # deviations (-1, 0, 1) and (-1, 1, 0): covariance sum 1, variance sums 2 and 2 -> r = 1/2
    assert sentiment_metrics([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])["corr"] == pytest.approx(0.5)
    assert math.isnan(sentiment_metrics([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])["corr"])


def test_sentiment_accepts_tensors() -> None:
    pred = torch.tensor(PRED, dtype=torch.float64, requires_grad=True)
    assert sentiment_metrics(torch.tensor(TRUTH, dtype=torch.float64), pred) == sentiment_metrics(TRUTH, PRED)


@pytest.mark.parametrize(
    ("truth", "pred", "message"),
    [
        ([1.0, 2.0], [1.0], "equally long"),
        ([], [], "non-empty"),
        ([1.0, float("nan")], [1.0, 2.0], "y_true contains NaN"),
        ([1.0, 2.0], [1.0, float("inf")], "y_pred contains NaN or inf"),
    ],
)
def test_sentiment_bad_input(truth: list[float], pred: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sentiment_metrics(truth, pred)


def test_weighted_accuracy_by_hand() -> None:
    truth = np.array([0, 1, 1, 0, 0, 0], dtype=bool)  # P = 2, N = 4
    pred = np.array([0, 1, 0, 1, 0, 0], dtype=bool)  # TP = 1, TN = 3
    assert weighted_accuracy(truth, pred) == pytest.approx((1 * 4 / 2 + 3) / (2 * 4))
    assert math.isnan(weighted_accuracy(np.zeros(3, bool), np.zeros(3, bool)))


def test_emotion_golden() -> None:
    # Presence is intensity > 0 and logit >= 0 (sigmoid >= 0.5): logit 0.0 counts as predicted present.
    column_truth = [0.0, 0.3, 1.0, 0.0, 0.0, 0.0]  # present FTTFFF: P = 2, N = 4
    column_logit = [-1.0, 0.0, -0.2, 0.5, -3.0, -0.01]  # predicted FTFTFF: TP = 1, TN = 3
    intensities = np.array([column_truth] * 5 + [[0.0] * 6]).T  # fear never present
    logits = np.array([column_logit] * 5 + [[-1.0] * 6]).T
    result = emotion_metrics(intensities, logits)
    wa, f1 = (1 * 4 / 2 + 3) / 8, (2 * 1 / 2 + 4 * 3 / 4) / 6
    for emotion in EMOTIONS[:5]:
        assert result[f"wa_{emotion}"] == pytest.approx(wa)
        assert result[f"f1_{emotion}"] == pytest.approx(f1)
    assert math.isnan(result["wa_fear"]) and result["f1_fear"] == 1.0
    assert result["wa"] == pytest.approx(wa)  # undefined WA is left out of the mean
    assert result["f1"] == pytest.approx((5 * f1 + 1.0) / 6)


@pytest.mark.parametrize(
    ("intensities", "logits", "message"),
    [
        (np.zeros((4, 5)), np.zeros((4, 5)), r"shape \(n, 6\)"),
        (np.zeros((4, 6)), np.zeros((3, 6)), "shape"),
        (np.zeros(6), np.zeros(6), "shape"),
        (np.float64(1.0), np.float64(1.0), "shape"),
        (np.full((2, 6), np.nan), np.zeros((2, 6)), "intensities contains NaN"),
    ],
)
def test_emotion_bad_input(intensities: np.ndarray, logits: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        emotion_metrics(intensities, logits)
