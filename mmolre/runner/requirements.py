"""What a parameter file needs before anything runs (its ``requires`` section): a CUDA GPU, local checkpoints.

```yaml
requires:
  cuda: true                        # stop unless torch sees a CUDA GPU
  checkpoints: [/path/to/roberta-large]   # each a local Hugging Face checkpoint directory (config.json inside)
```
"""

from __future__ import annotations

from pathlib import Path

from mmolre.runner import RunnerError

KEYS = ("cuda", "checkpoints")


def _cuda() -> bool:
    import torch  # imported only when a parameter file asks for a GPU

    return torch.cuda.is_available()


def requirement_problems(requires: object, source: str) -> list[str]:
    """What is missing on this machine for ``requires`` (empty: everything is there); malformed sections raise
    ValueError naming the file."""
    if requires is None:
        return []
    if not isinstance(requires, dict) or set(requires) - set(KEYS):
        raise ValueError(f"{source}: 'requires' must be a mapping with keys among {KEYS}, got {requires!r}")
    checkpoints = requires.get("checkpoints", [])
    if not isinstance(checkpoints, list) or not all(isinstance(c, str) for c in checkpoints):
        raise ValueError(f"{source}: 'requires: checkpoints' must be a list of directory paths, got {checkpoints!r}")
    problems = []
    if requires.get("cuda") and not _cuda():
        problems.append("a CUDA GPU (torch sees none here; install a CUDA build of torch on a GPU machine)")
    for checkpoint in checkpoints:
        if not (Path(checkpoint).expanduser() / "config.json").is_file():
            problems.append(
                f"the encoder checkpoint directory {checkpoint} (not found: download the checkpoint, e.g. with "
                "`huggingface-cli download FacebookAI/roberta-large --local-dir <dir>` on a machine with network "
                "access, copy it here and put its path in the parameter file)"
            )
    return problems


def check_requirements(requires: object, source: str) -> None:
    """Raise a RunnerError saying what is missing (or malformed) before anything runs."""
    try:
        missing = requirement_problems(requires, source)
    except ValueError as error:
        raise RunnerError(str(error)) from None
    if missing:
        raise RunnerError(f"{source} needs, before anything runs: " + "; ".join(missing))
