"""Atomic report writing and the mean ± std seed table."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image as PILImage

from mmolre.files import atomic_write
from mmolre.protocols.summary import mean_std
from mmolre.report import Reporter
from mmolre.report.reporter import DISPLAY_COLOURS, DISPLAY_DPI, display_png


def _fail(tmp: Path) -> None:
    tmp.write_text("half a tab", encoding="utf-8")
    raise OSError("disk full")


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "table.csv"
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, _fail)
    assert list(target.parent.iterdir()) == []


def test_failed_write_keeps_previous_file(tmp_path: Path) -> None:
    target = atomic_write(tmp_path / "table.csv", lambda tmp: tmp.write_text("good\n", encoding="utf-8"))
    with pytest.raises(OSError):
        atomic_write(target, _fail)
    assert target.read_text(encoding="utf-8") == "good\n"
    assert [path.name for path in tmp_path.iterdir()] == ["table.csv"]


def test_mean_std_table() -> None:
    frame = pd.DataFrame({"model": ["a", "a", "a", "b"], "seed": [1, 2, 3, 1], "mae": [1.0, 2.0, 3.0, 0.5]})
    table = mean_std(frame, ["model"], ["mae"])
    assert table.to_dict("records") == [
        {"model": "a", "mae": "2.000 ± 1.000", "seeds": 3},
        {"model": "b", "mae": "0.500", "seeds": 1},
    ]
    frame["wa"] = [0.5, 0.7, float("nan"), float("nan")]  # a metric that group b does not have
    assert mean_std(frame, ["model"], ["wa"])["wa"].tolist() == ["0.600 ± 0.141", "–"]


def test_reporter_writes_under_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path))
    reporter = Reporter("quick")
    csv = reporter.table(pd.DataFrame({"x": [1.5]}), "sizes")
    assert csv == tmp_path / "quick" / "tables" / "sizes.csv"
    assert "1.5000" in (tmp_path / "quick" / "tables" / "sizes.md").read_text(encoding="utf-8")
    fig, _ = plt.subplots()
    reporter.figure(fig, "plot")
    saved = plt.imread(tmp_path / "quick" / "figures" / "plot.png")
    assert saved.shape[1] > fig.get_figwidth() * DISPLAY_DPI  # the file keeps dpi 110 ("tight" trims margins)
    assert plt.fignum_exists(fig.number)  # outside a notebook nothing is shown or closed
    plt.close(fig)
    assert '"n": 3' in reporter.json({"n": 3}, "summary").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="plain name"):
        reporter.table(pd.DataFrame(), "../escape")
    with pytest.raises(ValueError, match="plain name"):
        Reporter("a/b")


def test_the_copy_a_notebook_stores_is_a_small_palette_png() -> None:
    """The shown copy is a palette PNG at DISPLAY_DPI: narrower than the saved file and a fraction of the
    full-colour PNG of the same size (the embedded figures made an executed notebook weigh about 1 MB)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for shift in range(8):
        ax.plot(np.linspace(0, 1, 200) ** (1 + shift / 4), label=f"curve {shift}")
    ax.legend()
    ax.set_title("eight anti-aliased curves")
    shown = display_png(fig)
    full = io.BytesIO()
    fig.savefig(full, format="png", dpi=DISPLAY_DPI, bbox_inches="tight")
    plt.close(fig)
    image = PILImage.open(io.BytesIO(shown))
    assert image.mode == "P" and len(image.getcolors(maxcolors=DISPLAY_COLOURS) or []) > 8
    assert image.width <= 6 * DISPLAY_DPI
    assert len(shown) < 0.6 * len(full.getvalue())


def test_in_a_kernel_a_figure_is_shown_small_and_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a notebook the figure is displayed once, as the palette copy, and closed (so the inline backend does not
    embed it again at full size)."""
    import IPython.display

    shown: list[object] = []
    monkeypatch.setenv("MMOLRE_REPORTS_DIR", str(tmp_path))
    monkeypatch.setattr("mmolre.report.reporter._in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda *objects: shown.extend(objects))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    Reporter("kernel").figure(fig, "plot")
    assert len(shown) == 1 and isinstance(shown[0], IPython.display.Image)
    assert shown[0].data == display_png(fig)
    assert not plt.fignum_exists(fig.number)
    assert (tmp_path / "kernel" / "figures" / "plot.png").is_file()
