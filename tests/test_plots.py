"""Figures say what they show: integer epoch ticks, legends that hide no bar label, colour
bars where colour is a value, saliency maps named by the logit they differentiate."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="plots need the plot extra (matplotlib)")

from deepgrad import plots, plots_images


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions would save (drawn, not written)."""
    kept = []

    def keep(fig, path, *args, **kwargs):
        fig.canvas.draw()
        kept.append(fig)
        return path

    monkeypatch.setattr(plots, "save", keep)
    monkeypatch.setattr(plots_images, "_save_as_laid_out", keep)
    yield kept
    import matplotlib.pyplot as plt

    plt.close("all")


def _ticks(ax):
    lo, hi = ax.get_xlim()
    return [t for t in ax.get_xticks() if lo <= t <= hi]


@pytest.mark.parametrize("epochs", [1, 3, 7])
def test_learning_curves_have_whole_epoch_ticks(figures, tmp_path, epochs):
    records = [{"epoch": e, "loss": 1.0 / (e + 1), "val_loss": 1.2 / (e + 1), "accuracy": 0.5}
               for e in range(epochs)]  # fmt: skip
    plots.learning_curves(records, tmp_path / "c.png")
    for ax in figures[0].axes:
        ticks = _ticks(ax)
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    if epochs == 1:
        assert _ticks(figures[0].axes[0]) == [1.0]


def test_curves_of_one_epoch_have_one_tick(figures, tmp_path):
    plots.curves({"a": [0.5], "b": [0.7]}, tmp_path / "c.png", "one epoch")
    assert _ticks(figures[0].axes[0]) == [1.0]


def test_bar_legend_hides_no_bar_label(figures, tmp_path):
    groups = {name: {"train accuracy": 0.9 + 0.01 * i, "validation accuracy": 0.6}
              for i, name in enumerate(["none", "L2", "dropout", "early stopping", "augment"])}  # fmt: skip
    plots.bars(groups, tmp_path / "b.png", "accuracy", "accuracy")
    fig = figures[0]
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    labels = [t for t in ax.texts if t.get_text()]  # the bar labels ("0.94", ...)
    assert len(labels) == 10
    assert not any(legend.overlaps(t.get_window_extent(renderer)) for t in labels)
    assert ax.get_ylim()[1] > 0.94  # headroom above the tallest bar


def test_weight_grid_has_one_scale_and_a_labelled_colour_bar(figures, tmp_path):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 5, 5)) * np.arange(1, 7)[:, None, None]
    plots.image_grid(w, tmp_path / "w.png", "filters", cmap="RdBu_r", colorbar="weight")
    fig = figures[0]
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 6
    lim = np.abs(w).max()
    assert all(np.allclose(im.get_clim(), (-lim, lim)) for im in images)  # shared, symmetric
    bars = [ax for ax in fig.axes if ax.get_ylabel() == "weight"]
    assert len(bars) == 1


def test_saliency_maps_name_the_logit_and_the_prediction(figures, tmp_path):
    rng = np.random.default_rng(0)
    x, maps = rng.random((3, 8, 8)), rng.random((3, 8, 8))
    plots.saliency_grid(x, maps, [7, 1, 3], [7, 1, 5], tmp_path / "s.png", "saliency")
    titles = [ax.get_title() for ax in figures[0].axes]
    assert "label 3, pred 5" in titles and "logit 5" in titles and "logit 7" in titles
    assert any(ax.get_ylabel() == "|d logit / d pixel|" for ax in figures[0].axes)
