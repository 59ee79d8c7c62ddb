"""The one registry: every model name -> its configuration class and how it is built, and every
incomplete-modality method -> the model it trains and how its modality combinations are sampled.

MMoLRE-family names share :class:`~mmolre.models.mmolre.MultitaskModel` and differ only in their
:class:`~mmolre.models.mmolre.BlockSpec`; ``linear_head`` (:class:`~mmolre.models.linear_head.LinearHeadModel`)
takes the same :class:`~mmolre.models.mmolre_config.ModelConfig` and input path without any mixture; MCULoRA names
share :class:`~mmolre.models.mculora.MCULoRA`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from mmolre.config import StrictConfig
from mmolre.data.text_encoder import TextInput
from mmolre.messages import shown
from mmolre.modalities import MODALITIES
from mmolre.models.base import AffectModel
from mmolre.models.linear_head import LinearHeadModel
from mmolre.models.mculora import MCULoRA
from mmolre.models.mculora_config import MCULoRAConfig
from mmolre.models.mmolre import BlockSpec, MultitaskModel
from mmolre.models.mmolre_config import ModelConfig
from mmolre.plugins import import_env_plugins
from mmolre.tasks import TASKS, check_tasks


def _mmolre(config: ModelConfig, tasks: tuple[str, ...]) -> BlockSpec:
    return BlockSpec(
        config.ranks(),
        config.specific_rank,
        config.top_k,
        config.router_noise,
        False,
        config.blocks,
        config.block_form(),
    )


def _dense(full_rank: bool, shared_router: bool) -> Callable[[ModelConfig, tuple[str, ...]], BlockSpec]:
    def spec(config: ModelConfig, tasks: tuple[str, ...]) -> BlockSpec:
        ranks = tuple(config.dim for _ in config.ranks()) if full_rank else config.ranks()
        if not ranks:
            raise ValueError("MoE / MMoE models need n_shared >= 1")
        # a dense softmax gate without noise; the block's form (maps, norms, static branch, granularity) as MMoLRE's
        form = dataclasses.replace(config.block_form(), learned_noise=False)
        return BlockSpec(ranks, None, None, 0.0, shared_router, config.blocks, form)

    return spec


def _hard_sharing(config: ModelConfig, tasks: tuple[str, ...]) -> BlockSpec:
    rank = min(config.dim, sum(config.ranks()) + len(tasks) * (config.specific_rank or 0))
    return BlockSpec((max(rank, 1),), None, None, 0.0, False, config.blocks, config.block_form(), hard_shared=True)


def _single_task(config: ModelConfig, tasks: tuple[str, ...]) -> BlockSpec:
    if len(tasks) != 1:
        raise ValueError(f"single_task models take exactly one task, got {tasks}; build one model per task")
    return _mmolre(config, tasks)


def _no_shared(config: ModelConfig, tasks: tuple[str, ...]) -> BlockSpec:
    if config.specific_rank is None:
        raise ValueError("mmolre_no_shared needs specific_rank to be set")
    return dataclasses.replace(_mmolre(config, tasks), shared_ranks=())


def _no_specific(config: ModelConfig, tasks: tuple[str, ...]) -> BlockSpec:
    if not config.n_shared:
        raise ValueError("mmolre_no_specific needs n_shared >= 1")
    return dataclasses.replace(_mmolre(config, tasks), specific_rank=None)


_BLOCK_SPECS: dict[str, Callable[[ModelConfig, tuple[str, ...]], BlockSpec]] = {
    "mmolre": _mmolre,
    "single_task": _single_task,
    "hard_sharing": _hard_sharing,
    "moe": _dense(full_rank=False, shared_router=True),
    "mmoe": _dense(full_rank=False, shared_router=False),
    "moe_full": _dense(full_rank=True, shared_router=True),
    "mmoe_full": _dense(full_rank=True, shared_router=False),
    "mmolre_no_shared": _no_shared,
    "mmolre_no_specific": _no_specific,
}


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its configuration class, its builder ``(name, dims, tasks, config) -> model`` and the
    name tables and figures show (empty: the registered name itself)."""

    config_class: type[StrictConfig]
    build: Callable[[str, dict[str, int], tuple[str, ...], StrictConfig, TextInput | None], AffectModel]
    display: str = ""


