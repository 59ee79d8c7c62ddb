"""Real IEMOCAP four-class emotions (text only here): the GCNet/MCULoRA label pickle, session folds, MiniLM text.

File (see :mod:`mmolre.data.sources`): ``iemocap/IEMOCAP_features_raw_4way.pkl``, a list of six items: dialogue ->
utterance ids (in dialogue order), dialogue -> class indices 0..3 (:data:`mmolre.emotions.EMOTION4_CLASSES`), dialogue
-> speakers (F/M), dialogue -> transcripts, train dialogues (sessions 1-4), test dialogues (session 5): 151
dialogues, 5531 utterances. Folds are leave-one-session-out: fold ``k`` tests session ``k`` (the pickle's own split
is fold 5); validation dialogues are drawn (seeded) from the training sessions, never from the test session.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mmolre.data.dataset import SPLITS, DataError, MultimodalDataset, SplitData
from mmolre.data.mosi import video_split
from mmolre.data.safe_pickle import load_pickle
from mmolre.data.sources import check_text, how_to_obtain, require
from mmolre.data.text_encoder import ENCODER_NAME, describe_text, text_features
from mmolre.emotions import EMOTION4_CLASSES
from mmolre.messages import shown
from mmolre.modalities import presence_mask

PICKLE = "iemocap/IEMOCAP_features_raw_4way.pkl"
SESSIONS: tuple[int, ...] = (1, 2, 3, 4, 5)


@dataclass
class IemocapLabels:
    """The four-class pickle, flattened: dialogue -> ordered utterance ids; utterance -> class, speaker, transcript."""

    dialogues: dict[str, list[str]]
    label: dict[str, int]
    speaker: dict[str, str]
    transcript: dict[str, str]
    test_dialogues: set[str]


def session(dialogue: str) -> int:
    """The IEMOCAP session (1-5) of a dialogue id such as ``Ses01F_impro01``."""
    if not (dialogue.startswith("Ses0") and dialogue[4:5].isdigit() and int(dialogue[4]) in SESSIONS):
        raise DataError(f"dialogue id {shown(dialogue)} does not start with Ses01 .. Ses05")
    return int(dialogue[4])


def _dialogue_ids(value: object, path: Path, what: str) -> set[str]:
    """The train or test dialogue list of the pickle: a collection of text ids."""
    if not isinstance(value, (set, frozenset, list, tuple)) or not all(isinstance(d, str) for d in value):
        raise DataError(
            f"{path}: the {what} dialogues (item [{4 if what == 'train' else 5}]) must be a collection "
            f"of dialogue ids (text), got {shown(value)}"
        )
    return set(value)


def parse_iemocap_pickle(path: Path, how: str = "") -> IemocapLabels:
    """Read and check a GCNet IEMOCAP four-class pickle at ``path`` (see the module docstring)."""
    items = load_pickle(path, how)
    if not isinstance(items, list) or len(items) != 6 or not all(isinstance(i, dict) for i in items[:4]):
        raise DataError(f"{path}: expected a list of 6 items (4 dicts, train and test dialogue ids)")
    utterances, labels, speakers, transcripts = items[:4]
    train, test = _dialogue_ids(items[4], path, "train"), _dialogue_ids(items[5], path, "test")
    dialogues: dict[str, list[str]] = {}
    label, speaker, transcript = {}, {}, {}
    for dialogue, ids in utterances.items():
        if not isinstance(dialogue, str):
            raise DataError(f"{path}: a dialogue id is not text: {shown(dialogue)}")
        try:
            session(dialogue)
        except DataError as error:
            raise DataError(f"{path}: {error}") from None
        lists = [ids, labels.get(dialogue), speakers.get(dialogue), transcripts.get(dialogue)]
        if not all(isinstance(values, (list, tuple, np.ndarray)) for values in lists):
            raise DataError(f"{path}: dialogue {dialogue} needs lists of utterances, classes, speakers and transcripts")
        if any(len(values) != len(ids) for values in lists):
            raise DataError(f"{path}: dialogue {dialogue} has {len(ids)} utterances but other label/speaker counts")
        for utterance, value, who, text in zip(*lists):
            if not isinstance(utterance, str) or utterance in label:
                raise DataError(f"{path}: dialogue {dialogue}: utterance id {shown(utterance)} is repeated or not text")
            where = f"{path}: dialogue {dialogue} utterance {shown(utterance)}"
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise DataError(f"{where}: class {shown(value)} is not an integer 0..3")
            if not 0 <= int(value) < len(EMOTION4_CLASSES):
                raise DataError(f"{where}: class {int(value)}, expected 0..3")
            if who not in ("F", "M"):
                raise DataError(f"{where}: speaker {shown(who)}, expected 'F' or 'M'")
            label[utterance], speaker[utterance] = int(value), str(who)
            transcript[utterance] = check_text(text, f"{where}: transcript")
        dialogues[dialogue] = list(ids)
    unknown = sorted((train | test) - set(dialogues))
    if unknown:
        raise DataError(
            f"{path}: split lists name {len(unknown)} dialogue(s) without utterances, e.g. {shown(unknown[0])}"
        )
    if {session(d) for d in test} != {5} or train | test != set(dialogues) or train & test:
        raise DataError(f"{path}: the pickle's own split is not sessions 1-4 (train) / session 5 (test)")
    return IemocapLabels(dialogues, label, speaker, transcript, test)


def read_iemocap_labels(data_dir: str | Path | None = None) -> IemocapLabels:
    """The shared IEMOCAP pickle under the data directory (sha256-checked)."""
    return parse_iemocap_pickle(require(PICKLE, data_dir), how_to_obtain(PICKLE))


def session_folds(
    labels: IemocapLabels, fold: int = 5, valid_fraction: float = 0.1, seed: int = 0
) -> dict[str, list[str]]:
    """Utterance ids per split, in dialogue order: test = session ``fold``; valid = ``valid_fraction`` of the
    remaining dialogues (seeded); train = the rest."""
    if fold not in SESSIONS:
        raise ValueError(f"fold must be one of {SESSIONS} (the held-out session), got {fold!r}")
    test = sorted(d for d in labels.dialogues if session(d) == fold)
    train, valid = video_split([d for d in labels.dialogues if session(d) != fold], valid_fraction, seed)
    chosen = {"train": sorted(train), "valid": sorted(valid), "test": test}
    return {split: [u for d in chosen[split] for u in labels.dialogues[d]] for split in SPLITS}


def dialogue_order(labels: IemocapLabels) -> dict[str, tuple[str, int]]:
    """Utterance id -> (dialogue, position in the dialogue), as the pickle lists them."""
    return {u: (d, i) for d, utterances in labels.dialogues.items() for i, u in enumerate(utterances)}


def fold_notes(labels: IemocapLabels, ids: dict[str, list[str]], fold: int) -> dict[str, object]:
    """Sizes (dialogues, utterances, per class) of each split, for the dataset notes."""
    dialogue_of = {u: d for d, utterances in labels.dialogues.items() for u in utterances}
    return {
        "fold": fold,
        "test_session": fold,
        "dialogues": {split: len({dialogue_of[u] for u in ids[split]}) for split in SPLITS},
        "utterances": {split: len(ids[split]) for split in SPLITS},
        "classes": dict(enumerate(EMOTION4_CLASSES)),
        "class_counts": {
            split: np.bincount([labels.label[u] for u in ids[split]], minlength=len(EMOTION4_CLASSES)).tolist()
            for split in SPLITS
        },
    }


def load_iemocap(
    data_dir: str | Path | None = None,
    fold: int = 5,
    valid_fraction: float = 0.1,
    seed: int = 0,
    text_kind: str = "sentence",
    max_tokens: int = 32,
    freeze_layers: int = 0,
    encoder: str = ENCODER_NAME,
) -> MultimodalDataset:
    """IEMOCAP four classes (5531 utterances, 151 dialogues), leave-one-session-out fold ``fold`` (default 5: the
    pickle's own split); text (the only real modality here) is ``text_kind`` of the transcripts (see
    :mod:`mmolre.data.text_encoder`: frozen sentence vectors, frozen token states or a fine-tuned encoder's input)."""
    labels = read_iemocap_labels(data_dir)
    ids = session_folds(labels, fold, valid_fraction, seed)
    every = [u for d in sorted(labels.dialogues) for u in labels.dialogues[d]]
    text = text_features([labels.transcript[u] for u in every], text_kind, max_tokens, freeze_layers, encoder)
    row = {u: i for i, u in enumerate(every)}
    splits = {}
    for split in SPLITS:
        part = ids[split]
        values, lengths = text.take([row[u] for u in part])
        splits[split] = SplitData(
            features={"text": values},
            mask=presence_mask(len(part), ["text"]),
            sentiment=None,
            emotions=None,
            ids=part,
            lengths={} if lengths is None else {"text": lengths},
            emotion4=torch.tensor([labels.label[u] for u in part], dtype=torch.long),
        )
    notes = {**fold_notes(labels, ids, fold), "valid_fraction": valid_fraction, "seed": seed, "text_kind": text_kind}
    sizes = notes["utterances"]
    description = (
        f"IEMOCAP four classes ({', '.join(EMOTION4_CLASSES)}; happy includes excited), fold {fold}: test = session "
        f"{fold}, valid = {notes['dialogues']['valid']} dialogues of the other sessions (seed {seed}); utterances "
        f"{sizes['train']} / {sizes['valid']} / {sizes['test']}. Real modality: text only "
        f"({describe_text(text_kind, encoder, freeze_layers)} of the transcripts). Audio and vision absent."
    )
    return MultimodalDataset(
        "iemocap", splits, ("text",), description, notes, text.text_input, utterance_order=dialogue_order(labels)
    )
