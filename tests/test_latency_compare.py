"""The paired latency benchmark: it measures a commit's package against this checkout's, alternating."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.mark.slow
def test_compares_a_commit_with_this_checkout_in_alternating_pairs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import common, latency_compare
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    latency_compare.main(["--against", "HEAD", "--pairs", "2", "--runs", "3"])
    result = json.loads((tmp_path / "latency_compare.json").read_text())
    for key in ("file_to_answer_ms_p50", "preprocess_ms_p50"):
        row = result[key]
        assert len(row["before"]) == len(row["after"]) == len(row["ratios"]) == 2
        assert all(t > 0 for t in row["before"] + row["after"])
        assert row["ratios"] == [round(a / b, 3) for a, b in zip(row["after"], row["before"], strict=True)]
    assert result["against"] == "HEAD" and result["machine"]["cores"] >= 1


def test_an_unknown_commit_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import latency_compare
    with pytest.raises(SystemExit) as e:
        latency_compare.main(["--against", "no-such-revision-0123", "--pairs", "1"])
    assert str(e.value).startswith("error: git archive no-such-revision-0123")
