"""Generate the real-world evaluation sets: image files plus a JSONL manifest, fully seeded.

    python -m benchmarks.realworld.generate            # ~4,700 images into benchmarks/data/realworld
    python -m benchmarks.realworld.generate --small    # ~470 images into benchmarks/data/realworld-small
    python -m benchmarks.realworld.generate --small --split tune   # into benchmarks/data/realworld-tune-small

Two disjoint splits, so that nothing is tuned on what is scored: `tune` (develop and choose thresholds
on it) uses the even-indexed MNIST and Fashion-MNIST test images and the even-positioned font files;
`score` (the default; report only) the odd ones. Each split also seeds its rngs differently. Every item
draws from its own rng seeded by (seed, split, set, condition, index), so an item does not change
when counts or other sets change. Digits come only from the MNIST *test* split; the models train on
the training split. Manifest lines: {"file", "set", "kind", "condition", "label", "text", "source",
"params"}; `kind` says which call answers it: "digit" (predict), "number" (read), "negative" (abstain).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import time
import zlib
from pathlib import Path

import numpy as np

from benchmarks.realworld.negatives import NEGATIVES
from benchmarks.realworld.render import save
from benchmarks.realworld.sets import (
    BAD,
    FONTS,
    GOOD,
    HANDWRITING_FONT_PACKAGES,
    MARKER,
    NUMBERS,
    SPLITS,
    Builder,
    Sources,
    split_half,
)

log = logging.getLogger("realworld.generate")

SETS: dict[str, dict[str, tuple[float, Builder]]] = {
    "good": GOOD, "bad": BAD, "fonts": FONTS, "numbers": NUMBERS, "negatives": NEGATIVES, "marker": MARKER}
TOTALS = {"good": 1000, "bad": 1400, "fonts": 500, "numbers": 500, "negatives": 1000,  # images per set
          "marker": 300}
FASHION_TEST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
DEFAULT_OUT = Path("benchmarks/data/realworld")


def plan(scale: float = 1.0, sets: list[str] | None = None) -> dict[tuple[str, str], int]:
    """(set, condition) -> how many images, at least one each."""
    out = {}
    for name in sets or list(SETS):
        conditions = SETS[name]
        weight = sum(w for w, _ in conditions.values())
        for cond, (w, _) in conditions.items():
            out[(name, cond)] = max(1, round(TOTALS[name] * scale * w / weight))
    return out


def font_files(packages: tuple[str, ...] = HANDWRITING_FONT_PACKAGES) -> list[str]:
    """The .ttf/.otf files of the allowed Debian font packages (other handwriting fonts are held back)."""
    files = []
    for pkg in packages:
        listing = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True, check=False).stdout
        files += sorted(p for p in listing.split()
                        if p.lower().endswith((".ttf", ".otf")) and Path(p).is_file())
    if not files:
        raise SystemExit(f"none of the font packages is installed: apt-get install {' '.join(packages)}")
    return files


def default_out(split: str = "score", small: bool = False) -> Path:
    """benchmarks/data/realworld[-tune][-small]: the score split keeps the plain name."""
    return Path(f"{DEFAULT_OUT}{'-tune' if split == 'tune' else ''}{'-small' if small else ''}")


def load_sources(seed: int, split: str = "score") -> Sources:
    from handwritten_digits.data.datasets import load_split
    from handwritten_digits.data.idx import read_idx
    test = load_split("mnist", "test")
    fashion = read_idx(FASHION_TEST)
    return make_sources(test.images.numpy(), test.labels.numpy(), fashion, font_files(), seed, split)


def make_sources(digits: np.ndarray, labels: np.ndarray, fashion: np.ndarray, fonts: list[str],
                 seed: int, split: str = "score") -> Sources:
    """This split's half of the digits, clothing and fonts."""
    ids = np.asarray(split_half(np.arange(len(labels)), split))
    src = Sources(digits, labels, fashion, list(split_half(fonts, split)),
                  fashion_ids=np.asarray(split_half(np.arange(len(fashion)), split)), split=split)
    for name in SETS:  # each set walks the split's digits in its own order, so a set has no repeats
        rng = np.random.default_rng([seed, _key(split), _key(name)])
        src.digit_order[name] = ids[rng.permutation(len(ids))]
    return src


def _key(text: str) -> int:
    return zlib.crc32(text.encode())


def generate(out: Path, src: Sources, counts: dict[tuple[str, str], int], seed: int = 0) -> list[dict]:
    """Write every planned image under `out/<set>/<condition>/` and `out/manifest.jsonl`; -> records."""
    records, used = [], dict.fromkeys(SETS, 0)  # items so far per set: walks its digit order
    for (name, cond), n in counts.items():
        folder = out / name / cond
        folder.mkdir(parents=True, exist_ok=True)
        build = SETS[name][cond][1]
        for i in range(n):
            rng = np.random.default_rng([seed, _key(src.split), _key(f"{name}/{cond}"), i])
            item = build(rng, used[name] + i, src)
            rel = f"{name}/{cond}/{i:05d}.{item.fmt}"
            save(item.image, out / rel, item.fmt, item.quality)
            records.append({"file": rel, "set": name, "condition": cond} | item.record)
        used[name] += n
        log.info("%s/%s: %d images", name, cond, n)
    with open(out / "manifest.jsonl", "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    return records


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help=f"output folder (default {DEFAULT_OUT}[-tune][-small])")
    parser.add_argument("--split", choices=SPLITS, default="score",
                        help="tune: to develop and choose thresholds on; score: to report (default)")
    parser.add_argument("--small", action="store_true", help="a quick set, ten times smaller")
    parser.add_argument("--scale", type=float, help="multiply every set's size (overrides --small)")
    parser.add_argument("--sets", nargs="+", choices=list(SETS), help="only these sets")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    scale = args.scale or (0.1 if args.small else 1.0)
    out = args.out or default_out(args.split, args.small)
    t0 = time.perf_counter()
    records = generate(out, load_sources(args.seed, args.split), plan(scale, args.sets), args.seed)
    print(f"{len(records)} images in {out} ({time.perf_counter() - t0:.0f} s); "
          f"manifest {out / 'manifest.jsonl'}")


if __name__ == "__main__":
    main()
