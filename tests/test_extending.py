"""docs/extending.md as written: its `# my_plugin.py` blocks become a module outside the package (in tmp_path), its
`# session` blocks run in order (training the new baseline on the new dataset, then `python -m mmolre train` with a
parameter file naming the plugin), and a fresh interpreter that inherits the environment (as a notebook kernel does)
finds the plugin's model; registration and plugin errors are one clear line."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import mmolre as mm
from mmolre.data import registry as data_registry
from mmolre.data.load import check_options, option_types
from mmolre.data.registry import DatasetSpec
from mmolre.data.sources import FILES, Source
from mmolre.models import registry
from mmolre.paths import PROJECT_ROOT
from mmolre.plugins import PLUGIN_PATH_ENV, PLUGINS_ENV, load_plugins
from mmolre.runner import RunnerError
from mmolre.runner.plan import check_param_file

DOC = PROJECT_ROOT / "docs" / "extending.md"
BLOCK = re.compile(r"```(python|yaml)\n(.*?)```", re.S)


def doc_blocks(first_line: str) -> list[str]:
    return [code for _, code in BLOCK.findall(DOC.read_text()) if code.splitlines()[0].strip() == first_line]


@pytest.fixture
def clean_registries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Whatever a test registers is gone afterwards, and the plugin environment is the test's own."""
    models, datasets, files = dict(registry.MODELS), dict(data_registry.DATASETS), dict(FILES)
    for name in (PLUGINS_ENV, PLUGIN_PATH_ENV):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"MMOLRE_CACHE_DIR": "cache", "MMOLRE_REPORTS_DIR": "reports"}.items():
        monkeypatch.setenv(name, str(tmp_path / value))
    yield
    for table, saved in ((registry.MODELS, models), (data_registry.DATASETS, datasets), (FILES, files)):
        table.clear()
        table.update(saved)
    sys.modules.pop("my_plugin", None)


def test_walkthrough_runs_from_a_module_outside_the_package(
    clean_registries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "my_plugin.py").write_text("\n\n".join(doc_blocks("# my_plugin.py")))
    (tmp_path / "my_profile.yaml").write_text(doc_blocks("# my_profile.yaml")[0])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MMOLRE_DATA_DIR", str(tmp_path / "toy-data"))
    sessions = doc_blocks("# session")
    assert len(sessions) == 3 and "late_fusion" not in mm.MODEL_NAMES
    namespace: dict[str, object] = {}
    exec(compile(sessions[0], "extending.md session 1", "exec"), namespace)
    assert "late_fusion" in mm.MODEL_NAMES and "toy_reviews" in mm.data.LOADERS
    assert mm.dataset_spec("toy_reviews").describe_features({"audio": False}) == "toy text vectors"
    assert "late_fusion test MAE" in capsys.readouterr().out
    exec(compile(sessions[1], "extending.md session 2", "exec"), namespace)
    runs = pd.read_csv(tmp_path / "reports" / "toy" / "tables" / "baselines_runs.csv")
    assert sorted(set(runs["model"])) == ["late_fusion", "mmolre"]
    assert registry.display_name("late_fusion") == "late fusion" and registry.display_name("mmolre") == "MMoLRE"
    assert os.environ[PLUGINS_ENV] == "my_plugin" and os.environ[PLUGIN_PATH_ENV] == str(tmp_path)
    capsys.readouterr()
    exec(compile(sessions[2], "extending.md session 3", "exec"), namespace)
    scored = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in scored] == ["r0", "r1", "r2"] and all(-3 <= row["sentiment"] <= 3 for row in scored)
    assert "late_fusion trained on toy_reviews" in (tmp_path / "toy-export" / "README.md").read_text()
    # a notebook kernel: a new interpreter in the project folder, tmp_path not on its path, the environment inherited
    code = "import mmolre as mm; print(type(mm.build_model('late_fusion', {'text': 6}, ('sentiment',))).__name__)"
    child = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert child.stdout.strip() == "LateFusion", child.stderr[-2000:]


def test_plugins_key_is_checked_with_the_file(clean_registries, tmp_path: Path) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text("profile: plug\nplugins: [no_such_plugin_module]\nnotebooks: [04_baselines]\n")
    with pytest.raises(RunnerError, match=r"profile.yaml: plugin module 'no_such_plugin_module' not found") as error:
        check_param_file(profile)
    assert "\n" not in str(error.value)
    profile.write_text("profile: plug\nplugins: my_plugin\n")
    with pytest.raises(RunnerError, match="plugins must be a list of module names"):
        check_param_file(profile)
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('half-written plugin')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(ValueError, match=r"'broken_plugin' failed on import \(RuntimeError: half-written"):
            load_plugins(["broken_plugin"])
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("broken_plugin", None)


