"""Text encoders: the split-zip checkpoint assembled and checked, a tiny randomly initialised MPNet of the real
architecture fine-tuned inside a model (never the real weights), and the text cache verified on read."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import mmolre.data.text_encoder as text_encoder
from mmolre.data.encoders import Part, SplitCheckpoint, assemble, checkpoint_dir
from mmolre.nn.text_encoder import TextEncoder

WORDS = ["the", "film", "was", "wonderful", "boring", "not", "good", "ending"]


def tiny_mpnet(folder: Path) -> Path:
    """A 2-layer, width-16 MPNet with random weights and a word-level tokenizer, saved like a real checkpoint."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import MPNetConfig, MPNetModel, PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(["<s>", "<pad>", "</s>", "<unk>", *WORDS])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = MPNetConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=40,
    )
    MPNetModel(config).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MMOLRE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_tiny_mpnet_top_layer_matches_the_whole_encoder(tmp_path: Path, cache: Path) -> None:
    folder = str(tiny_mpnet(tmp_path / "tiny-mpnet"))
    texts = ["the film was wonderful", "not good", "boring ending the ending"]
    ids = text_encoder.text_features(texts, "finetune", max_tokens=8, freeze_layers=0, encoder=folder)
    states = text_encoder.text_features(texts, "finetune", max_tokens=8, freeze_layers=1, encoder=folder)
    assert ids.text_input.layers == 2 and ids.text_input.hidden == 16 and states.text_input.layer == 1
    assert ids.lengths.tolist() == [6, 4, 6]  # <s> words </s>
    id_values, lengths = ids.take(range(3))
    state_values, _ = states.take(range(3))
    mask = torch.arange(id_values.shape[1])[None] < lengths[:, None]
    whole, top = TextEncoder(ids.text_input).eval(), TextEncoder(states.text_input).eval()
    assert len(whole.layers) == 2 and len(top.layers) == 1
    names = {name for name, _ in top.named_parameters()}
    assert any("relative_attention_bias" in name for name in names)  # MPNet's position bias is held and trained
    with torch.no_grad():
        full, upper = whole(id_values, mask), top(state_values.float(), mask)
    real = mask[..., None]
    assert torch.allclose(full * real, upper * real, atol=2e-2)  # the cached states are float16
    assert not torch.allclose(full[0, :6], full[2, :6])


