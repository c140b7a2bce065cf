"""docs/benchmarks.md is what ``python -m benchmarks.page`` makes from the committed result files."""

from __future__ import annotations

from benchmarks import page


def test_the_committed_page_is_what_the_committed_results_give():
    assert page.PAGE.read_text() == page.page(), "run: python -m benchmarks.page"


def test_the_check_mode_says_when_the_page_is_stale(tmp_path, monkeypatch, capsys):
    assert page.main(["--check"]) == 0
    stale = tmp_path / "benchmarks.md"
    stale.write_text("an old page\n")
    monkeypatch.setattr(page, "PAGE", stale)
    assert page.main(["--check"]) == 1
    assert "is NOT what the results give" in capsys.readouterr().out
