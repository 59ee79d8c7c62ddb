"""Layers shared by every model: the low-rank expert and its task mixture, the LoRA adapter, MCLA."""

from mmolre.nn.experts import LowRankExpert, TaskMixture
from mmolre.nn.lora import LoRA
from mmolre.nn.mcla import MCLA

__all__ = ["LoRA", "LowRankExpert", "MCLA", "TaskMixture"]
