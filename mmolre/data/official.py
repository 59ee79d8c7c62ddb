"""The official GCNet / MCULoRA data layout: a label pickle plus one ``.npy`` per utterance and feature set.

A data folder per dataset holds the label pickle (``CMUMOSI_features_raw_2way.pkl``, ``CMUMOSEI_features_raw_2way.pkl``
or ``IEMOCAP_features_raw_4way.pkl``) and ``features/<feature name>/<utterance id>.npy`` per modality (defaults
:data:`FEATURES`: wav2vec-large-c-UTT audio, deberta-large-4-UTT text, manet_UTT video). Instead of a file, an
utterance may have a directory ``<utterance id>/`` of ``.npy`` files (frames, or IEMOCAP's per-speaker faces: a file
whose name contains ``F`` belongs to the female speaker, any other to the male one, and an utterance uses its own
speaker's files). Arrays of shape (d,) or (T, d) are averaged over time into one vector per utterance; an utterance
with an empty directory has that modality absent (mask False, zeros). Features are used as stored (no scaling).

Splits: MOSI / MOSEI use the pickle's train / valid / test videos; IEMOCAP uses leave-one-session-out folds
(:func:`mmolre.data.iemocap.session_folds`). The MOSI and IEMOCAP pickles are checked against their recorded sha256.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mmolre.data.dataset import SPLITS, DataError, MultimodalDataset, SplitData
from mmolre.data.iemocap import dialogue_order, fold_notes, parse_iemocap_pickle, session_folds
from mmolre.data.mosi import read_mosi_labels
from mmolre.data.sources import check_file, inside, safe_name
from mmolre.messages import cut, shown
from mmolre.modalities import MODALITIES

PICKLES: dict[str, str] = {
    "mosi": "CMUMOSI_features_raw_2way.pkl",
    "mosei": "CMUMOSEI_features_raw_2way.pkl",
    "iemocap": "IEMOCAP_features_raw_4way.pkl",
}
RECORDED: dict[str, str] = {
    "mosi": "mosi/CMUMOSI_features_raw_2way.pkl",
    "iemocap": "iemocap/IEMOCAP_features_raw_4way.pkl",
}
"""The label pickles whose sha256 is recorded in :data:`mmolre.data.sources.FILES`."""
FEATURES: dict[str, str] = {"audio": "wav2vec-large-c-UTT", "text": "deberta-large-4-UTT", "vision": "manet_UTT"}
"""The feature folders of the official MCULoRA runs (audio 512-d, text 1024-d, video 1024-d per the GCNet code)."""


def _load_array(path: Path) -> np.ndarray:
    try:  # mapped first: a header that promises more than the file holds is refused before anything is allocated
        mapped = np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError, EOFError, TypeError) as error:
        raise DataError(f"{path}: not a readable .npy array ({cut(str(error), 200)})") from None
    if not isinstance(mapped, np.ndarray) or not np.issubdtype(mapped.dtype, np.number):
        raise DataError(f"{path}: expected a numeric array, got {cut(str(getattr(mapped, 'dtype', type(mapped))))}")
    array = np.array(mapped)
    array = np.squeeze(array)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[-1] == 0:
        raise DataError(f"{path}: expected shape (d,) or (T, d), got {array.shape}")
    if not np.isfinite(array).all():
        raise DataError(f"{path}: contains NaN or inf")
    return array.astype(np.float32)


def _utterance_vector(root: Path, folder: Path, utterance: str, speaker: str | None) -> tuple[np.ndarray | None, Path]:
    """The time-averaged vector of one utterance (None when its directory has no frames of its speaker)."""
    file, directory = folder / f"{utterance}.npy", folder / utterance
    if file.is_file():
        files = [file]
    elif directory.is_dir():
        files = sorted(directory.glob("*.npy"))
        inside(directory, root, f"utterance {shown(utterance)}")
        if speaker is not None:
            files = [f for f in files if ("F" in f.stem) == (speaker == "F")]
    else:
        raise DataError(f"{file}: feature file not found (nor a directory {directory})")
    rows = [_load_array(inside(f, root, f"utterance {shown(utterance)}")) for f in files]
    rows = [r for r in rows if len(r)]
    if not rows:
        return None, directory
    widths = {r.shape[-1] for r in rows}
    if len(widths) != 1:
        raise DataError(f"{directory}: frames of different widths {sorted(widths)}")
    return np.concatenate(rows).mean(axis=0), files[0]


def read_features(
    root: Path, name: str, utterances: list[str], speakers: dict[str, str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(n, d) vectors and (n,) presence of ``features/<name>`` for ``utterances``; every file is checked."""
    folder = root / "features" / safe_name(name, "feature folder name")
    if not folder.is_dir():
        raise DataError(f"{folder}: feature folder not found (expected features/<name>/<utterance id>.npy)")
    inside(folder, root, f"feature folder {name}")
    vectors: list[np.ndarray | None] = []
    width, first = None, None
    for utterance in utterances:
        safe_name(utterance, f"{folder}: utterance id")
        vector, path = _utterance_vector(root, folder, utterance, None if speakers is None else speakers[utterance])
        if vector is not None:
            if width is None:
                width, first = vector.shape[-1], path
            elif vector.shape[-1] != width:
                raise DataError(f"{path}: width {vector.shape[-1]} differs from {width} of {first}")
        vectors.append(vector)
    if width is None:
        raise DataError(f"{folder}: no utterance has features")
    present = np.array([v is not None for v in vectors])
    return np.stack([np.zeros(width, np.float32) if v is None else v for v in vectors]), present


