"""mmolre: low-rank mixture-of-experts models for multimodal sentiment and emotion recognition."""

__version__ = "0.1.0"
