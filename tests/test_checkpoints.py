"""Damaged checkpoints are refused with a CheckpointError naming the file; the sidecar is never half-written."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mmolre.data.synthetic import make_synthetic
from mmolre.models import ModelConfig, build_model
from mmolre.train import CheckpointError, TrainConfig, evaluate, load_checkpoint, set_seed, train_model
from mmolre.train.checkpoints import SIDECAR, read_sidecar

TINY = dict(dim=8, n_shared=2, shared_ranks=(2, 2), specific_rank=2, blocks=1)
SEED = 5


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def dataset():
    return make_synthetic("mosei", n_train=64, n_valid=32, n_test=32, seq_len=4, dim_scale=0.05, seed=3)


def _model(dataset):
    set_seed(7)
    return build_model("mmolre", dataset.dims, ("sentiment", "emotion"), ModelConfig(**TINY))


def _config(epochs: int) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=32, lr=2e-2, patience=0)


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory) -> Path:
    """A 3-epoch checkpoint (never modified: tests work on copies)."""
    root = tmp_path_factory.mktemp("checkpoint")
    train_model(_model(dataset), dataset, _config(3), seed=SEED, checkpoint_dir=root)
    return root


@pytest.fixture()
def checkpoint(trained, tmp_path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "checkpoint"))


def _file(root: Path, key: str) -> Path:
    return root / json.loads((root / SIDECAR).read_text())[key]


def _header_length(data: bytes) -> int:
    return 8 + struct.unpack("<Q", data[:8])[0]


def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _empty(data: bytes) -> bytes:
    return b""


def _random(data: bytes) -> bytes:
    return np.random.default_rng(0).integers(0, 256, len(data), dtype=np.uint8).tobytes()


def _edit_header(data: bytes) -> bytes:
    """Rename the first tensor in the JSON header (same length, so every offset stays valid)."""
    end = _header_length(data)
    header = json.loads(data[8:end])
    name = next(key for key in header if key != "__metadata__")
    renamed = name[:-1] + ("X" if name[-1] != "X" else "Y")
    return data[:8] + data[8:end].replace(f'"{name}"'.encode(), f'"{renamed}"'.encode(), 1) + data[end:]


def _flip(data: bytes) -> bytes:
    """Flip the sign bit of every float32 value; the header is untouched, so the file still parses."""
    body = bytearray(data)
    for offset in range(_header_length(data) + 3, len(body), 4):
        body[offset] ^= 0x80
    return bytes(body)


DAMAGE = {"truncated": _truncate, "empty": _empty, "random": _random, "header": _edit_header, "flipped": _flip}


def _damage(path: Path, how: str) -> None:
    path.write_bytes(DAMAGE[how](path.read_bytes()))


def _record_digest(root: Path, path: Path) -> None:
    """Make the sidecar agree with a damaged file, as if the damage happened before the digest was taken."""

    sidecar = json.loads((root / SIDECAR).read_text())
    sidecar["sha256"][path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    (root / SIDECAR).write_text(json.dumps(sidecar))


def _snapshot(root: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(root.iterdir())}


def test_sidecar_records_the_sha256_of_every_file_it_names(checkpoint):
    sidecar = read_sidecar(checkpoint)
    named = {sidecar[key] for key in ("last_weights", "best_weights", "train_state")}
    assert set(sidecar["sha256"]) == named

    for name in named:
        assert sidecar["sha256"][name] == hashlib.sha256((checkpoint / name).read_bytes()).hexdigest()
    assert {path.name for path in checkpoint.iterdir()} == named | {SIDECAR}


@pytest.mark.parametrize("which", ["best", "last"])
@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_damaged_weights_are_refused_naming_the_file(dataset, checkpoint, which, how):
    path = _file(checkpoint, f"{which}_weights")
    _damage(path, how)
    model = _model(dataset)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    with pytest.raises(CheckpointError, match=rf"{path.name}: sha256 [0-9a-f]{{16}}\.\.\. differs from"):
        load_checkpoint(model, checkpoint, which, dataset=dataset)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), "a refused checkpoint must not touch the model"
    snapshot = _snapshot(checkpoint)
    with pytest.raises(CheckpointError, match=rf"{path.name}: sha256"):
        train_model(_model(dataset), dataset, _config(5), seed=SEED, checkpoint_dir=checkpoint, resume=True)
    assert _snapshot(checkpoint) == snapshot, "a refused resume must leave the checkpoint as it was"


def test_flipped_weight_bytes_would_change_results(dataset, checkpoint):
    """The flipped file still parses (header intact) and changes the test MAE: only the digest catches it."""
    path = _file(checkpoint, "best_weights")
    intact = _model(dataset)
    load_checkpoint(intact, checkpoint, "best")
    _damage(path, "flipped")
    flipped = _model(dataset)
    flipped.load_state_dict(load_file(str(path)))
    assert evaluate(flipped, dataset, "test")["mae"] != pytest.approx(evaluate(intact, dataset, "test")["mae"])
    with pytest.raises(CheckpointError, match=rf"{path.name}: sha256 .* damaged or changed after it was written"):
        load_checkpoint(_model(dataset), checkpoint, "best")


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("truncated", "unreadable safetensors weights"),
        ("empty", "unreadable safetensors weights"),
        ("random", "unreadable safetensors weights"),
        ("header", "weights do not fit the model"),
    ],
)
def test_unreadable_weights_are_refused_even_with_a_matching_digest(dataset, checkpoint, how, message):
    path = _file(checkpoint, "best_weights")
    _damage(path, how)
    _record_digest(checkpoint, path)
    with pytest.raises(CheckpointError, match=rf"{path.name}: {message}"):
        load_checkpoint(_model(dataset), checkpoint, "best")


def test_truncated_train_state_file_is_refused(dataset, checkpoint):
    path = _file(checkpoint, "train_state")
    _damage(path, "truncated")
    with pytest.raises(CheckpointError, match=rf"{path.name}: sha256 .* differs"):
        train_model(_model(dataset), dataset, _config(5), seed=SEED, checkpoint_dir=checkpoint, resume=True)
    _record_digest(checkpoint, path)
    with pytest.raises(CheckpointError, match=rf"{path.name}: unreadable or unsuitable optimiser/schedule/scaler"):
        train_model(_model(dataset), dataset, _config(5), seed=SEED, checkpoint_dir=checkpoint, resume=True)


def _edit_sidecar(root: Path, change) -> None:
    sidecar = json.loads((root / SIDECAR).read_text())
    change(sidecar)
    (root / SIDECAR).write_text(json.dumps(sidecar))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("sha256"), r"checkpoint sidecar is incomplete or edited: missing or invalid \['sha256'\]"),
        (
            lambda s: s.pop("train_state"),
            r"checkpoint sidecar is incomplete or edited: missing or invalid \['train_state'\]",
        ),
        (
            lambda s: s.update(best_epoch="two"),
            r"checkpoint sidecar is incomplete or edited: missing or invalid \['best_epoch'\]",
        ),
        (lambda s: s.update(format=2), r"checkpoint format 2, this version reads format 3"),
        (
            lambda s: s.update(best_weights="../best.safetensors"),
            r"best_weights '\.\./best\.safetensors' is not a file",
        ),
        (lambda s: s["sha256"].clear(), r"last_weights '.*' is not a file of this directory with a recorded sha256"),
    ],
)
def test_incomplete_or_edited_sidecar_is_refused(dataset, checkpoint, change, message):
    _edit_sidecar(checkpoint, change)
    with pytest.raises(CheckpointError, match=rf"{SIDECAR}: {message}"):
        load_checkpoint(_model(dataset), checkpoint)
    with pytest.raises(CheckpointError, match=rf"{SIDECAR}: {message}"):
        train_model(_model(dataset), dataset, _config(5), seed=SEED, checkpoint_dir=checkpoint, resume=True)


def test_half_written_sidecar_is_refused(dataset, checkpoint):
    text = (checkpoint / SIDECAR).read_text()
    (checkpoint / SIDECAR).write_text(text[: len(text) // 2])
    with pytest.raises(CheckpointError, match=rf"{SIDECAR}: unreadable checkpoint sidecar"):
        train_model(_model(dataset), dataset, _config(5), seed=SEED, checkpoint_dir=checkpoint, resume=True)


def test_interrupted_sidecar_write_keeps_the_previous_checkpoint(dataset, tmp_path, monkeypatch):
    """A write that dies half-way through the sidecar leaves the previous one whole; resuming then matches an
    uninterrupted run."""
    full = train_model(_model(dataset), dataset, _config(4), seed=SEED, checkpoint_dir=tmp_path / "full")
    root = tmp_path / "part"
    train_model(_model(dataset), dataset, _config(2), seed=SEED, checkpoint_dir=root)
    write_text = Path.write_text

    def dies_half_way(self: Path, text: str, *args: object, **kwargs: object) -> int:
        if self.name.startswith(f".{SIDECAR}."):
            write_text(self, text[: len(text) // 2], *args, **kwargs)
            raise OSError("No space left on device")
        return write_text(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", dies_half_way)
    with pytest.raises(OSError, match="No space left"):
        train_model(_model(dataset), dataset, _config(4), seed=SEED, checkpoint_dir=root, resume=True)
    monkeypatch.undo()
    sidecar = read_sidecar(root)
    assert sidecar["epoch"] == 2
    assert not [path.name for path in root.iterdir() if path.name.startswith(".")], "no temporary file is left"
    load_checkpoint(_model(dataset), root, "last", dataset=dataset)  # every file it names still verifies
    resumed = train_model(_model(dataset), dataset, _config(4), seed=SEED, checkpoint_dir=root, resume=True)
    assert resumed.history["epoch"].tolist() == [1, 2, 3, 4]
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def _set_history(sidecar: dict, rows: object) -> None:
    sidecar["history"] = rows


def _first_row(sidecar: dict, **changes: object) -> None:
    sidecar["history"][0].update(changes)


SIDECAR_FAULTS = {
    "epoch -5": (lambda s: s.update(epoch=-5), r"epoch -5 is outside 1\.\.3 \(train_config epochs\)"),
    "epoch 99": (lambda s: s.update(epoch=99), r"epoch 99 is outside 1\.\.3"),
    "epoch 99 of 99": (
        lambda s: (s.update(epoch=99), s["train_config"].update(epochs=99)),
        r"history has 3 rows for epoch 99",
    ),
    "epoch true": (lambda s: s.update(epoch=True), r"missing or invalid \['epoch'\]"),
    "stopped early": (lambda s: s.update(stopped_early=True), r"stopped_early True contradicts patience 0"),
    "best -1e9": (lambda s: s.update(best_criterion=-1e9), r"criterion -1000000000\.0 is not the history's best"),
    "best NaN": (lambda s: s.update(best_criterion=float("nan")), r"criterion nan is not the history's best"),
    "best epoch missing": (lambda s: s.update(best_epoch=7), r"best_epoch 7 with criterion .* is not the history's"),
    "bad epochs -1": (lambda s: s.update(bad_epochs=-1), r"bad_epochs -1 differs from epoch - best_epoch"),
    "empty history": (lambda s: _set_history(s, []), r"history has 0 rows for epoch 3"),
    "garbage history": (lambda s: _set_history(s, [1, "x", None]), r"history row 1 is not a row of epoch 1"),
    "renumbered history": (lambda s: _first_row(s, epoch=2), r"history row 1 is not a row of epoch 1"),
    "text in history": (lambda s: _first_row(s, mae="low"), r"history row 1 has non-numeric \['mae'\]"),
    "history without criterion": (lambda s: s["history"][0].pop("criterion"), r"history row 1 is not a row"),
    "no finite criterion": (
        lambda s: [row.update(criterion=float("nan")) for row in s["history"]],
        r"no epoch of the history has a finite criterion",
    ),
    "edited metric": (lambda s: _first_row(s, mae=0.0), r"the progress .* differs from its sha256 recorded"),
    "train_config without epochs": (
        lambda s: s["train_config"].pop("epochs"),
        r"train_config epochs and patience must be numbers, got None",
    ),
}


@pytest.mark.parametrize("fault", sorted(SIDECAR_FAULTS))
def test_every_edited_progress_field_is_refused_by_name(dataset, checkpoint, fault):
    change, message = SIDECAR_FAULTS[fault]
    _edit_sidecar(checkpoint, change)
    snapshot = _snapshot(checkpoint)
    with pytest.raises(CheckpointError, match=rf"{SIDECAR}: .*{message}"):
        load_checkpoint(_model(dataset), checkpoint)
    with pytest.raises(CheckpointError, match=rf"{SIDECAR}: .*{message}"):
        train_model(_model(dataset), dataset, _config(5), seed=SEED, checkpoint_dir=checkpoint, resume=True)
    assert _snapshot(checkpoint) == snapshot


def test_an_untouched_sidecar_passes_every_check(dataset, checkpoint):
    sidecar = read_sidecar(checkpoint)
    assert (sidecar["epoch"], len(sidecar["history"]), sidecar["stopped_early"]) == (3, 3, False)
    assert sidecar["bad_epochs"] == 3 - sidecar["best_epoch"]
    finished = train_model(_model(dataset), dataset, _config(3), seed=SEED, checkpoint_dir=checkpoint, resume=True)
    assert finished.epochs_run == 3 and finished.best_epoch == sidecar["best_epoch"]


def test_resuming_with_fewer_epochs_than_trained_is_refused(dataset, checkpoint):
    with pytest.raises(CheckpointError, match=rf"{SIDECAR}: checkpoint has trained 3 epochs, this run asks for 2"):
        train_model(_model(dataset), dataset, _config(2), seed=SEED, checkpoint_dir=checkpoint, resume=True)


@pytest.mark.parametrize("where", ["file", "inside a file"])
def test_a_checkpoint_folder_that_is_a_file_is_refused_before_training(dataset, tmp_path, where):
    (tmp_path / "runs").write_text("not a folder")
    root = tmp_path / "runs" if where == "file" else tmp_path / "runs" / "mmolre-seed5"
    for resume in (False, True):
        with pytest.raises(CheckpointError, match=rf"{root}: checkpoint folder is a file, or inside one"):
            train_model(_model(dataset), dataset, _config(1), seed=SEED, checkpoint_dir=root, resume=resume)
