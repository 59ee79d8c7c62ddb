"""Parameter files: strict loading of ``params/*.yaml`` (a key given twice in one mapping is an error, where YAML
would keep the last one; ``plugins:`` are imported before anything is checked) and the command line's
``-p NAME VALUE`` overrides."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path

import yaml

from mmolre.messages import cut, shown
from mmolre.plugins import load_plugins
from mmolre.runner import RunnerError


class _DuplicateKey(yaml.YAMLError):
    """A mapping of a parameter file names the same key twice."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (plain YAML keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        first: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):  # the base class reports unhashable keys
                continue
            line = key_node.start_mark.line + 1
            if key in first:
                raise _DuplicateKey(
                    f"line {line}: duplicate key {shown(key)} (first given at line {first[key]}); "
                    "each key may appear only once in a mapping"
                )
            first[key] = line
        return super().construct_mapping(node, deep)


def load_param_file(path: Path | None) -> dict[str, object]:
    """Read a YAML parameter file (``None`` -> empty); the top level must be a mapping without duplicate keys."""
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file():
        raise RunnerError(f"parameter file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise RunnerError(f"parameter file {path} is not UTF-8 text (byte {error.start}); it must be YAML") from None
    except OSError as error:
        raise RunnerError(f"parameter file {path} cannot be read: {error.strerror}") from None
    try:
        content = yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as error:
        raise RunnerError(f"parameter file {path}, {error}") from None
    except yaml.YAMLError as error:
        raise RunnerError(f"parameter file {path} is not valid YAML: {cut(str(error), 300)}") from None
    except RecursionError:
        raise RunnerError(f"parameter file {path} nests too deeply to be a parameter file") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise RunnerError(f"parameter file {path} must be a mapping at the top level, got {type(content).__name__}")
    if "plugins" in content:  # modules registering models and datasets, imported before anything is checked
        try:
            load_plugins(content.pop("plugins"), f"parameter file {path}")
        except ValueError as error:
            raise RunnerError(str(error)) from None
    return content


def apply_overrides(
    settings: dict[str, object], overrides: Sequence[tuple[str, str]], source: str
) -> dict[str, object]:
    """``settings`` of a parameter file with command-line ``-p NAME VALUE`` overrides applied: each VALUE is read as
    YAML (``3``, ``[1111, 1112]``, ``{dim: 64}``, text), ``profile`` replaces the profile, any other name is set for
    every notebook (in ``common`` and in each notebook section that sets it), so it is checked like a file value."""
    result = dict(settings)
    common = result.get("common") or {}
    if not isinstance(common, dict):
        raise RunnerError(f"{source}: 'common' must be a mapping, got {shown(common)}")
    common = dict(common)
    for name, text in overrides:
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise RunnerError(f"-p {name}: the value {shown(text)} is not valid YAML") from None
        if name == "profile":
            result["profile"] = value
            continue
        common[name] = value
        for section, content in result.items():
            if isinstance(content, dict) and section != "common" and name in content:
                result[section] = {**content, name: value}
    result["common"] = common
    return result
