"""Run records: a finished run without its weights, small enough to commit beside a profile's reports.

A checkpoint (:mod:`mmolre.train.checkpoints`) keeps the weights and lives in the cache of one machine; a record keeps
what a comparison of runs needs (history, selected epoch and criterion, valid and test metrics, the test predictions,
the trained-parameter count and the training wall time) and lives in ``reports/<profile>/runs/<checkpoint folder>/``
(``models`` for notebooks 03 and 04), so that a profile's notebook 04 can put together runs trained in different
sittings or on different machines. A record is two files named after the run (its checkpoint folder's name):
``<run>.json`` and ``<run>.npz`` (the test predictions, one array per task). The JSON holds the run's identity (see
:func:`record_identity`) and the sha256 of the predictions file and of its own content.

Reading a record checks all of that before it is used: a record of another run is refused (RecordError naming the
file and the difference), and so is one whose files were edited or damaged, or whose test metrics do not follow from
its predictions. Both files are written atomically, the JSON last.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from mmolre.data.dataset import MultimodalDataset
from mmolre.files import atomic_write, file_sha256
from mmolre.train.config import TrainConfig
from mmolre.train.evaluation import model_tasks, split_metrics
from mmolre.train.identity import expected_identity, is_number, mismatched_keys, stored_identity
from mmolre.train.loop import TrainResult

RECORD_FORMAT = 1

_FIELDS: dict[str, type | tuple[type, ...]] = {
    "history": list,
    "best_epoch": int,
    "best_criterion": (int, float),
    "epochs_run": int,
    "valid_metrics": dict,
    "test_metrics": dict,
    "params": int,
    "train_seconds": (int, float),
    "predictions": str,
    "predictions_sha256": str,
}
"""The fields a record must hold besides its identity, with their JSON types."""


class RecordError(ValueError):
    """A run record is unreadable, edited, damaged or belongs to another run."""


def record_identity(model: nn.Module, dataset: MultimodalDataset, config: TrainConfig, seed: int) -> dict[str, object]:
    """What a record must match to stand for a run: the checkpoint identity (model, configuration, parameter
    shapes, train config, seed, data fingerprint), the number of epochs (a record is a finished run, so a run asking
    for more is another run), the tasks trained and the dataset's load options (a checkpoint is re-evaluated on the
    current inputs, a record is not: e.g. another ``max_tokens`` is another run)."""
    identity = {
        **expected_identity(model, dataset, config, seed),
        "epochs": config.epochs,
        "tasks": list(model_tasks(model, dataset)),
        "load_options": dataset.notes.get("load_options"),
    }
    return json.loads(json.dumps(identity, default=str))


def _content_sha256(payload: Mapping[str, object]) -> str:
    text = json.dumps({k: v for k, v in payload.items() if k != "record_sha256"}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def write_record(folder: Path, name: str, result: TrainResult, identity: Mapping[str, object], params: int) -> Path:
    """Write the record of the finished run ``result`` as ``folder/<name>.json`` and ``.npz``; returns the JSON path."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = folder / f"{name}.npz"
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{task: np.asarray(values) for task, values in result.test_predictions.items()})
    atomic_write(arrays, lambda tmp: tmp.write_bytes(buffer.getvalue()))
    payload: dict[str, object] = {
        "format": RECORD_FORMAT,
        "run": name,
        **identity,
        "history": result.history.to_dict(orient="records"),
        "best_epoch": result.best_epoch,
        "best_criterion": result.best_criterion,
        "epochs_run": result.epochs_run,
        "valid_metrics": result.valid_metrics,
        "test_metrics": result.test_metrics,
        "params": params,
        "train_seconds": result.train_seconds,
        "predictions": arrays.name,
        "predictions_sha256": file_sha256(arrays),
    }
    payload = json.loads(json.dumps(payload, default=_plain))
    payload["record_sha256"] = _content_sha256(payload)
    path = folder / f"{name}.json"
    text = json.dumps(payload, indent=1) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def _plain(value: object) -> object:
    """JSON form of the numpy scalars a history or metrics dict may hold."""
    return value.item() if isinstance(value, np.generic) else str(value)


