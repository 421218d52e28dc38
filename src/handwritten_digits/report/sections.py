"""The run report's page: one section per question a reader asks, built from report.json's data.

Section ids are stable (tests and links rely on them): summary, curves, confusion, per-class,
confused-pairs, misclassified, predictions, calibration, config, timings, hardware.
"""

from __future__ import annotations

import json
from typing import Any

from handwritten_digits.report.explore import dataset_label
from handwritten_digits.report.html import Section, cards, image, note, page, table

SECTION_IDS = ("summary", "curves", "confusion", "per-class", "confused-pairs", "misclassified",
               "predictions", "calibration", "config", "timings", "hardware")


def _pct(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}%}"


def _fig(figures: dict[str, bytes], name: str, alt: str, caption: str = "") -> str:
    return image(figures[name], alt, caption) if name in figures else note("(no figure)")


def run_sections(data: dict[str, Any], figures: dict[str, bytes]) -> str:
    """The whole report.html for `data` (report.json) and its PNGs."""
    model, s = data["model"], data["summary"]
    title = f"Report: {model['name']} on {dataset_label(str(model['dataset']))}"
    subtitle = f"run {data['run']} · written {data['generated']}"
    sections = [
        Section("summary", "Summary", cards([
            (_pct(s["test_accuracy"]), "test accuracy"),
            (f"{s['test_errors']:,} / {s['test_n']:,}", "test errors"),
            (f"{s['test_loss']:.4f}", "test loss"),
            (_pct(s["best_val_accuracy"]), f"best validation accuracy (epoch {s['best_epoch']})"),
            (_pct(s["ece"]), f"expected calibration error ({data['calibration']['n_bins']} bins)"),
            (f"{model['parameters']:,}" if model["parameters"] else "–", "parameters"),
        ]) + note("The model is the best epoch on validation; the test set was never used to "
                  "choose anything.")),
        Section("curves", "Training curves", _fig(
            figures, "curves", "accuracy and loss per epoch",
            "Train and validation accuracy and loss per epoch; the dotted line marks the best "
            "validation epoch.") + _history_table(data["history"])),
        Section("confusion", "Confusion matrix", _fig(
            figures, "confusion", "confusion matrix heat map",
            "Rows are true classes, columns predictions; the colour scale is logarithmic and "
            "errors are written in red.")),
        Section("per-class", "Per-class precision, recall and F1", _per_class(data["test"])),
        Section("confused-pairs", "Most confused pairs", _pairs(data["confused_pairs"])),
        Section("misclassified", "Misclassified test images", _fig(
            figures, "misclassified", "misclassified test images",
            f"The {len(data['misclassified']['shown'])} mistakes (of "
            f"{data['misclassified']['count']:,}) the model was most confident about: prediction "
            "with its confidence, and the true label.")),
        Section("predictions", "Predictions on the first 20 test images", _fig(
            figures, "predictions", "predictions on the first 20 test images",
            "The seed's figure: green when right, red (with the true label) when wrong.")),
        Section("calibration", "Calibration", _calibration(data["calibration"], figures)),
        Section("config", "Run config", _config(data["config"])),
        Section("timings", "Timings", _timings(data["timings"])),
        Section("hardware", "Hardware and versions", _hardware(data)),
    ]
    return page(title, subtitle, sections)


def _history_table(history: list[dict[str, Any]]) -> str:
    rows = [(r["epoch"], _pct(r["train_acc"]), f"{r['train_loss']:.4f}", _pct(r["val_acc"]),
             f"{r['val_loss']:.4f}", _pct(r.get("test_acc")), f"{r.get('epoch_time_s', 0):.1f}")
            for r in history]
    return table(["epoch", "train acc", "train loss", "val acc", "val loss", "test acc", "seconds"],
                 rows, [True] * 7)


def _per_class(test: dict[str, Any]) -> str:
    rows = [(name, f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}", m["support"])
            for name, m in test["per_class"].items()]
    return table(["class", "precision", "recall", "F1", "support"], rows,
                 [False, True, True, True, True])


def _pairs(pairs: list[dict[str, Any]]) -> str:
    if not pairs:
        return note("No mistakes on the test set.")
    rows = [(p["true"], p["predicted"], p["count"], _pct(p["share_of_true"])) for p in pairs]
    return table(["true class", "predicted as", "images", "share of true class"], rows,
                 [False, False, True, True])


def _calibration(cal: dict[str, Any], figures: dict[str, bytes]) -> str:
    caption = ("Bars: accuracy of the test images whose top probability falls in each bin; hatched: "
               "the gap to their mean confidence. Bottom: how many images fall in each bin.")
    bins = cal["bins"]
    rows = [(f"{lo:.3f}–{hi:.3f}", n, _pct(c), _pct(a))
            for lo, hi, n, c, a in zip(bins["edges"][:-1], bins["edges"][1:], bins["count"],
                                       bins["confidence"], bins["accuracy"], strict=True) if n]
    return (_fig(figures, "reliability", "reliability diagram", caption)
            + note(f"Expected calibration error {_pct(cal['ece'])} at temperature "
                   f"{cal['temperature']:g}" + (f" ({_pct(cal['ece_at_temperature_1'])} before "
                   "temperature scaling)" if "ece_at_temperature_1" in cal else "")
                   + "; non-empty bins:")
            + table(["confidence bin", "images", "mean confidence", "accuracy"], rows,
                    [False, True, True, True]))


def _config(config: dict[str, Any]) -> str:
    rows = [(k, json.dumps(v) if isinstance(v, dict | list) else v) for k, v in config.items()]
    return table(["setting", "value"], rows)


def _timings(t: dict[str, Any]) -> str:
    rep = t.get("report", {})
    rows = [("epochs", t.get("epochs")),
            ("training time", f"{t.get('train_time_s') or 0:.1f} s"),
            ("per epoch", ", ".join(f"{s:.1f} s" for s in t.get("epoch_time_s", []) if s)),
            ("mean training throughput", f"{t.get('images_per_s_mean') or 0:,.0f} images/s"),
            ("test-set evaluation (this report)", f"{rep.get('evaluate_s', 0):.3f} s")]
    return table(["what", "value"], rows)


def _hardware(data: dict[str, Any]) -> str:
    hw = data["hardware"]
    rows = [(k.replace("_", " "), ", ".join(v) if isinstance(v, list) else v)
            for k, v in hw.items()]
    rows += [(f"trained with {k}", v) for k, v in data.get("versions", {}).items()]
    return (note("The machine that wrote this report (the training machine when the report is "
                 "written at the end of `digits train`):")
            + table(["what", "value"], [(k, "none" if v in ([], "", None) else v)
                                        for k, v in rows]))