def test_tiny_mpnet_trains_inside_a_model_with_lora_targets(tmp_path: Path, cache: Path) -> None:
    folder = str(tiny_mpnet(tmp_path / "tiny-mpnet"))
    features = text_encoder.text_features(["the film", "not good"], "finetune", max_tokens=8, encoder=folder)
    lora = TextEncoder(features.text_input, lora_rank=2)
    trainable = [name for name, parameter in lora.named_parameters() if parameter.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)
    assert {name.split(".lora_")[0].rsplit(".", 1)[-1] for name in trainable} == {"q", "k", "v", "o", "dense"}
    values, lengths = features.take(range(2))
    mask = torch.arange(values.shape[1])[None] < lengths[:, None]
    encoder = TextEncoder(features.text_input).train()
    encoder(values, mask)[mask].pow(2).mean().backward()
    missing = [name for name, p in encoder.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    # the pooler-free stack: every weight of the embeddings and both layers gets a gradient (padding ids excepted)
    assert missing == [], missing


def _split_zip(tmp_path: Path, files: dict[str, bytes], pieces: int = 3) -> tuple[SplitCheckpoint, list[Path]]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(f"ckpt/{name}", content)
        archive.writestr("ckpt/desktop.ini", b"skipped")
    blob = buffer.getvalue()
    size = -(-len(blob) // pieces)
    paths, parts = [], []
    for i in range(pieces):
        chunk = blob[i * size : (i + 1) * size]
        path = tmp_path / f"part{i}"
        path.write_bytes(chunk)
        paths.append(path)
        parts.append(Part(f"fake-part-{i}", f"input/x.zip.{i}", len(chunk), hashlib.sha256(chunk).hexdigest()))
    recorded = {name: (len(content), hashlib.sha256(content).hexdigest()) for name, content in files.items()}
    return SplitCheckpoint("fake", "1", tuple(parts), "ckpt", recorded), paths


def test_split_checkpoint_assembled_once_and_every_fault_named(tmp_path: Path) -> None:
    files = {"config.json": json.dumps({"a": 1}).encode(), "model.safetensors": bytes(range(256)) * 40}
    spec, parts = _split_zip(tmp_path, files)
    target = assemble(spec, parts, tmp_path / "out")
    assert sorted(p.name for p in target.iterdir()) == [".mmolre-verified", "config.json", "model.safetensors"]
    assert (target / "model.safetensors").read_bytes() == files["model.safetensors"]
    parts[0].write_bytes(b"")  # once verified, the parts are not read again
    assert assemble(spec, parts, tmp_path / "out") == target

    spec, parts = _split_zip(tmp_path, files)
    parts[1].unlink()
    with pytest.raises(ValueError, match="fake-part-1 is missing"):
        assemble(spec, parts, tmp_path / "a")
    spec, parts = _split_zip(tmp_path, files)
    parts[2].write_bytes(parts[2].read_bytes() + b"x")
    with pytest.raises(ValueError, match="fake-part-2 has .* bytes, expected"):
        assemble(spec, parts, tmp_path / "b")
    spec, parts = _split_zip(tmp_path, files)
    flipped = bytearray(parts[0].read_bytes())
    flipped[-1] ^= 1
    parts[0].write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="fake-part-0 differs from its recorded sha256"):
        assemble(spec, parts, tmp_path / "c")
    spec, parts = _split_zip(tmp_path, files)
    wrong = SplitCheckpoint(spec.name, "1", spec.parts, "ckpt", {**spec.files, "config.json": (9, "0" * 64)})
    with pytest.raises(ValueError, match="config.json unpacked from the packages differs"):
        assemble(wrong, parts, tmp_path / "d")
    assert not (tmp_path / "d").exists() and not list(tmp_path.glob("d.tmp*"))  # nothing half-made is left


def test_uninstalled_package_and_unknown_encoder_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import mmolre.data.encoders as encoders

    spec = SplitCheckpoint("fake", "1", (Part("no-such-package-xyz", "a/b", 1, "0" * 64),), "ckpt", {"x": (1, "0")})
    monkeypatch.setenv("MMOLRE_CACHE_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="needs the package no-such-package-xyz, which is not installed"):
        encoders.assemble(spec)
    with pytest.raises(ValueError, match="not one of .*'minilm', 'mpnet'"):
        checkpoint_dir(str(tmp_path / "nothing-here"))


def test_damaged_cache_entry_is_recomputed_with_a_warning(cache: Path) -> None:
    texts = ["the film was wonderful", "not good"]
    first = text_encoder.text_features(texts, "finetune", max_tokens=8, freeze_layers=0)
    entry = next(p for p in (cache / "text").glob("*-ids-8-*.npy"))
    entry.write_bytes(entry.read_bytes()[:-7])  # truncated
    with pytest.warns(UserWarning, match=f"text cache entry {entry}.* is damaged"):
        again = text_encoder.text_features(texts, "finetune", max_tokens=8, freeze_layers=0)
    np.testing.assert_array_equal(again.values, first.values)
    np.save(entry, first.values[:, :3])  # another shape, still a valid .npy
    with pytest.warns(UserWarning, match="damaged"):
        np.testing.assert_array_equal(text_encoder.text_features(texts, "finetune", max_tokens=8).values, first.values)
    edited = first.values.copy()
    edited[0, 1] += 1
    np.save(entry, edited)  # same shape and dtype, other contents
    with pytest.warns(UserWarning, match="recorded sha256"):
        np.testing.assert_array_equal(text_encoder.text_features(texts, "finetune", max_tokens=8).values, first.values)


def test_descriptions_say_how_much_of_a_fine_tuned_encoder_trains() -> None:
    from mmolre.data.registry import text_description

    assert text_encoder.describe_text("finetune", "mpnet", 6).endswith("6 lower layers frozen")
    assert text_encoder.describe_text("finetune", "mpnet", 0).endswith("every layer trained")
    options = {"text_kind": "finetune", "encoder": "mpnet", "freeze_layers": 0}
    assert text_description(options) == "mpnet fine-tuned (every layer trained)"
    assert text_description({**options, "freeze_layers": 3}) == "mpnet fine-tuned (3 lower layers frozen)"
