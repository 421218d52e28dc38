"""The retrain A/B benchmark's arithmetic: arms compared seed against seed, never across seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks.retrain_ab import MEASURES, compare, main, markdown, seed_of


def _run(base: float, **changes: float) -> dict[str, float]:
    return {k: base for k in MEASURES} | changes


def test_arms_are_compared_on_the_seeds_they_share() -> None:
    runs = {"plain": {1: _run(90.0), 2: _run(95.0), 3: _run(99.0)},
            "flag": {1: _run(91.0, good=89.0), 2: _run(96.0, good=94.0), 4: _run(50.0)}}
    summary = compare(runs)
    diff = summary["paired_median_difference"]["flag"]
    assert diff["seeds"] == [1, 2]  # seed 3 has no flag run, seed 4 no plain one
    assert diff["bad"] == 1.0 and diff["good"] == -1.0  # unpaired medians would give -4.0 and -5.0
    assert summary["medians"]["plain"]["bad"] == 95.0 and summary["medians"]["flag"]["bad"] == 91.0
    assert "plain" not in summary["paired_median_difference"]
    table = markdown(runs, summary)
    assert "| flag - plain, median of pairs | " in table and "-1.00" in table and "+1.00" in table
    assert table.count("\n") == 2 + 3 + 1 + 3 + 1 + 1


def test_seed_comes_from_the_run_config(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"seed": 23, "recipe": "best"}))
    assert seed_of(tmp_path) == 23


def test_an_arm_without_runs_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--arm", "plain"])
    assert e.value.code == 2 and "names no run folder" in capsys.readouterr().err


def test_reused_runs_are_not_measured_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import retrain_ab
    runs = []
    for name, seed in (("a", 1), ("b", 1)):
        run = tmp_path / f"{name}-s{seed}"
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"seed": seed}))
        runs.append(run)
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"runs": {"a": {"1": {"run": str(runs[0]), **_run(90.0)}}}}))
    measured = []

    def finish(run: Path, work: Path) -> tuple[Path, float]:
        measured.append(run)
        return run, 1000.0
    monkeypatch.setattr(retrain_ab, "finish", finish)
    monkeypatch.setattr(retrain_ab.Recognizer, "load", staticmethod(lambda *a, **k: None))
    monkeypatch.setattr(retrain_ab, "measure", lambda rec, dev: _run(92.0))
    monkeypatch.setattr(retrain_ab, "RESULTS", tmp_path)
    monkeypatch.setattr(retrain_ab, "write_result", lambda name, payload: tmp_path / name)
    main(["--arm", "a", str(runs[0]), "--arm", "b", str(runs[1]), "--reuse", str(earlier)])
    assert measured == [runs[1]]  # only the new arm's run
    assert "| b - a, median of pairs | +2.00" in (tmp_path / "retrain_ab.md").read_text()
