"""Reports: ECE on known cases, report.json and PNGs of a tiny run, explore, the CLI, a real browser."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

from handwritten_digits.calibration import expected_calibration_error, reliability_bins
from handwritten_digits.cli import main
from handwritten_digits.data.idx import write_idx
from handwritten_digits.report import write_explore, write_report
from handwritten_digits.report.evaluation import confused_pairs, top_errors
from handwritten_digits.report.run import confidence_text
from handwritten_digits.report.sections import SECTION_IDS

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
FASHION = Path("/usr/share/datasets/fashion-mnist")
FIGURES = ("curves", "confusion", "misclassified", "predictions", "reliability")


def _digits(n: int, seed: int, flip: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 28, 28) uint8 noise with a bright bar whose row encodes the class; `flip` of labels wrong."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, c in enumerate(labels):
        images[i, 3 + 2 * c:5 + 2 * c, 4:24] = 255
    wrong = rng.random(n) < flip  # guaranteed test errors, so the mistakes gallery is not empty
    labels[wrong] = (labels[wrong] + 1) % 10
    return images, labels.astype(np.uint8)


@pytest.fixture(scope="module")
def idx_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report-data")
    for prefix, (x, y) in (("train", _digits(600, 1)), ("t10k", _digits(200, 2, flip=0.1))):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", y)
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, idx_folder: Path) -> Path:
    """A 2-epoch seed-mlp run trained through the CLI, which writes the report at its end."""
    out = tmp_path_factory.mktemp("report-runs") / "tiny"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIGITS_HOME", str(tmp_path_factory.mktemp("report-home")))
        mp.setenv("DIGITS_OFFLINE", "1")
        main(["train", "--dataset", str(idx_folder), "--model", "seed-mlp", "--epochs", "2",
              "--batch-size", "64", "--out", str(out)])
    return out


# --- calibration -------------------------------------------------------------------------------

def test_ece_is_zero_when_confidence_matches_accuracy() -> None:
    probs = np.tile([0.6, 0.4], (10, 1))  # always class 0 at 60% confidence...
    labels = np.array([0] * 6 + [1] * 4)  # ...and right 6 times in 10
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0)
    one_hot = np.eye(3)[[0, 1, 2, 1]]
    assert expected_calibration_error(one_hot, [0, 1, 2, 1]) == pytest.approx(0.0)


def test_ece_known_values() -> None:
    always_wrong = np.eye(4)[[1, 2, 3, 0]]
    assert expected_calibration_error(always_wrong, [0, 1, 2, 3]) == pytest.approx(1.0)
    # Bin of 0.9 (2 images, 1 right): gap 0.4; bin of 0.5 (2 images, both right): gap 0.5.
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.5, 0.5], [0.5, 0.5]])
    labels = np.array([0, 1, 0, 0])
    assert expected_calibration_error(probs, labels) == pytest.approx((2 * 0.4 + 2 * 0.5) / 4)
    assert expected_calibration_error(torch.tensor(probs), torch.tensor(labels)) == pytest.approx(0.45)
    assert expected_calibration_error(np.zeros((0, 10)), np.zeros(0)) == 0.0


def test_reliability_bins_edges_counts_and_boundaries() -> None:
    probs = np.array([[2 / 15, 13 / 15], [1.0, 0.0], [0.5, 0.5]])
    bins = reliability_bins(probs, [1, 0, 1], n_bins=15)
    assert len(bins["edges"]) == 16 and bins["edges"][0] == 0.0 and bins["edges"][-1] == 1.0
    assert sum(bins["count"]) == 3
    assert bins["count"][12] == 1  # 13/15 lies on an edge: it belongs to the bin it closes
    assert bins["count"][14] == 1 and bins["count"][7] == 1
    assert bins["accuracy"][7] == 0.0  # argmax of a tie is class 0; label 1
    assert bins["confidence"][0] is None
    with pytest.raises(ValueError):
        reliability_bins(np.zeros(5), np.zeros(5))


# --- pure helpers ------------------------------------------------------------------------------

def test_confused_pairs_and_top_errors() -> None:
    cm = [[5, 3, 0], [1, 7, 0], [0, 4, 2]]
    pairs = confused_pairs(cm, ["a", "b", "c"], k=5)
    assert [(p["true"], p["predicted"], p["count"]) for p in pairs] == [
        ("c", "b", 4), ("a", "b", 3), ("b", "a", 1)]
    assert pairs[0]["share_of_true"] == pytest.approx(4 / 6)
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.7, 0.3]])
    assert top_errors(np.array([1, 1, 1, 0]), probs, k=5).tolist() == [0, 1]
    assert confidence_text(0.99997) == "99.9%" and confidence_text(1.0) == "100.0%"


# --- the run report ----------------------------------------------------------------------------

def test_train_writes_the_report(run: Path) -> None:
    report = run / "report"
    assert (report / "report.html").is_file() and (report / "report.json").is_file()
    for name in FIGURES:
        png = (report / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n", name


def test_report_json_holds_every_number(run: Path, idx_folder: Path) -> None:
    data = json.loads((run / "report" / "report.json").read_text())
    test = data["test"]
    assert test["n"] == 200 and np.asarray(test["confusion"]).sum() == 200
    assert data["summary"]["test_accuracy"] == pytest.approx(test["accuracy"])
    assert data["summary"]["test_errors"] == test["errors"] == data["misclassified"]["count"] > 0
    assert set(test["per_class"]) == {str(d) for d in range(10)}
    assert [r["epoch"] for r in data["history"]] == [1, 2]
    shown = data["misclassified"]["shown"]
    assert 0 < len(shown) <= 24 and all(r["true"] != r["predicted"] for r in shown)
    assert [r["confidence"] for r in shown] == sorted((r["confidence"] for r in shown), reverse=True)
    assert [r["index"] for r in data["first_predictions"]] == list(range(20))
    cal = data["calibration"]
    assert cal["n_bins"] == 15 and sum(cal["bins"]["count"]) == 200 and 0 <= cal["ece"] <= 1
    assert data["config"]["model"] == "seed-mlp" and data["config"]["dataset"] == str(idx_folder)
    assert data["timings"]["epochs"] == 2 and data["timings"]["train_time_s"] > 0
    assert data["hardware"]["logical_cores"] >= 1
    assert set(data["figures"]) == set(FIGURES)


def test_report_page_is_self_contained(run: Path) -> None:
    page = (run / "report" / "report.html").read_text()
    for section in SECTION_IDS:
        assert f'<section id="{section}">' in page
    assert "<script" not in page and "@import" not in page and "url(" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == len(FIGURES) and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_write_report_out_and_progress(run: Path, tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    path = write_report(run, tmp_path / "elsewhere", progress=lambda *a: seen.append(a))
    assert path == tmp_path / "elsewhere" / "report.html" and path.is_file()
    assert ("evaluating", 200, 200) in seen and seen[-1] == ("writing", 1, 1)
    assert any(stage == "drawing" for stage, _, _ in seen)


def _report_at_temperature(run: Path, folder: Path, temperature: float) -> dict:
    copy = Path(shutil.copytree(run, folder, ignore=shutil.ignore_patterns("report")))
    meta = json.loads((copy / "model.json").read_text())
    (copy / "model.json").write_text(json.dumps({**meta, "temperature": temperature}))
    write_report(copy)
    return json.loads((copy / "report" / "report.json").read_text())["calibration"]


def test_report_uses_the_sidecar_temperature(run: Path, tmp_path: Path) -> None:
    raw = _report_at_temperature(run, tmp_path / "t1", 1.0)
    scaled = _report_at_temperature(run, tmp_path / "t3", 3.0)
    assert "ece_at_temperature_1" not in raw and scaled["temperature"] == 3.0
    assert scaled["ece_at_temperature_1"] == pytest.approx(raw["ece"])
    assert scaled["ece"] != pytest.approx(raw["ece"])
    assert "before temperature scaling" in (tmp_path / "t3" / "report" / "report.html").read_text()


def test_report_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for target in (tmp_path / "missing", tmp_path):
        with pytest.raises(SystemExit) as exit_info:
            main(["report", str(target)])
        assert exit_info.value.code == 2
        message = capsys.readouterr().err
        assert message.startswith("error: ") and message.count("\n") == 1 and str(target) in message


def test_report_cli(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    main(["report", str(run), "--out", str(tmp_path / "r")])
    assert (tmp_path / "r" / "report.html").is_file()
    assert "report:" in capsys.readouterr().out


# --- explore ----------------------------------------------------------------------------------

def test_explore_a_folder(idx_folder: Path, tmp_path: Path) -> None:
    path = write_explore(str(idx_folder), tmp_path / "x")
    data = json.loads((tmp_path / "x" / "explore.json").read_text())
    assert path.name == "explore.html" and sum(data["class_counts"]["test"]) == 200
    assert sum(data["images"].values()) == 800 and len(data["pixel"]["histogram"]) == 256
    assert sum(data["pixel"]["histogram"]) == 600 * 28 * 28
    for name in ("samples", "balance", "means", "intensity"):
        assert (tmp_path / "x" / f"{name}.png").stat().st_size > 1000


@pytest.mark.slow
@pytest.mark.skipif(not FASHION.is_dir(), reason=f"{FASHION} missing (Debian's fashion-mnist)")
def test_explore_fashion_mnist_uses_class_names(tmp_path: Path) -> None:
    main(["explore", "--dataset", "fashion-mnist", "--out", str(tmp_path)])
    data = json.loads((tmp_path / "explore.json").read_text())
    assert data["class_names"][-1] == "Ankle boot" and data["images"]["test"] == 10_000
    assert data["samples"][0]["label"] == "Ankle boot"  # the first training image is a boot
    assert "Ankle boot" in (tmp_path / "explore.html").read_text()


# --- a real browser ---------------------------------------------------------------------------

def _check_in_browser(browser: Browser, html: Path, sections: tuple[str, ...], images: int,
                      screenshot: Path) -> None:
    """Open `html`; assert sections, loaded images, no errors, no fetch, no sideways scroll on a phone."""
    errors: list[str] = []
    requests: list[str] = []
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(html.as_uri(), wait_until="load")
    for section in sections:
        assert page.locator(f"section#{section} h2").is_visible(), section
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth)")
    assert len(widths) == images and all(w > 0 for w in widths), widths
    page.screenshot(path=str(screenshot), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{html.name} scrolls sideways on a phone by {overflow}px"
    page.screenshot(path=str(screenshot.with_name(f"{screenshot.stem}-phone.png")), full_page=True)
    page.close()
    assert not errors, errors
    assert all(u.startswith(("file:", "data:")) for u in requests), requests


@pytest.mark.browser
def test_pages_render_in_chromium(run: Path, idx_folder: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("!!! /usr/bin/chromium is missing: the browser test did NOT run "
                    "(`make browser` installs it with apt-get)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    from handwritten_digits.report.explore import SECTION_IDS as EXPLORE_IDS
    explore = write_explore(str(idx_folder), tmp_path / "explore")
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update"])
        try:
            _check_in_browser(browser, run / "report" / "report.html", SECTION_IDS, len(FIGURES),
                              artifacts / "report.png")
            _check_in_browser(browser, explore, EXPLORE_IDS, 4, artifacts / "explore.png")
        finally:
            browser.close()
