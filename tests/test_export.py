"""Export and predict: a trained run leaves the project as weights + config + model card, comes back on CPU, and
scores new utterances (raw text through the offline MiniLM, frozen lower layers computed for the new texts);
a damaged or mismatched export is one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import mmolre as mm
from mmolre.cli import main
from mmolre.data.dataset import MultimodalDataset, SplitData
from mmolre.emotions import EMOTIONS
from mmolre.exports.config import CARD, CONFIG, WEIGHTS, ExportError, TextEncoding, text_encoding
from mmolre.exports.predict import predict
from mmolre.modalities import presence_mask
from mmolre.train import predict as predict_split

TEXTS = [
    "a truly wonderful film",
    "boring and far too long",
    "i loved every minute of it",
    "not good",
    "the acting was fine but the story was weak",
    "great",
    "terrible ending",
    "quite funny at times",
]
FINETUNE = TextEncoding(kind="finetune", max_tokens=12, freeze_layers=5)
SMALL = mm.ModelConfig(dim=8, n_shared=2, shared_ranks=(4,), specific_rank=4, dropout=0.0)
QUICK = mm.TrainConfig(epochs=1, batch_size=8, lr=1e-3, encoder_lr=1e-3, num_threads=1)


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMOLRE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


def tiny_text_dataset() -> MultimodalDataset:
    """Eight sentences (MiniLM, upper five layers frozen) with 3-d audio in every split (the same rows)."""
    text = FINETUNE.encode(TEXTS)
    values, lengths = text.take(range(len(TEXTS)))
    rng = np.random.default_rng(0)
    audio = torch.from_numpy(rng.standard_normal((len(TEXTS), 1, 3)).astype(np.float32))
    emotions = torch.from_numpy((rng.uniform(0, 3, (len(TEXTS), 6)) * (rng.random((8, 6)) > 0.5)).astype(np.float32))
    sentiment = torch.tensor([2.5, -2.0, 3.0, -1.0, -0.5, 2.0, -2.5, 1.0])
    split = SplitData(
        {"text": values, "audio": audio},
        presence_mask(len(TEXTS), ["text", "audio"]),
        sentiment,
        emotions,
        [f"s{i}" for i in range(len(TEXTS))],
        {"text": lengths},
    )
    splits = {"train": split, "valid": split, "test": split}
    return MultimodalDataset("tiny", splits, ("text", "audio"), "eight sentences", {}, text.text_input)


@pytest.fixture(scope="module")
def text_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, MultimodalDataset, mm.train.TrainResult]:
    data = tiny_text_dataset()
    torch.manual_seed(0)
    model = mm.build_model("mmolre", data.dims, data.tasks, SMALL, data.text_input)
    run = mm.train_model(model, data, QUICK, seed=1)
    folder = mm.export(run, tmp_path_factory.mktemp("exports") / "tiny", data, text=FINETUNE)
    return folder, data, run


@pytest.fixture(scope="module")
def synthetic_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, MultimodalDataset]:
    data = mm.load_dataset(
        "synthetic", n_train=32, n_valid=16, n_test=16, seq_len=2, dims={"text": 6, "audio": 4, "vision": 2}
    )
    torch.manual_seed(0)
    run = mm.train_model(mm.build_model("linear_head", data.dims, data.tasks, SMALL), data, QUICK, seed=1)
    return mm.export(run, tmp_path_factory.mktemp("exports") / "synthetic", data), data


def test_export_writes_weights_config_and_card(text_export) -> None:
    folder, data, run = text_export
    assert sorted(p.name for p in folder.iterdir()) == sorted([WEIGHTS, CONFIG, CARD])
    config = json.loads((folder / CONFIG).read_text())
    assert config["model"] == "mmolre" and config["dims"] == {"text": 384, "audio": 3}
    assert config["tasks"] == ["sentiment", "emotion"]
    assert config["text"] == FINETUNE.to_dict() and config["text_input"]["layer"] == 5
    assert config["dataset"]["fingerprint"]["sizes"] == {"train": 8, "valid": 8, "test": 8}
    assert config["metrics"]["test"]["mae"] == pytest.approx(run.test_metrics["mae"])
    card = (folder / CARD).read_text()
    for heading in ("## Data", "## Features", "## Results", "## Limits"):
        assert heading in card
    assert f"{run.test_metrics['mae']:.4f}" in card and "5 lower layers frozen" in card


def test_reloaded_model_predicts_raw_text_as_trained(text_export) -> None:
    """Raw sentences go through the five frozen layers again and give the trained model's test outputs."""
    folder, data, run = text_export
    pretrained = mm.load_pretrained(folder, device="cpu")
    assert pretrained.text == FINETUNE
    audio = data.splits["test"].features["audio"][:, 0].numpy()
    frame = predict(pretrained, TEXTS, {"audio": audio})
    expected = predict_split(run.model.cpu(), data, "test")
    np.testing.assert_allclose(frame["sentiment"], np.clip(expected["sentiment"], -3, 3), atol=1e-4)
    probabilities = torch.from_numpy(expected["emotion"]).sigmoid().numpy()
    np.testing.assert_allclose(frame[[f"emotion_{e}" for e in EMOTIONS]], probabilities, atol=1e-4)
    unseen = predict(pretrained, ["An Unseen Sentence, never encoded before"])
    assert unseen["sentiment"].between(-3, 3).all() and len(unseen) == 1


