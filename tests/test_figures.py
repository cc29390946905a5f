"""``bayespipe.figures``: the Agg backend and one way to write a figure."""

from __future__ import annotations

import pytest

from bayespipe.figures import pyplot, save_figure


def test_pyplot_draws_without_a_display():
    plt = pyplot()
    assert plt.get_backend().lower() == "agg"


def test_save_figure_follows_the_suffix_and_closes(tmp_path):
    plt = pyplot()
    for name, magic in (("f.png", b"\x89PNG"), ("f.pdf", b"%PDF"), ("f.svg", b"<?xml")):
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.plot([0, 1], [0, 1])
        save_figure(fig, tmp_path / "sub" / name)
        assert (tmp_path / "sub" / name).read_bytes().startswith(magic)
        assert not plt.fignum_exists(fig.number)


def test_failed_save_leaves_no_file(tmp_path):
    plt = pyplot()
    fig, _ = plt.subplots(figsize=(1, 1))
    with pytest.raises(ValueError):
        save_figure(fig, tmp_path / "f.notaformat")
    assert list(tmp_path.iterdir()) == []
    plt.close(fig)
