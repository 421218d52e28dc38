"""Contact sheet: a few examples per (set, condition) in one small PNG, for reviewers.

    python -m benchmarks.realworld.sheet benchmarks/data/realworld-small \
        benchmarks/results/realworld_examples.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

THUMB = (140, 105)
LABEL_W = 120


def thumbnail(path: Path, record: dict) -> Image.Image:
    img = Image.open(path)
    img.seek(0)
    if img.mode in ("RGBA", "LA", "P"):  # show transparency as a drawing app would: on white
        img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img.convert("RGBA"))
    img = img.convert("RGB")
    box = record.get("params", {}).get("ink_box")
    if box and max(img.size) > 20 * max(box[2], box[3]):  # a tiny digit in a big photo: show a zoom
        x, y, w, h = box
        cx, cy, side = x + w // 2, y + h // 2, max(w, h) * 3
        img = img.crop((cx - side, cy - side * 3 // 4, cx + side, cy + side * 3 // 4))
    return ImageOps.pad(img, THUMB, Image.Resampling.LANCZOS, color=(128, 128, 128))


def sheet(folder: Path, per_row: int = 6) -> Image.Image:
    records = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(f"{r['set']}/{r['condition']}", []).append(r)
    rows = list(groups.items())
    out = Image.new("RGB", (LABEL_W + per_row * (THUMB[0] + 4), len(rows) * (THUMB[1] + 16)), "white")
    draw = ImageDraw.Draw(out)
    for i, (name, recs) in enumerate(rows):
        y = i * (THUMB[1] + 16)
        draw.text((4, y + THUMB[1] // 2), name, fill="black")
        step = max(1, len(recs) // per_row)
        for j, r in enumerate(recs[::step][:per_row]):
            x = LABEL_W + j * (THUMB[0] + 4)
            out.paste(thumbnail(folder / r["file"], r), (x, y))
            answer = r["text"] if r["kind"] == "number" else r["label"]
            extra = r["params"].get("char") or r["params"].get("variant") or ""
            draw.text((x, y + THUMB[1] + 2), f"{answer} {extra}"[:24], fill="black")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-row", type=int, default=6)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    img = sheet(args.folder, args.per_row).quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    img.save(args.out, optimize=True)  # a palette keeps the sheet small enough to commit
    print(f"{args.out}: {args.out.stat().st_size / 1e3:.0f} KB")


if __name__ == "__main__":
    main()