def test_registration_refuses_clashes_and_wrong_parts(clean_registries) -> None:
    with pytest.raises(ValueError, match="'mmolre' is already registered"):
        mm.register_model("mmolre", lambda *args: None)
    with pytest.raises(ValueError, match="config must be a StrictConfig dataclass"):
        mm.register_model("odd", lambda *args: None, config=dict)
    with pytest.raises(ValueError, match="model name must be"):
        mm.register_model("Bad Name", lambda *args: None)
    with pytest.raises(ValueError, match="display must be a string"):
        mm.register_model("odd", lambda *args: None, display=3)
    with pytest.raises(ValueError, match="'mosi' is already registered"):
        mm.register_dataset("mosi", lambda **options: None)
    source = Source("a/b", "c" * 40, "x.csv", "0" * 64)
    with pytest.raises(ValueError, match="mosi/bclstm/transcripts.csv is already recorded with another source"):
        mm.register_dataset("clash", lambda **options: None, files={"mosi/bclstm/transcripts.csv": source})
    mm.register_dataset("pinned", lambda data_dir=None: None, files={"pinned/x.csv": source})
    assert FILES["pinned/x.csv"] == source and "pinned" in data_registry.REAL
    with pytest.raises(ValueError, match="takes a DatasetSpec alone"):
        mm.register_dataset(DatasetSpec("alone", lambda: None), files={"alone/x.csv": source})
    with pytest.raises(ValueError, match=r"unknown model name 'late_fusion'"):
        mm.build_model("late_fusion", {"text": 4})


def test_a_replaced_dataset_leaves_no_files_behind(clean_registries) -> None:
    first = Source("a/b", "c" * 40, "x.csv", "0" * 64)
    second = Source("a/b", "d" * 40, "y.csv", "1" * 64)
    mm.register_dataset("swapped", lambda data_dir=None: None, files={"swapped/x.csv": first, "swapped/y.csv": first})
    spec = DatasetSpec("swapped", lambda data_dir=None: None, {"swapped/y.csv": second}, True, "Swapped data")
    mm.register_dataset(spec, replace=True)
    assert "swapped/x.csv" not in FILES and FILES["swapped/y.csv"] == second  # the old record's files are dropped
    assert mm.dataset_spec("swapped").label == "Swapped data" and mm.DATASETS["swapped"] is spec
    mm.register_dataset("swapped", lambda: None, replace=True)
    assert "swapped/y.csv" not in FILES and "swapped" not in data_registry.REAL
    # files another record shares stay: mosi_bclstm reads the folder mosi/ too
    mosi = mm.dataset_spec("mosi")
    mm.register_dataset(DatasetSpec("mosi", mosi.loader, display_name="CMU-MOSI"), replace=True)
    assert "mosi/bclstm/transcripts.csv" in FILES


def test_results_read_the_dataset_records(clean_registries) -> None:
    from mmolre.results import recorded

    mm.register_dataset(
        "toy_reviews", lambda data_dir=None, audio=True: None, display_name="Toy reviews", features="toy vectors"
    )
    assert (
        recorded.dataset_name("toy_reviews") == "Toy reviews" and mm.data.registry.display_order()[-1] == "Toy reviews"
    )
    assert recorded.features("toy_reviews", {"context": True}) == "toy vectors, utterance context"
    assert recorded.dataset_name("synthetic_mosei") == "synthetic" and recorded.dataset_name("elsewhere") == "elsewhere"


def test_published_numbers_follow_the_dataset_record_display_name(clean_registries) -> None:
    from mmolre.results.published import published_table

    before = published_table()
    assert "CMU-MOSI" in set(before["dataset"])
    mosi = mm.dataset_spec("mosi")
    mm.register_dataset(DatasetSpec("mosi", mosi.loader, display_name="MOSI (renamed)"), replace=True)
    after = published_table()
    assert "CMU-MOSI" not in set(after["dataset"])
    assert (after["dataset"] == "MOSI (renamed)").sum() == (before["dataset"] == "CMU-MOSI").sum() > 0


def test_a_dataset_record_declares_the_options_its_loader_takes_by_keyword(clean_registries) -> None:
    @dataclasses.dataclass
    class Noise:
        level: float = 0.1

    mm.register_dataset("noisy", lambda seed=0, **noise: None, keyword_options=Noise)
    assert option_types("noisy") == {"seed": object, "level": float}  # the lambda's seed has no type hint
    check_options("noisy", {"seed": 1, "level": 0.5})
    with pytest.raises(ValueError, match="unknown option"):
        check_options("noisy", {"volume": 2})
    with pytest.raises(ValueError, match="level"):
        check_options("noisy", {"level": "loud"})
    with pytest.raises(ValueError, match="keyword_options must be a dataclass"):
        mm.register_dataset("loud", lambda **noise: None, keyword_options=dict)
