"""User plugins: modules that register models and datasets (:func:`mmolre.register_model`,
:func:`mmolre.register_dataset`) without editing the package, see ``docs/extending.md``.

A parameter file names them (``plugins: [my_baselines]``): :func:`load_plugins` imports each module and records it in
``$MMOLRE_PLUGINS`` (and its folder in ``$MMOLRE_PLUGIN_PATH``), so the notebook kernels the runner starts afterwards,
which inherit the environment, import the same modules the first time they look up a name the package does not know
(:func:`import_env_plugins`). A plugin module must be importable: installed, or on ``sys.path`` / ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path

from mmolre.messages import cut, shown

PLUGINS_ENV = "MMOLRE_PLUGINS"
PLUGIN_PATH_ENV = "MMOLRE_PLUGIN_PATH"
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_imported_from_env: set[str] = set()


def _environment_list(name: str, separator: str) -> list[str]:
    return [item for item in os.environ.get(name, "").split(separator) if item]


def load_plugins(names: object, where: str = "plugins") -> list[str]:
    """Import the plugin modules ``names`` (a list of module names) and name them in the environment for notebook
    kernels started later; a bad name, a module that is not found or one that fails is a ValueError naming it."""
    if not isinstance(names, (list, tuple)) or not all(isinstance(name, str) for name in names):
        raise ValueError(f"{where}: plugins must be a list of module names, got {shown(names)}")
    for name in names:
        if not _MODULE.fullmatch(name):
            raise ValueError(f"{where}: plugin {shown(name)} is not a module name (e.g. my_baselines or pkg.models)")
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name and (error.name == name or name.startswith(error.name + ".")):
                raise ValueError(
                    f"{where}: plugin module {name!r} not found; install it or put its folder on PYTHONPATH"
                ) from None
            raise ValueError(f"{where}: plugin module {name!r} failed on import ({cut(str(error), 200)})") from None
        except Exception as error:  # a plugin's own code may raise anything while it registers
            raise ValueError(
                f"{where}: plugin module {name!r} failed on import ({type(error).__name__}: {cut(str(error), 200)})"
            ) from None
        _remember(name, module.__file__)
    return list(names)


def _remember(name: str, file: str | None) -> None:
    """Name the module (and the folder it is imported from) in the environment, once each."""
    plugins = _environment_list(PLUGINS_ENV, ",")
    if name not in plugins:
        os.environ[PLUGINS_ENV] = ",".join([*plugins, name])
    if file is None:
        return
    folder = Path(file).resolve().parent
    for _ in name.split(".")[1:] + (["package"] if Path(file).name == "__init__.py" else []):
        folder = folder.parent  # the folder holding the top-level package
    paths = _environment_list(PLUGIN_PATH_ENV, os.pathsep)
    if str(folder) not in paths:
        os.environ[PLUGIN_PATH_ENV] = os.pathsep.join([*paths, str(folder)])


def import_env_plugins() -> None:
    """Import the plugin modules named in ``$MMOLRE_PLUGINS`` that this process has not imported yet (called when a
    model or dataset name is not registered; a notebook kernel gets its plugins this way)."""
    wanted = [name for name in _environment_list(PLUGINS_ENV, ",") if name not in _imported_from_env]
    if not wanted:
        return
    for folder in _environment_list(PLUGIN_PATH_ENV, os.pathsep):
        if folder not in sys.path:
            sys.path.append(folder)
    _imported_from_env.update(wanted)
    load_plugins(wanted, f"${PLUGINS_ENV}")