def _fault(payload: Mapping[str, object]) -> str | None:
    """What makes ``payload`` other than a record :func:`write_record` can have written, or None."""
    wrong = [key for key, kind in _FIELDS.items() if not isinstance(payload.get(key), kind)]
    wrong += [key for key in ("best_epoch", "epochs_run", "params") if isinstance(payload.get(key), bool)]
    if wrong:
        return f"missing or invalid {sorted(set(wrong))}"
    for key in ("valid_metrics", "test_metrics"):
        if not all(is_number(value) for value in payload[key].values()):
            return f"{key} must map names to numbers"
    if set(payload["valid_metrics"]) != set(payload["test_metrics"]):
        return "valid_metrics and test_metrics must have the same names"
    history, best, run = payload["history"], payload["best_epoch"], payload["epochs_run"]
    if not all(isinstance(row, dict) and all(is_number(v) for v in row.values()) for row in history):
        return "history must be rows of numbers"
    if not 1 <= best <= run <= payload["epochs"] or len(history) != run:  # type: ignore[operator]
        return (
            f"best_epoch {best}, epochs_run {run} and {len(history)} history rows do not fit {payload['epochs']} epochs"
        )
    if history[best - 1].get("epoch") != best or history[best - 1].get("criterion") != payload["best_criterion"]:
        return f"best_criterion is not the criterion of history row {best}"
    return None


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def read_record_file(path: Path) -> dict[str, object]:
    """The content of the record file ``path``, after checking it is a plain file of this format whose content has
    its recorded sha256 (RecordError naming it otherwise); its identity and predictions are not checked here."""
    if path.is_symlink() or not path.is_file():
        raise RecordError(f"{path}: a run record must be a plain file (not a link or a folder)")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RecordError(f"{path}: unreadable run record ({error})") from None
    if not isinstance(payload, dict) or payload.get("format") != RECORD_FORMAT:
        raise RecordError(f"{path}: not a run record of format {RECORD_FORMAT}; delete it to train the run again")
    if payload.get("record_sha256") != _content_sha256(payload):
        raise RecordError(
            f"{path}: the record differs from its recorded sha256 (edited or damaged); restore it or "
            "delete it to train the run again"
        )
    return payload


def read_record(
    folder: Path, name: str, identity: Mapping[str, object], dataset: MultimodalDataset
) -> tuple[TrainResult, int] | None:
    """The run restored from ``folder/<name>.json`` (``model`` None) and its trained-parameter count, or None when
    there is no record; RecordError when the record is damaged, edited or of another run. ``dataset`` is the one
    the run trained on: its test split must be the one the predictions are of."""
    path = folder / f"{name}.json"
    if folder.is_symlink():
        raise RecordError(f"{folder}: the records folder must be a plain folder, not a link")
    if not path.exists() and not path.is_symlink():
        return None
    payload = read_record_file(path)
    differences = mismatched_keys(stored_identity(payload, identity), identity)
    if differences:
        raise RecordError(
            f"{path}: records another run (differs in {', '.join(differences)}); delete it (and its .npz) to train "
            "this one"
        )
    fault = _fault(payload)
    if fault:
        raise RecordError(f"{path}: not a run record this code wrote ({fault})")
    arrays = folder / str(payload["predictions"])
    if arrays.name != payload["predictions"] or arrays.is_symlink() or not arrays.is_file():
        raise RecordError(f"{arrays}: the predictions file of {path.name} is missing (or not a plain file beside it)")
    if file_sha256(arrays) != payload["predictions_sha256"]:
        raise RecordError(f"{arrays}: sha256 differs from the one recorded in {path.name} (edited or damaged)")
    tasks = tuple(payload["tasks"])  # type: ignore[arg-type]  # equal to the identity's
    try:
        with np.load(arrays, allow_pickle=False) as stored:
            predictions = {key: stored[key] for key in stored.files}
    except Exception as error:  # a damaged zip raises zipfile, zlib, OS and value errors
        raise RecordError(f"{arrays}: unreadable predictions ({type(error).__name__}: {error})") from None
    size = len(next(iter(dataset.splits["test"].utterance_labels().values())))
    if any(values.dtype.kind != "f" or not np.isfinite(values).all() for values in predictions.values()):
        raise RecordError(f"{arrays}: predictions must be finite floating-point arrays")
    if set(predictions) != set(tasks) or any(values.ndim < 1 or len(values) != size for values in predictions.values()):
        raise RecordError(f"{arrays}: predictions are not one array per task {list(tasks)} of {size} test utterances")
    try:
        recomputed = split_metrics(predictions, dataset, "test", tasks)
    except Exception as error:  # e.g. an emotion array of the wrong width
        raise RecordError(f"{arrays}: predictions do not fit the test labels ({type(error).__name__})") from None
    recorded = payload["test_metrics"]
    if set(recomputed) != set(recorded) or not all(_same(recomputed[k], float(recorded[k])) for k in recomputed):
        raise RecordError(f"{path}: its test metrics do not follow from its predictions")
    result = TrainResult(
        model=None,
        tasks=tasks,
        history=pd.DataFrame(payload["history"]),
        best_epoch=int(payload["best_epoch"]),
        best_criterion=float(payload["best_criterion"]),
        valid_metrics={k: float(v) for k, v in payload["valid_metrics"].items()},
        test_metrics={k: float(v) for k, v in recorded.items()},
        epochs_run=int(payload["epochs_run"]),
        seconds=0.0,
        test_predictions=predictions,
        train_seconds=float(payload["train_seconds"]),
    )
    return result, int(payload["params"])