def _multitask(
    name: str, dims: dict[str, int], tasks: tuple[str, ...], config: StrictConfig, text_input: TextInput | None
) -> AffectModel:
    spec = _BLOCK_SPECS[name](config, tasks)  # type: ignore[arg-type]
    return MultitaskModel(name, dims, tasks, config, spec, text_input)  # type: ignore[arg-type]


def _linear_head(
    name: str, dims: dict[str, int], tasks: tuple[str, ...], config: StrictConfig, text_input: TextInput | None
) -> AffectModel:
    return LinearHeadModel(name, dims, tasks, config, text_input)  # type: ignore[arg-type]


def _mculora(
    name: str, dims: dict[str, int], tasks: tuple[str, ...], config: StrictConfig, text_input: TextInput | None
) -> AffectModel:
    if text_input is not None:
        raise ValueError(f"{name} does not fine-tune a text encoder; load the dataset with text_kind sentence/tokens")
    if name == "mculora_plain":
        config = config.replace(rank=0, mlp_rank=0)
    return MCULoRA(name, dims, tasks, config, inline=name == "mcla_inline")  # type: ignore[arg-type]


_DISPLAY = {
    "mmolre": "MMoLRE",
    "single_task": "single-task (x2)",
    "hard_sharing": "hard sharing",
    "moe_full": "MoE, full rank",
    "mmoe_full": "MMoE, full rank",
}
MODELS: dict[str, ModelEntry] = {
    **{name: ModelEntry(ModelConfig, _multitask, _DISPLAY.get(name, "")) for name in _BLOCK_SPECS},
    "linear_head": ModelEntry(ModelConfig, _linear_head, "encoder + linear head"),  # per task, no experts
    "mculora": ModelEntry(MCULoRAConfig, _mculora, "MCULoRA"),  # MCLA with decoupled combination streams (published)
    "mcla_inline": ModelEntry(MCULoRAConfig, _mculora),  # ablation: the LoRA inline (tables show its Method name)
    "mculora_plain": ModelEntry(MCULoRAConfig, _mculora),  # the same backbone with plain linear layers
}
_MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class RegistryNames(Sequence[str]):
    """The names of a registry as a read-only sequence that stays current (a plugin's registrations included);
    equal to the tuple of the names."""

    def __init__(self, registry: Mapping[str, object]) -> None:
        self._registry = registry

    def __getitem__(self, index):  # an int or a slice, as for a tuple
        return tuple(self._registry)[index]

    def __len__(self) -> int:
        return len(self._registry)

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._registry))

    def __contains__(self, name: object) -> bool:
        return name in self._registry

    def __eq__(self, other: object) -> bool:
        return tuple(self) == other if isinstance(other, tuple) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(tuple(self))


MODEL_NAMES: Sequence[str] = RegistryNames(MODELS)
"""Every registered model name, :func:`register_model`'s included."""
MMOLRE_FAMILY: tuple[str, ...] = (*_BLOCK_SPECS, "linear_head")
"""Names that take a :class:`ModelConfig`: :class:`MultitaskModel` (MMoLRE, its ablations and the multitask
baselines) and the linear head."""


@dataclass(frozen=True)
class Method:
    """An incomplete-modality method: the registered model it trains, its combination sampler (a name of
    :data:`mmolre.protocols.samplers.SAMPLERS` or ``None`` = full modalities only) and the name tables show."""

    model: str
    sampler: str | None
    display: str


METHODS: dict[str, Method] = {
    # MCULoRA: MCLA + DPFT, April rule (JS, modality Bernoulli) / August rule (accuracy change, tan)
    "mculora_js": Method("mculora", "dpft_js", "MCULoRA (DPFT, April JS rule)"),
    "mculora_acc": Method("mculora", "dpft_acc", "MCULoRA (DPFT, August accuracy rule)"),
    "mculora_fusion_js": Method("mculora", "dpft_fusion_js", "MCLA + fusion-JS DPFT"),  # our earlier categorical rule
    "mcla_uniform": Method("mculora", "uniform", "MCLA without DPFT"),
    "mcla_inline": Method("mcla_inline", "uniform", "inline MCLA without DPFT"),  # compare: mcla_uniform
    "dropout_uniform": Method("mculora_plain", "uniform", "uniform modality dropout"),  # plain backbone
    "full_only": Method("mculora_plain", None, "full modalities only"),  # plain backbone
    "mmolre_dropout": Method("mmolre", "uniform", "MMoLRE + modality dropout"),
}
METHOD_NAMES: tuple[str, ...] = tuple(METHODS)