def load_official(
    data_dir: str | Path | None = None,
    dataset: str = "mosi",
    features: dict[str, str] | None = None,
    fold: int | None = None,
    valid_fraction: float | None = None,
    seed: int = 0,
) -> MultimodalDataset:
    """One dataset in the official layout under ``data_dir`` (see the module docstring).

    ``features`` maps modality -> feature folder (default :data:`FEATURES`; leave a modality out to drop it).
    IEMOCAP only: ``fold`` = held-out session 1-5 (default 5) and ``valid_fraction`` of the other sessions' dialogues
    for validation (default 0.1, drawn with ``seed``).
    """
    if dataset not in PICKLES:
        raise ValueError(f"dataset must be one of {sorted(PICKLES)}, got {shown(dataset)}")
    chosen = dict(FEATURES if features is None else features)
    unknown = sorted(set(chosen) - set(MODALITIES))
    if unknown or not chosen:
        raise ValueError(f"features must map some of {MODALITIES} to feature folder names, got {chosen}")
    if dataset != "iemocap" and (fold is not None or valid_fraction is not None):
        raise ValueError(f"fold and valid_fraction apply to iemocap only; {dataset} uses the pickle's own splits")
    if data_dir is None:
        raise DataError(
            f"official {dataset}: pass data_dir=<folder holding {PICKLES[dataset]} and features/<name>/*.npy>"
        )
    root = Path(data_dir).expanduser().resolve()
    pickle_path = root / PICKLES[dataset]
    if not pickle_path.is_file():
        raise DataError(f"{pickle_path}: label pickle not found (the official {dataset} layout needs it in data_dir)")
    if dataset in RECORDED:
        check_file(RECORDED[dataset], pickle_path)
    notes: dict[str, object] = {"layout": "official GCNet/MCULoRA", "label_pickle": str(pickle_path)}
    speakers, order = None, None
    if dataset == "iemocap":
        labels = parse_iemocap_pickle(pickle_path)
        fold = 5 if fold is None else fold
        valid_fraction = 0.1 if valid_fraction is None else valid_fraction
        ids = session_folds(labels, fold, valid_fraction, seed)
        speakers, order = labels.speaker, dialogue_order(labels)
        notes.update(fold_notes(labels, ids, fold), valid_fraction=valid_fraction, seed=seed)

        def label_fields(part: list[str]) -> dict[str, torch.Tensor | None]:
            return {"sentiment": None, "emotion4": torch.tensor([labels.label[u] for u in part], dtype=torch.long)}
    else:
        sentiment_labels = read_mosi_labels(path=pickle_path)
        ids = sentiment_labels.folds

        def label_fields(part: list[str]) -> dict[str, torch.Tensor | None]:
            return {"sentiment": torch.tensor([sentiment_labels.sentiment[u] for u in part], dtype=torch.float32)}

    every = [u for split in SPLITS for u in ids[split]]
    for utterance in every:  # ids become file names below: none may lead out of the feature folder
        safe_name(utterance, f"{pickle_path}: utterance id")
    vectors, presence = {}, {}
    for modality, name in chosen.items():
        vectors[modality], presence[modality] = read_features(root, name, every, speakers)
    notes.update(
        features=chosen,
        dims={m: int(v.shape[-1]) for m, v in vectors.items()},
        absent={m: int((~p).sum()) for m, p in presence.items()},
    )
    splits, start = {}, 0
    for split in SPLITS:
        part = ids[split]
        rows = slice(start, start + len(part))
        mask = torch.zeros(len(part), len(MODALITIES), dtype=torch.bool)
        for modality in chosen:
            mask[:, MODALITIES.index(modality)] = torch.from_numpy(presence[modality][rows])
        splits[split] = SplitData(
            features={m: torch.from_numpy(np.ascontiguousarray(v[rows][:, None, :])) for m, v in vectors.items()},
            mask=mask,
            emotions=None,
            ids=part,
            **label_fields(part),
        )
        start += len(part)
    modalities = tuple(m for m in MODALITIES if m in chosen)
    sizes = {split: len(ids[split]) for split in SPLITS}
    description = (
        f"{dataset} in the official GCNet/MCULoRA layout ({root}); splits {sizes['train']} / {sizes['valid']} / "
        f"{sizes['test']} utterances"
        + (f" (fold {fold}: test session {fold})" if dataset == "iemocap" else " (the pickle's own folds)")
        + ". Real modalities: "
        + ", ".join(f"{m} ({chosen[m]}, {notes['dims'][m]}-d)" for m in modalities)  # type: ignore[index]
        + "."
    )
    return MultimodalDataset(f"official_{dataset}", splits, modalities, description, notes, utterance_order=order)
