"""Label-leakage check: a linear probe that scores far above the best published MOSI result means leaked features.

Reference: strong multimodal models on CMU-MOSI's official test fold report binary accuracy (Acc-2) of about
0.86-0.88 (e.g. the BERT-based models collected in the MMSA benchmark literature). A ridge regression on fixed
utterance vectors should stay well below that; :data:`FLAG_ACC2` = 0.90 or more is treated as leakage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mmolre.data.dataset import SPLITS
from mmolre.metrics import sentiment_metrics

PUBLISHED_ACC2 = (0.86, 0.88)
PUBLISHED_SOURCE = "best published CMU-MOSI Acc-2 of strong multimodal models (MMSA benchmark literature)"
FLAG_ACC2 = 0.90
ALPHAS = np.logspace(-3, 4, 15)


def ridge_probe(train_X: np.ndarray, train_y: np.ndarray, test_X: np.ndarray, test_y: np.ndarray) -> dict[str, float]:
    """Fit standardise + RidgeCV on the train part and return :func:`sentiment_metrics` on the test part."""
    train_X, test_X = np.asarray(train_X).reshape(len(train_X), -1), np.asarray(test_X).reshape(len(test_X), -1)
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS)).fit(train_X, np.asarray(train_y))
    return sentiment_metrics(test_y, model.predict(test_X))


def leakage_check(metrics: dict[str, float], threshold: float = FLAG_ACC2) -> dict[str, object]:
    """Flag a probe whose Has0 or Non0 Acc-2 reaches ``threshold`` (published best: :data:`PUBLISHED_ACC2`)."""
    acc2 = max(metrics["acc2_has0"], metrics["acc2_non0"])
    return {
        "acc2": acc2,
        "threshold": threshold,
        "published_best": f"{PUBLISHED_ACC2[0]:.2f}-{PUBLISHED_ACC2[1]:.2f}",
        "reference": PUBLISHED_SOURCE,
        "leak_suspected": bool(acc2 >= threshold),
    }


def mosi_bclstm_text_leakage(data_dir: str | Path | None = None) -> pd.DataFrame:
    """Ridge probe on the bc-LSTM text vectors: official MOSI folds (joined by segment id) vs their own split.

    One row per setting with the probe's metrics and the leakage flag.
    """
    from mmolre.data.mosi import read_bclstm, read_mosi_labels

    labels = read_mosi_labels(data_dir)
    parts = read_bclstm(labels, data_dir, modalities=("text",))
    vectors = {s: v for part in parts.values() for s, v in zip(part["ids"], part["text"])}

    def arrays(ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return np.stack([vectors[s] for s in ids]), np.array([labels.sentiment[s] for s in ids])

    settings = {
        "official folds (train -> test)": (labels.folds["train"], labels.folds[SPLITS[2]]),
        "own bc-LSTM split (train -> test)": (list(parts["train"]["ids"]), list(parts["test"]["ids"])),
    }
    rows = []
    for setting, (train_ids, test_ids) in settings.items():
        metrics = ridge_probe(*arrays(train_ids), *arrays(test_ids))
        flag = leakage_check(metrics)
        rows.append(
            {
                "setting": setting,
                "n_train": len(train_ids),
                "n_test": len(test_ids),
                **metrics,
                "leak_suspected": flag["leak_suspected"],
            }
        )
    return pd.DataFrame(rows)
