"""Layers shared by every model: the low-rank expert and its task mixture, the LoRA adapter, MCLA."""

from mmolre.nn.experts import LowRankExpert
from mmolre.nn.lora import LoRA
from mmolre.nn.mcla import MCLA
from mmolre.nn.mixture import TaskMixture

__all__ = ["LoRA", "LowRankExpert", "MCLA", "TaskMixture"]
