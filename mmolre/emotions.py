"""The emotion vocabularies: CMU-MOSEI's six emotions (multi-label intensities) and IEMOCAP's four classes."""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("happy", "sad", "anger", "surprise", "disgust", "fear")
"""CMU-MOSEI's emotions, in the order of the label columns and of a model's six emotion logits."""
EMOTION4_CLASSES: tuple[str, ...] = ("happy", "sad", "neutral", "angry")
"""IEMOCAP four-class labels 0..3 in the GCNet/MCULoRA pickle; ``happy`` includes ``excited`` (merged there)."""