def register_model(
    name: str,
    build: Callable[..., AffectModel] | None = None,
    config: type[StrictConfig] = ModelConfig,
    replace: bool = False,
    display: str = "",
) -> Callable:
    """Register ``build`` as the model ``name`` configured by ``config`` (a :class:`StrictConfig` dataclass; default
    the MMoLRE family's :class:`ModelConfig`), without editing the package (see ``docs/extending.md``); without
    ``build``, a decorator. Returns ``build``.

    ``build(name, dims, tasks, config, text_input) -> AffectModel``: an :class:`AffectModel` subclass with that
    constructor is its own builder. ``display`` is the name tables and figures show (default: ``name``). A name
    already registered is refused unless ``replace``.
    """
    if build is None:
        return lambda function: register_model(name, function, config, replace, display)
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
        raise ValueError(f"model name must be lower-case letters, digits and '_', got {shown(name)}")
    if name in MODELS and not replace:
        raise ValueError(f"model {name!r} is already registered; pass replace=True to replace it")
    if not (isinstance(config, type) and issubclass(config, StrictConfig) and dataclasses.is_dataclass(config)):
        raise ValueError(
            f"model {name!r}: config must be a StrictConfig dataclass (e.g. ModelConfig), got {shown(config)}"
        )
    if not callable(build):
        raise ValueError(f"model {name!r}: the builder must be callable, got {type(build).__name__}")
    if not isinstance(display, str):
        raise ValueError(f"model {name!r}: display must be a string, got {shown(display)}")
    MODELS[name] = ModelEntry(config, build, display)
    return build


def display_name(name: str) -> str:
    """The name tables and figures show for a model or incomplete-modality method (``name`` itself when it has
    none, or is not registered)."""
    if name in METHODS:
        return METHODS[name].display
    entry = MODELS.get(name)
    return entry.display if entry is not None and entry.display else name


def config_class(name: str) -> type[StrictConfig]:
    """The configuration class of a registered model."""
    if name not in MODELS:
        import_env_plugins()  # a notebook kernel imports the plugins its parameter file named
    if name not in MODELS:
        raise ValueError(f"unknown model name {name!r}; known models are {MODEL_NAMES}")
    return MODELS[name].config_class


def task_groups(name: str, tasks: Sequence[str]) -> list[tuple[str, ...]]:
    """The task sets of the models that registered model ``name`` trains on ``tasks``: ``single_task`` one model per
    task, every other model one for all of them."""
    return [(task,) for task in tasks] if name == "single_task" else [tuple(tasks)]


def build_model(
    name: str,
    dims: Mapping[str, int],
    tasks: tuple[str, ...] = TASKS,
    config: StrictConfig | None = None,
    text_input: TextInput | None = None,
) -> AffectModel:
    """Build a registered model (:data:`MODEL_NAMES`) for modality widths ``dims`` and the given tasks.

    ``text_input`` (a dataset's, for text kind ``finetune``) puts the trainable top layers of that text encoder
    inside the model.
    """
    wanted = config_class(name)
    config = wanted() if config is None else config
    if not isinstance(config, wanted):
        raise ValueError(f"model {name!r} takes a {wanted.__name__}, got {type(config).__name__}")
    tasks = check_tasks(tasks)
    unknown = [m for m in dims if m not in MODALITIES]
    if unknown or not dims:
        raise ValueError(f"dims must map at least one of {MODALITIES} to a width, got {dict(dims)}")
    bad = {m: d for m, d in dims.items() if not isinstance(d, int) or d < 1}
    if bad:
        raise ValueError(f"modality widths must be positive integers, got {bad}")
    return MODELS[name].build(name, dict(dims), tasks, config, text_input)
