"""Published numbers the results are shown beside: each with its method, dataset, setting, the features it used,
its source and how far that source was checked here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from mmolre.data.registry import dataset_spec


@dataclass(frozen=True)
class Reference:
    """Where published numbers come from."""

    key: str
    method: str
    source: str
    features: str
    checked: str
    test_selected: str = ""
    """Where the source selects its reported epoch or tunes on the test split, what it does (shown beside every
    number of this reference); empty when it does not, or when it is not known to."""

    @property
    def label(self) -> str:
        """The method as tables and figures show it: marked when its numbers were selected on the test split."""
        return f"{self.method} (selected on test)" if self.test_selected else self.method


@dataclass(frozen=True)
class Published:
    """One published number: ``dataset`` is the registry name of the data (:data:`mmolre.data.registry.DATASETS`),
    ``setting`` is ``full`` (all modalities), ``avg7`` or one test condition."""

    ref: str
    dataset: str
    setting: str
    metric: str
    value: float

    @property
    def dataset_label(self) -> str:
        """The dataset as tables show it (its registry record's display name)."""
        return dataset_spec(self.dataset).label


_MCULORA_FEATURES = "DeBERTa-large text + wav2vec-large audio + MANet video (GCNet utterance features)"
_MCULORA_REPO = "github gdace829/MCULoRA @b5d07be (first MCULoRA commit, 2025-04-12)"
_MCULORA_TEST_SELECTED = (
    "the official training script (MCULoRA/train_MCULoRA.py @b5d07be) measures the DPFT statistics on the test "
    "loader and keeps the epoch with the best test accuracy over the seven conditions"
)
REFERENCES: dict[str, Reference] = {
    r.key: r
    for r in (
        Reference(
            "Self-MM",
            "Self-MM",
            "github thuiar/MMSA @a94e65d, results/result-stat.md (MMSA's regression table, unaligned features)",
            "BERT-base text + COVAREP audio + Facet video (MMSA processed features)",
            "read in the repository",
        ),
        Reference(
            "MMML",
            "MMML",
            "Wu et al., Multi-Modality Multi-Loss Fusion Network, NAACL 2024, arXiv 2308.00264, Table 1 row MMML "
            "(mean of three runs, without context)",
            "RoBERTa text + data2vec audio, base size, fine-tuned end to end; no video",
            "read in a text copy of the paper (Table 1); the paper names no encoder size: base size per the "
            "repository README (github zehuiwu/MMML @b7133c4), which says the large models did not improve on the "
            "base ones without context",
        ),
        Reference(
            "MMML large+context",
            "MMML (large, context)",
            "github zehuiwu/MMML @b7133c4, README.md 'New Training Results (CME+context)', Avg of seeds 1, 11, 111",
            "RoBERTa-large text + data2vec-large audio, fine-tuned end to end, 2 preceding utterances of text and 1 "
            "of audio as context; no video",
            "read in the repository",
        ),
        Reference(
            "UniMSE",
            "UniMSE",
            "Hu et al., UniMSE, EMNLP 2022, arXiv 2211.11256 (values from its Papers with Code benchmark entries)",
            "T5 text encoder + UniMSE's own acoustic and visual features",
            "against the benchmark listing of the paper, not the paper's own table",
        ),
        Reference(
            "MCULoRA",
            "MCULoRA",
            f"{_MCULORA_REPO}, data.txt blocks 'iemocap4' (5-fold mean) and 'mosei new'",
            _MCULORA_FEATURES,
            "read in the repository (scratch notes; the MOSEI F1s match its radar-plot data)",
            test_selected=_MCULORA_TEST_SELECTED,
        ),
        Reference(
            "MCULoRA log",
            "MCULoRA (logged run)",
            f"{_MCULORA_REPO}, MoMKE_cmumosei.log, final 7-condition evaluation",
            _MCULORA_FEATURES,
            "read in the repository",
            test_selected=_MCULORA_TEST_SELECTED,
        ),
        Reference(
            "MoMKE",
            "MoMKE",
            f"{_MCULORA_REPO}, drawcircer.py radar data, column MoMKE (F1, six conditions, no atv)",
            _MCULORA_FEATURES,
            "read in the repository (values typed into a plot script, not a log)",
        ),
    )
}


def _records(ref: str, dataset: str, setting: str, values: Mapping[str, float]) -> list[Published]:
    return [Published(ref, dataset, setting, metric, value) for metric, value in values.items()]


def _per_condition(ref: str, dataset: str, metric: str, values: Mapping[str, float]) -> list[Published]:
    return [Published(ref, dataset, condition, metric, value) for condition, value in values.items()]


PUBLISHED: tuple[Published, ...] = (
    *_records(
        "Self-MM",
        "mosi",
        "full",
        {"acc2_has0": 0.8344, "acc2_non0": 0.8546, "f1_non0": 0.8543, "acc7": 0.4667, "mae": 0.7080, "corr": 0.7963},
    ),
    *_records(
        "Self-MM",
        "mosei",
        "full",
        {"acc2_has0": 0.8376, "acc2_non0": 0.8515, "f1_non0": 0.8490, "acc7": 0.5387, "mae": 0.5309, "corr": 0.7649},
    ),
    *_records(
        "MMML",
        "mosi",
        "full",
        {"acc2_has0": 0.8591, "acc2_non0": 0.8816, "f1_non0": 0.8815, "acc7": 0.4825, "mae": 0.6429, "corr": 0.838},
    ),
    *_records(
        "MMML",
        "mosei",
        "full",
        {"acc2_has0": 0.8632, "acc2_non0": 0.8673, "f1_non0": 0.8649, "acc7": 0.5495, "mae": 0.5174, "corr": 0.7908},
    ),
    *_records(
        "MMML large+context",
        "mosi",
        "full",
        {"acc2_has0": 0.8848, "acc2_non0": 0.9035, "f1_non0": 0.9035, "acc7": 0.5272, "mae": 0.5573, "corr": 0.8824},
    ),
    *_records(
        "MMML large+context",
        "mosei",
        "full",
        {"acc2_has0": 0.8636, "acc2_non0": 0.8822, "f1_non0": 0.8804, "acc7": 0.5477, "mae": 0.5072, "corr": 0.8142},
    ),
    *_records(
        "UniMSE",
        "mosi",
        "full",
        {"acc2_non0": 0.869, "f1_non0": 0.8642, "acc7": 0.4868, "mae": 0.691, "corr": 0.809},
    ),
    *_records("UniMSE", "mosei", "full", {"acc2_non0": 0.8750, "f1_non0": 0.8746, "mae": 0.523}),
    *_per_condition(
        "MCULoRA",
        "mosei",
        "acc2_non0",
        {"a": 0.6979, "t": 0.8643, "v": 0.6750, "at": 0.8668, "av": 0.7245, "tv": 0.8715, "atv": 0.8729},
    ),
    *_per_condition(
        "MCULoRA",
        "mosei",
        "f1_non0",
        {"a": 0.6818, "t": 0.8636, "v": 0.6735, "at": 0.8661, "av": 0.7198, "tv": 0.8713, "atv": 0.8722},
    ),
    *_records("MCULoRA", "mosei", "avg7", {"acc2_non0": 0.7961, "f1_non0": 0.7926, "corr": 0.6601}),
    *_per_condition(
        "MCULoRA",
        "iemocap",
        "wa",
        {"a": 0.5946, "t": 0.8521, "v": 0.6125, "at": 0.8696, "av": 0.7375, "tv": 0.8828, "atv": 0.8921},
    ),
    *_records("MCULoRA", "iemocap", "avg7", {"wa": 0.7773, "ua": 0.7843, "wf1": 0.7723}),
    *_records("MCULoRA log", "mosei", "avg7", {"acc2_non0": 0.7885, "f1_non0": 0.7818}),
    *_per_condition(
        "MoMKE",
        "mosei",
        "f1_non0",
        {"a": 0.6592, "t": 0.8584, "v": 0.6491, "at": 0.8603, "av": 0.6586, "tv": 0.8442},
    ),
)
"""Published numbers (fractions, MAE in label units). MCULoRA's MOSEI MAE average is left out: the repository
adds the audio-only MAE twice to it (see the notes on the official code)."""


def published_table() -> pd.DataFrame:
    """Every published number with its method, dataset, setting, the features used, its source, whether checked
    and, where the source selected on the test split, how."""
    rows = [
        {
            "method": REFERENCES[p.ref].label,
            "dataset": p.dataset_label,
            "setting": p.setting,
            "metric": p.metric,
            "value": p.value,
            "features": REFERENCES[p.ref].features,
            "source": REFERENCES[p.ref].source,
            "checked": REFERENCES[p.ref].checked,
            "selected on test": REFERENCES[p.ref].test_selected or "no (not known to)",
        }
        for p in PUBLISHED
    ]
    return pd.DataFrame(rows)
