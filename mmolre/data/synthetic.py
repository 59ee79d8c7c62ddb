"""Synthetic MOSI/MOSEI-shaped data with planted shared and task-specific structure (the quick default dataset).

Three groups of latent factors per sample: ``z_shared`` drives both tasks, ``z_sent`` only sentiment and ``z_emo``
only the emotions. The emotion targets use ``z_emo`` through pairwise products (noise for the sentiment task) and
use the sentiment-only direction with the opposite sign (happiness rises with the shared valence but falls with
``z_sent``), so a single shared "valence" feature cannot serve both tasks: a hard-shared trunk has to split its
capacity, while shared + task-specific experts need not. With ``sent_interaction > 0`` (default 0) sentiment also
depends on products of disjoint pairs of ``z_sent`` factors, so each task needs several directions of its own and,
with more factors than a model's width, a hard-shared trunk must drop some of them while per-task streams need
not. Each modality is a noisy random projection of a subset of the latents over a short sequence, with text
strongest, audio medium and vision weakest.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch

from mmolre.data.dataset import SPLITS, MultimodalDataset, SplitData
from mmolre.emotions import EMOTIONS
from mmolre.modalities import MODALITIES, zero_missing

CARDS: dict[str, dict[str, int]] = {
    "mosi": {"text": 768, "audio": 5, "vision": 20},
    "mosei": {"text": 768, "audio": 74, "vision": 35},
}


@dataclass
class SyntheticStructure:
    """The planted generative structure; every field can be passed to :func:`make_synthetic` as a keyword."""

    k_shared: int = 4
    k_sent: int = 3
    k_emo: int = 4
    strength: dict[str, float] = field(default_factory=lambda: {"text": 1.0, "audio": 0.5, "vision": 0.35})
    sees: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "text": ("shared", "sent", "emo"),
            "audio": ("shared", "sent", "emo"),
            "vision": ("shared", "emo"),
        }
    )
    conflict: float = 1.0
    interaction: float = 1.0
    sent_interaction: float = 0.0
    label_noise: float = 0.3
    nonlinear: bool = True
    effective_dims: float = 8.0
    missing_rate: float = 0.0


def _latents(rng: np.random.Generator, n: int, s: SyntheticStructure) -> dict[str, np.ndarray]:
    return {
        "shared": rng.standard_normal((n, s.k_shared)),
        "sent": rng.standard_normal((n, s.k_sent)),
        "emo": rng.standard_normal((n, s.k_emo)),
    }


def _unit(rng: np.random.Generator, k: int) -> np.ndarray:
    v = rng.standard_normal(k)
    return v / np.linalg.norm(v)


def _targets(rng: np.random.Generator, z: dict[str, np.ndarray], s: SyntheticStructure, emotions: bool):
    n = z["shared"].shape[0]
    valence = z["shared"] @ _unit(rng, s.k_shared)
    private = z["sent"] @ _unit(rng, s.k_sent)
    # disjoint pairs of sentiment-only factors: each product needs its own two directions of the representation
    products = sum(z["sent"][:, i] * z["sent"][:, i + 1] for i in range(0, s.k_sent - 1, 2))
    sentiment = np.clip(
        1.2 * valence + 1.0 * private + s.sent_interaction * products + s.label_noise * rng.standard_normal(n),
        -3.0,
        3.0,
    )
    if not emotions:
        return sentiment, None
    # happy follows valence, the negative emotions oppose it; all oppose the sentiment-only direction.
    valence_sign = np.array([1.0, -1.0, -1.0, 0.3, -1.0, -0.6])
    pairs = [(i, j) for i in range(s.k_emo) for j in range(i + 1, s.k_emo)] or [(0, 0)]
    logits = np.empty((n, len(EMOTIONS)))
    for e in range(len(EMOTIONS)):
        i, j = pairs[rng.integers(len(pairs))]
        logits[:, e] = (
            0.8 * valence_sign[e] * valence
            - s.conflict * abs(valence_sign[e]) * private
            + s.interaction * z["emo"][:, i] * z["emo"][:, j]
            + 0.5 * z["emo"] @ _unit(rng, s.k_emo)
            + s.label_noise * rng.standard_normal(n)
            - 0.5
        )
    intensity = np.clip(np.round(3.0 * np.maximum(logits, 0.0)) / 3.0, 0.0, 3.0)
    return sentiment, intensity


def _modality(
    rng: np.random.Generator,
    z: dict[str, np.ndarray],
    groups: tuple[str, ...],
    dim: int,
    seq_len: int,
    strength: float,
    nonlinear: bool,
    effective_dims: float,
) -> np.ndarray:
    latent = np.concatenate([z[g] for g in groups], axis=1)
    n, k = latent.shape
    projection = rng.standard_normal((k, dim)) / math.sqrt(k)
    signal = latent @ projection
    if nonlinear:
        signal = np.tanh(signal) + 0.5 * signal
    envelope = rng.dirichlet(np.ones(seq_len), size=n) * seq_len  # how strongly each step carries the signal
    noise = rng.standard_normal((n, seq_len, dim))
    amplitude = strength * math.sqrt(effective_dims / dim)  # same signal-to-noise ratio whatever the width
    return (amplitude * envelope[:, :, None] * signal[:, None, :] + noise).astype(np.float32)


def make_synthetic(
    card: str = "mosei",
    n_train: int = 600,
    n_valid: int = 150,
    n_test: int = 150,
    seq_len: int = 8,
    seed: int = 0,
    dims: dict[str, int] | None = None,
    dim_scale: float = 1.0,
    **structure: object,
) -> MultimodalDataset:
    """Build a seeded synthetic dataset with the feature widths of ``card`` (``"mosi"`` or ``"mosei"``).

    ``dims`` sets explicit widths per modality; otherwise the card widths are multiplied by ``dim_scale``
    (at least 2). Extra keywords set fields of :class:`SyntheticStructure`. The ``mosi`` card has no emotions.
    """
    if card not in CARDS:
        raise ValueError(f"unknown synthetic card {card!r}; expected one of {sorted(CARDS)}")
    known = {f.name for f in fields(SyntheticStructure)}
    unknown = sorted(set(structure) - known)
    if unknown:
        raise ValueError(f"unknown synthetic option(s) {unknown}; valid: {sorted(known)}")
    sizes = {"train": n_train, "valid": n_valid, "test": n_test}
    for split, n in sizes.items():
        if n < 1:
            raise ValueError(f"n_{split} must be positive, got {n}")
    if seq_len < 1 or dim_scale <= 0:
        raise ValueError(f"seq_len must be >= 1 and dim_scale > 0, got {seq_len} and {dim_scale}")
    s = SyntheticStructure(**structure)  # type: ignore[arg-type]
    if not 0.0 <= s.missing_rate < 1.0:
        raise ValueError(f"missing_rate must be in [0, 1), got {s.missing_rate}")
    widths = dict(dims) if dims else {m: max(2, round(d * dim_scale)) for m, d in CARDS[card].items()}
    if set(widths) != set(MODALITIES) or min(widths.values()) < 1:
        raise ValueError(f"dims must give a positive width for each of {MODALITIES}, got {widths}")

    rng = np.random.default_rng(seed)
    total = sum(sizes.values())
    z = _latents(rng, total, s)
    sentiment, emotions = _targets(rng, z, s, emotions=(card == "mosei"))
    features = {
        m: _modality(rng, z, s.sees[m], widths[m], seq_len, s.strength[m], s.nonlinear, s.effective_dims)
        for m in MODALITIES
    }
    mask = np.ones((total, len(MODALITIES)), dtype=bool)
    if s.missing_rate > 0:
        drop = rng.random((total, len(MODALITIES))) < s.missing_rate
        drop[drop.all(axis=1), 0] = False  # never drop every modality: keep text
        mask &= ~drop

    splits, start = {}, 0
    for split in SPLITS:
        part = slice(start, start + sizes[split])
        start += sizes[split]
        present = torch.from_numpy(mask[part].copy())
        splits[split] = SplitData(
            features=zero_missing({m: torch.from_numpy(features[m][part].copy()) for m in MODALITIES}, present),
            mask=present,
            sentiment=torch.tensor(sentiment[part], dtype=torch.float32),
            emotions=None if emotions is None else torch.tensor(emotions[part], dtype=torch.float32),
            ids=[f"syn_{seed}_{split}_{i}" for i in range(sizes[split])],
        )
    notes = {
        "synthetic": True,
        "seed": seed,
        "card": card,
        "seq_len": seq_len,
        "dims": widths,
        "structure": asdict(s),
        "factors": {
            "shared": "drives sentiment and all emotions",
            "sent": "sentiment only; enters emotions with the opposite sign (task conflict)",
            "emo": "emotions only, through pairwise products (noise for sentiment)",
        },
    }
    description = (
        f"SYNTHETIC data (not a benchmark): {card.upper()}-shaped features with planted shared / "
        f"sentiment-only / emotion-only latent factors, seed {seed}. Modality signal strength "
        f"text {s.strength['text']}, audio {s.strength['audio']}, vision {s.strength['vision']}."
    )
    return MultimodalDataset(
        name=f"synthetic_{card}", splits=splits, real_modalities=(), description=description, notes=notes
    )
