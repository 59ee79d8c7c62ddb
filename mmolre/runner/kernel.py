"""The Jupyter kernel the runner executes notebooks in: checking that it is this environment's interpreter, the
environment it gets, and echoing the progress lines it writes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mmolre.runner import RunnerError
from mmolre.runner.notebooks import KERNEL_NAME


def kernel_prefix(kernel_name: str = KERNEL_NAME) -> str:
    """``sys.prefix`` of the interpreter that the named Jupyter kernel starts."""
    from jupyter_client.kernelspec import KernelSpecManager

    argv = KernelSpecManager().get_kernel_spec(kernel_name).argv
    major, minor = sys.version_info[:2]
    executable = sys.executable if argv[0] in {"python", f"python{major}", f"python{major}.{minor}"} else argv[0]
    result = subprocess.run(
        [executable, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def check_kernel(kernel_name: str = KERNEL_NAME) -> None:
    """Refuse to run when the ``python3`` kernel is not this environment's interpreter."""
    prefix = kernel_prefix(kernel_name)
    if os.path.realpath(prefix) != os.path.realpath(sys.prefix):
        raise RunnerError(
            f"Jupyter kernel {kernel_name!r} runs in {prefix}, not in this environment ({sys.prefix}); "
            f"use ./run.sh, or set JUPYTER_PREFER_ENV_PATH=1 and run "
            f"`{sys.executable} -m ipykernel install --sys-prefix --name {kernel_name}`"
        )


@contextmanager
def kernel_environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the kernels started inside the block (they inherit this process's)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def echo_progress(path: Path, label: str, enabled: bool, interval: float = 0.25) -> Iterator[None]:
    """While the block runs, print every complete line appended to ``path`` as ``  [label] line``."""
    if not enabled:
        yield
        return
    stop = threading.Event()
    offset = 0

    def drain() -> None:
        nonlocal offset
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
        except FileNotFoundError:
            return
        complete = chunk[: chunk.rfind(b"\n") + 1]
        offset += len(complete)
        for line in complete.decode("utf-8", errors="replace").splitlines():
            print(f"  [{label}] {line}", flush=True)

    def follow() -> None:
        while not stop.wait(interval):
            drain()

    thread = threading.Thread(target=follow, name=f"progress-{label}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        drain()