def test_predict_command_text_and_csv(text_export, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder, _, _ = text_export
    assert main(["predict", "--model", str(folder), "--text", "great", "--text", "not good", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["text"] for r in records] == ["great", "not good"]
    assert all(-3 <= r["sentiment"] <= 3 and 0 <= r["emotion_happy"] <= 1 for r in records)
    table = pd.DataFrame({"id": ["u1", "u2"], "text": ["great", "terrible ending"], "audio_0": [0.1, ""]})
    table["audio_1"], table["audio_2"] = [0.2, ""], [0.3, ""]
    table.to_csv(tmp_path / "in.csv", index=False)
    assert main(["predict", "--model", str(folder), "--input", str(tmp_path / "in.csv")]) == 0
    out = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert list(out["id"]) == ["u1", "u2"] and list(out.columns[:3]) == ["id", "text", "sentiment"]
    table.drop(columns="audio_2").to_csv(tmp_path / "bad.csv", index=False)
    assert main(["predict", "--model", str(folder), "--input", str(tmp_path / "bad.csv")]) == 1
    assert "audio needs exactly the columns audio_0 ... audio_2" in capsys.readouterr().err


def test_synthetic_export_reads_vectors(synthetic_export) -> None:
    """Synthetic text has no raw form: the export reads every modality as vectors, rows without one are absent."""
    folder, data = synthetic_export
    pretrained = mm.load_pretrained(folder, device="cpu")
    assert pretrained.text is None and data.notes["load_options"]["dataset"] == "synthetic"
    rng = np.random.default_rng(1)
    audio = rng.standard_normal((3, 4)).astype(np.float32)
    audio[2] = np.nan
    frame = predict(pretrained, vectors={"text": rng.standard_normal((3, 6)), "audio": audio})
    assert len(frame) == 3 and frame["sentiment"].between(-3, 3).all()
    with pytest.raises(ValueError, match="reads no raw text"):
        predict(pretrained, ["hello"])
    with pytest.raises(ValueError, match="row 0 has no input"):
        predict(pretrained, vectors={"audio": np.full((1, 4), np.nan)})


@pytest.mark.parametrize(
    ("damage", "named", "message"),
    [
        (lambda f: (f / WEIGHTS).unlink(), WEIGHTS, "missing"),
        (lambda f: (f / CONFIG).unlink(), CONFIG, "not an export folder"),
        (lambda f: _flip_last_byte(f / WEIGHTS), WEIGHTS, "sha256"),
        (lambda f: _edit(f, dims={"text": 7, "audio": 4, "vision": 2}), WEIGHTS, "do not fit"),
        (lambda f: _edit(f, model="no_such_model"), CONFIG, "cannot rebuild"),
        (lambda f: _edit(f, tasks="sentiment"), CONFIG, "invalid \\['tasks'\\]"),
        (lambda f: (f / CONFIG).write_text("{not json"), CONFIG, "unreadable"),
    ],
)
def test_damaged_export_is_one_line_naming_the_file(
    synthetic_export, tmp_path: Path, damage, named: str, message: str
) -> None:
    folder, _ = synthetic_export
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in folder.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    damage(copy)
    with pytest.raises(ExportError, match=message) as error:
        mm.load_pretrained(copy, device="cpu")
    assert str(error.value).startswith(str(copy / named)) and "\n" not in str(error.value)


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit(folder: Path, **changes: object) -> None:
    config = json.loads((folder / CONFIG).read_text())
    (folder / CONFIG).write_text(json.dumps({**config, **changes}))


def test_export_refuses_foreign_folder_and_unknown_text(synthetic_export, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    data = mm.load_dataset(
        "synthetic", n_train=8, n_valid=4, n_test=4, seq_len=1, dims={"text": 6, "audio": 4, "vision": 2}
    )
    run = mm.train_model(mm.build_model("linear_head", data.dims, data.tasks, SMALL), data, QUICK, seed=1)
    with pytest.raises(ExportError, match="holds other files"):
        mm.export(run, tmp_path, data)
    checkpoint = tmp_path / "hf-checkpoint"  # a folder with a config.json that no export wrote is never replaced
    checkpoint.mkdir()
    (checkpoint / CONFIG).write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ExportError, match="holds other files"):
        mm.export(run, checkpoint, data)
    assert (checkpoint / CONFIG).is_file()
    again = mm.export(run, tmp_path / "mine", data)
    assert mm.export(run, again, data) == again  # an earlier export is replaced
    hand_built = tiny_text_dataset()
    with pytest.raises(ValueError, match="does not record how its text was encoded"):
        text_encoding(hand_built)
    with pytest.raises(ValueError, match="differs from the dataset's fine-tuned text input"):
        text_encoding(hand_built, {"kind": "finetune", "max_tokens": 12, "freeze_layers": 4})


def test_text_encoding_lowercases_like_its_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    monkeypatch.setattr("mmolre.exports.config.text_features", lambda texts, *args: seen.append((texts, args)))
    TextEncoding(kind="sentence", lowercase=True).encode(["GREAT Film"])
    TextEncoding(kind="tokens", max_tokens=8).encode(["GREAT Film"])
    assert seen == [
        (["great film"], ("sentence", 32, 0, "all-MiniLM-L6-v2")),
        (["GREAT Film"], ("tokens", 8, 0, "all-MiniLM-L6-v2")),
    ]
