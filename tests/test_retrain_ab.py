"""The retrain A/B benchmark's arithmetic and bookkeeping: arms compared seed against seed, never across
seeds; every run folder checked before anything is measured; earlier figures reused only when they were
measured the same way."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from benchmarks import retrain_ab
from benchmarks.retrain_ab import MEASURES, compare, main, markdown, matched_threshold, plan

from handwritten_digits.errors import DigitsError


def _run(base: float, **changes: float) -> dict[str, float]:
    return {k: base for k in MEASURES} | changes


def _folder(root: Path, name: str, seed: int) -> Path:
    run = root / name
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"seed": seed, "recipe": "best"}))
    (run / "model.safetensors").write_bytes(b"")
    return run


def test_arms_are_compared_on_the_seeds_they_share() -> None:
    runs = {"plain": {1: _run(10.0), 2: _run(50.0, good=60.0), 3: _run(90.0)},
            "flag": {4: _run(5.0), 3: _run(91.0, good=89.0), 2: _run(51.0, good=59.0)}}
    summary = compare(runs)
    diff = summary["paired_median_difference"]["flag"]
    assert diff["seeds"] == [2, 3]  # seed 1 has no flag run, seed 4 no plain one
    # pairing by position (sorted seeds or insertion order) would give +41 or -5
    assert diff["bad"] == 1.0 and diff["good"] == -1.0
    assert summary["medians"]["plain"]["bad"] == 50.0 and summary["medians"]["flag"]["bad"] == 51.0
    assert "plain" not in summary["paired_median_difference"]
    table = markdown(runs, summary)
    assert "| flag - plain, median of pairs | " in table and "-1.00" in table and "+1.00" in table
    assert table.count("\n") == 2 + 3 + 1 + 3 + 1 + 1


def test_the_threshold_refuses_the_shipped_share_of_validation_digits() -> None:
    shipped = np.arange(1000, dtype=np.float32)  # 989.5 refuses the ten largest: 1%
    run = 2 * shipped
    t = matched_threshold(shipped, 989.5, run)
    assert t == 1980.0 and (run > t).mean() == pytest.approx(0.01, abs=0.002)  # rounded to tens


def test_run_folders_are_checked_before_anything_is_measured(tmp_path: Path) -> None:
    a1, a2, b1 = _folder(tmp_path, "a1", 1), _folder(tmp_path, "a2", 2), _folder(tmp_path, "b1", 1)
    assert plan([["a", str(a1), str(a2)], ["b", str(b1)]]) == {"a": {1: a1.resolve(), 2: a2.resolve()},
                                                               "b": {1: b1.resolve()}}
    b3 = _folder(tmp_path, "b3", 3)
    for arms, why in (([["a", str(a1), str(b1)]], "both have seed 1"),
                      ([["a", str(a1)], ["a", str(a2)]], "given twice"),
                      ([["a", str(a1)], ["b", str(b3)]], "shares no seed"),
                      ([["a", str(a1)], ["b", str(tmp_path)]], "not a finished run folder"),
                      ([["a"]], "names no run folder")):
        with pytest.raises(DigitsError, match=why):
            plan(arms)


def test_an_arm_without_runs_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--arm", "plain"])
    assert e.value.code == 2 and "names no run folder" in capsys.readouterr().err


def test_reused_runs_are_not_measured_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = _folder(tmp_path, "a-s1", 1), _folder(tmp_path, "b-s1", 1)
    dev = tmp_path / "dev"
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"dev": [str(dev.resolve())],
                                   "runs": {"a": {"1": {"run": str(a), **_run(90.0)}}}}))
    measured = []

    def finish(run: Path, work: Path) -> tuple[Path, float]:
        measured.append(run)
        return run, 1000.0
    monkeypatch.setattr(retrain_ab, "finish", finish)
    monkeypatch.setattr(retrain_ab.Recognizer, "load", staticmethod(lambda *a, **k: None))
    monkeypatch.setattr(retrain_ab, "measure", lambda rec, dev: _run(92.0))
    monkeypatch.setattr(retrain_ab, "RESULTS", tmp_path)
    monkeypatch.setattr(retrain_ab, "write_result", lambda name, payload: tmp_path / name)
    monkeypatch.chdir(tmp_path)  # the same folders spelt relative to here
    main(["--arm", "a", "a-s1", "--arm", "b", "b-s1", "--dev", "dev", "--reuse", str(earlier)])
    assert measured == [b.resolve()]  # only the new arm's run
    assert "| b - a, median of pairs | +2.00" in (tmp_path / "retrain_ab.md").read_text()
    with pytest.raises(SystemExit) as e:  # figures measured on other fresh numbers are not reused
        main(["--arm", "a", "a-s1", "--arm", "b", "b-s1", "--dev", "other", "--reuse", str(earlier)])
    assert e.value.code == 2
