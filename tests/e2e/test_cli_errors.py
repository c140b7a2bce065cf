"""Bad command-line input: exit status 2, one clear line, no traceback, nothing written."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import evonas


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "nosuchdata"], "unknown dataset 'nosuchdata'"),
        (["--dataset", "ames", "--target", "prize"], "'prize'"),
        (["--population", "1"], "search.population must be an integer >= 2"),
        (["--population", "many"], "expected a whole number"),
        (["--generations", "0"], "search.generations must be an integer >= 1"),
        (["--workers", "0x"], "expected a whole number"),
        (["--workers", "0"], "search.workers must be an integer >= 1"),
        (["--max-epochs", "0"], "training.max_epochs must be an integer >= 1"),
        (["--replicates", "0"], "search.replicates must be an integer >= 1"),
        (["--dataset", "digits", "--folds", "5000"], "search.folds = 5000 is more than the"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_run_input_exits_2_with_one_line(tmp_path, args, message):
    out = tmp_path / "run"
    res = evonas("run", *args, "--out", str(out))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert message in lines[0] and "Traceback" not in res.stderr
    assert lines[0].startswith("evonas")
    assert not out.exists()


def test_missing_target_suggests_close_names(tmp_path):
    res = evonas("run", "--dataset", "ames", "--target", "Price", "--out", str(tmp_path / "r"))
    assert res.returncode == 2 and "price" in res.stderr


def test_bad_config_file(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[search]\npopulaton = 4\n")
    res = evonas("run", str(cfg), "--out", str(tmp_path / "r"))
    assert res.returncode == 2 and "unknown key 'search.populaton'" in res.stderr
    cfg.write_text("[search\n")
    res = evonas("run", str(cfg), "--out", str(tmp_path / "r"))
    assert res.returncode == 2 and "invalid TOML" in res.stderr
    assert not (tmp_path / "r").exists()


def test_existing_out_directory_is_left_untouched(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    res = evonas("run", "--out", str(out))
    assert res.returncode == 2 and "not an empty directory" in res.stderr
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "keep me"


def test_show_missing_run_directory(tmp_path):
    res = evonas("show", str(tmp_path / "nope"))
    assert res.returncode == 2 and "run directory not found" in res.stderr
