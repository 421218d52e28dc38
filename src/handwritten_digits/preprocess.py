"""Image -> model input: the single place that turns any picture into a 28x28 MNIST-like array.

`decode` opens anything Pillow reads (refusing decompression bombs before decoding) and `to_gray`
flattens it to 8-bit grayscale. `handwritten_digits.ink.find_ink` finds the ink on a small working
copy: polarity, uneven background, Otsu threshold, speck and ruled/box-line removal, connected
components. `render` crops a mask's ink from the full-resolution image, anti-aliased, scales it into
a 20x20 box, brings the stroke width toward MNIST's and centres it by center of mass in 28x28, as
MNIST was made. `prepare` does all of that for one digit and returns the ink statistics used to
abstain; `prepare_zoomed` does it again on a crop around small ink, at a finer scale; `to_mnist`
returns just the array.
"""

from __future__ import annotations

import functools
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from handwritten_digits.errors import DigitsError, ImageError
from handwritten_digits.ink import Ink, Shape, find_ink
from handwritten_digits.masks import bbox, stroke_width
from handwritten_digits.morph import dilate, erode, max_filter

ImageInput = str | os.PathLike | bytes | BinaryIO | np.ndarray | Image.Image

MAX_PIXELS = 40_000_000  # larger images are refused undecoded (DIGITS_MAX_PIXELS: see `pixel_limit`)
MAX_FILE_BYTES = 512 * 1024 * 1024  # larger files are refused unread (40 M pixels of 16-bit RGB: 240 MB)
# What `decode` opens (Pillow's format names): the photo, scan and drawing formats, nothing that hands
# the bytes to an outside program (EPS goes to Ghostscript) and nothing that decodes while opening (ICO
# decodes an embedded PNG of any size before its size can be checked). AVIF comes last: a Pillow without
# its plugin (older releases) raises KeyError on reaching the name, which `decode` takes as "not one of
# these".
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF", "PPM", "TGA", "AVIF")
NOT_A_FORMAT = "not an image in a format read here (PNG, JPEG, WebP, BMP, GIF, TIFF, PPM, TGA, AVIF)"


def file_suffixes() -> frozenset[str]:
    """The file name endings of FORMATS, as Pillow registers them (.jpg, .jfif, .pgm, .avif, ...)."""
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in FORMATS)


BYTES_NAME = "<bytes>"  # what error messages call an image given as bytes
FULL_SIDE = 1024  # px: long side kept for rendering (JPEGs are decoded at this size via draft())
BOX = 20  # px: MNIST scales the ink into a 20x20 box ...
SIZE = 28  # ... centred by center of mass in a 28x28 frame
MNIST_STROKE = 1.96  # px at the 20-px box: median `stroke_width` of MNIST training digits
STROKE_RANGE = (0.45, 2.2)  # strokes outside this multiple of MNIST's are dilated / eroded
# (99.8% of MNIST training digits lie in 0.46-2.2x, so MNIST-like input is left alone)
STROKE_SCALE = 3  # strokes are adjusted at this multiple of the final size, before the last downscale
ZOOM_EXTENT = 64  # px (working scale): ink this small may be looked at again at a finer scale ...
ZOOM_SIDE = 96  # px: ... in a crop around it at least this large (line removal needs MIN_LINED_SIDE)

__all__ = ["ImageInput", "Ink", "Preprocessed", "decode", "prepare", "render", "to_gray", "to_mnist"]


@dataclass
class Preprocessed:
    """One image's model input plus what was seen on the way (for abstention and --explain)."""

    image: np.ndarray  # (28, 28) uint8, white ink on black; all zero when no ink was found
    ink: Ink  # statistics of the ink found (contrast, components, box, ...)
    reason: str | None = None  # "blank" when no ink was found

    @functools.cached_property
    def shape(self) -> Shape:
        """Statistics of the most prominent ink (all 0 when there is none)."""
        return Shape() if self.ink.mask is None else self.ink.shape(self.ink.mask)


def decode(source: ImageInput, max_pixels: int | None = None, draft: int | None = None) -> Image.Image:
    """A PIL image of the first frame, EXIF-rotated. `draft` (long side): a JPEG decodes no larger, and a
    colour JPEG as its luminance alone (mode L), for callers that want grayscale anyway."""
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        return _from_array(source)
    name = source_name(source)
    if isinstance(source, str | os.PathLike):
        source = _read_file(Path(source), name)
    elif hasattr(source, "read"):  # an open binary file or a BytesIO
        try:
            source = source.read()
        except (OSError, ValueError) as e:
            raise ImageError(f"{name}: cannot read ({e})") from None
    if not isinstance(source, bytes | bytearray | memoryview):
        several = "; for several, predict_many or read_many" if isinstance(source, list | tuple) else ""
        raise ImageError(f"{type(source).__name__} is not an image: give a path, bytes, a binary file, "
                         f"a PIL image or a numpy array{several}")
    if not source:
        raise ImageError(f"{name}: empty file (0 bytes), not an image")
    limit = pixel_limit() if max_pixels is None else max_pixels
    try:
        img = Image.open(io.BytesIO(source), formats=FORMATS)
    except Image.DecompressionBombError:
        raise ImageError(f"{name}: image too large (over {limit:,} pixels), refused") from None
    except (UnidentifiedImageError, KeyError):
        raise ImageError(f"{name}: {NOT_A_FORMAT}") from None
    except Exception as e:  # a decoder fed hostile bytes may raise anything (AVIF: RuntimeError)
        raise ImageError(f"{name}: not a readable image ({_short(e)})") from None
    w, h = img.size
    if w * h > limit:
        raise ImageError(f"{name}: image too large ({w}x{h} = {w * h:,} pixels, limit {limit:,}), "
                         "refused before decoding")
    if draft and img.format == "JPEG":  # decode the luminance alone (no colour conversion), smaller
        long = max(w, h)  # a side may not round to 0 (a 5000x3 strip)
        size = (max(1, draft * w // long), max(1, draft * h // long)) if long > draft else (w, h)
        if img.mode == "RGB" or size != (w, h):
            img.draft("L" if img.mode == "RGB" else img.mode, size)
    try:
        img.load()
        if img.getexif().get(0x0112, 1) != 1:
            img = ImageOps.exif_transpose(img)
        img.info["original_size"] = (w, h)  # before draft(); read by load_gray
    except MemoryError:
        raise ImageError(f"{name}: not enough memory to decode it") from None
    except Exception as e:  # as above: OSError for a truncated file, anything for a hostile one
        raise ImageError(f"{name}: corrupt or truncated image ({_short(e)})") from None
    return img


def quiet_pillow() -> None:
    """Silence Pillow's warnings, for the applications (CLI, server): it warns while opening damaged
    files ("Tag data larger than file", two lines on stderr for a file that reads fine) and about its
    own pixel cap, which `decode` enforces itself. Set once for the process, because
    `warnings.catch_warnings` around each call is not thread-safe; the library leaves a caller's
    warning filters alone."""
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")


def pixel_limit() -> int:
    """The most pixels an image may have to be decoded: DIGITS_MAX_PIXELS, or MAX_PIXELS."""
    raw = os.environ.get("DIGITS_MAX_PIXELS", "").strip()
    if not raw:
        return MAX_PIXELS
    try:
        limit = int(raw)
    except ValueError:
        raise DigitsError(f"DIGITS_MAX_PIXELS={raw!r}: expected a whole number of pixels") from None
    if limit <= 0:
        raise DigitsError(f"DIGITS_MAX_PIXELS must be > 0 (got {limit})")
    return limit


def source_name(source: ImageInput) -> str:
    """What error messages call an input: its path, an open file's name, else BYTES_NAME or <image>."""
    if isinstance(source, str | os.PathLike):
        return str(source)
    if isinstance(getattr(source, "name", None), str):
        return source.name
    return BYTES_NAME if isinstance(source, bytes | bytearray | memoryview) or hasattr(source, "read") \
        else "<image>"


def input_list(sources: object, one: str) -> list:
    """Several inputs as a list (a generator is walked once), for `one`_many; one image given there is
    an error (iterating would take each character or byte of it for an image)."""
    if isinstance(sources, str | bytes | bytearray | memoryview | os.PathLike) or hasattr(sources, "read"):
        raise TypeError(f"{one}_many takes a list of images; for one image, call {one}")
    return list(sources)


def _read_file(path: Path, name: str) -> bytes:
    """A file's bytes, at most MAX_FILE_BYTES of them (/dev/zero never ends). Any file named is read,
    pipes included (`digits predict /dev/stdin`); the CLI leaves pipes and devices in folders alone."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ImageError(f"{name}: cannot read ({e.strerror or e})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"{name}: file too large (over {MAX_FILE_BYTES:,} bytes), not read")
    return data


def to_gray(img: Image.Image) -> np.ndarray:
    """(H, W) uint8 luminance: alpha composited on white, 16-bit scaled, palette/CMYK converted."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        a = _finite(np.asarray(img, dtype=np.float32))
        peak = float(a.max(initial=0))
        top = 1.0 if img.mode == "F" and peak <= 1.0 else 65535.0 if peak > 255 else 255.0
        return np.clip(a * (255.0 / top), 0, 255).astype(np.uint8)
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"))
        if alpha.min(initial=255) == 255:  # opaque (a canvas export): nothing to composite
            return np.asarray(rgba.convert("L"))
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        gray = np.asarray(Image.alpha_composite(white, rgba).convert("L"))
        if np.ptp(gray) < 16 and np.ptp(alpha) >= 64:  # ink drawn only in the alpha channel
            return 255 - alpha
        return gray
    if img.mode != "L":
        img = img.convert("RGB" if img.mode in ("CMYK", "YCbCr", "LAB", "HSV") else "L").convert("L")
    return np.asarray(img)


def prepare(source: ImageInput, max_pixels: int | None = None) -> Preprocessed:
    """The 28x28 model input for one digit, with the ink statistics used to abstain."""
    return prepare_gray(*load_gray(source, max_pixels))


def prepare_gray(gray: np.ndarray, factor: float = 1.0, pool: bool = False, flat: bool | None = None
                 ) -> Preprocessed:
    """`prepare` for an image already decoded by `load_gray` (`pool`, `flat`: see `find_ink`)."""
    ink = find_ink(gray, factor, pool=pool, flat=flat)
    if ink.mask is None or not ink.mask.any():
        return Preprocessed(np.zeros((SIZE, SIZE), np.uint8), ink, "blank")
    return Preprocessed(render(ink, ink.mask), ink)


def prepare_zoomed(ink: Ink) -> Preprocessed | None:
    """`prepare` again on a crop of the decoded image around all the ink (`ink.page`, so a second digit
    beside the first stays in view), when it was found on a shrunk copy and is small there (a digit in
    a small printed box, whose lines merge with its strokes at working scale). The crop is searched
    like any image: at full resolution up to 256 px, else shrunk less than before. None when
    there is nothing to zoom into."""
    sl = bbox(ink.page) if ink.page is not None and ink.step > 1 else None
    if sl is None or max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start) > ZOOM_EXTENT:
        return None
    s = ink.step
    y0, y1, x0, x1 = sl[0].start * s, sl[0].stop * s, sl[1].start * s, sl[1].stop * s
    size = max(y1 - y0, x1 - x0)
    margin = int(max(0.5 * size, (ZOOM_SIDE - size) / 2))
    h, w = ink.gray.shape
    crop = ink.gray[max(y0 - margin, 0):min(y1 + margin, h), max(x0 - margin, 0):min(x1 + margin, w)]
    return prepare_gray(np.ascontiguousarray(crop), ink.factor)


def to_mnist(source: ImageInput) -> np.ndarray:
    """(28, 28) uint8, white ink on black, as the model was trained on (zeros when blank)."""
    return prepare(source).image


def load_gray(source: ImageInput, max_pixels: int | None = None) -> tuple[np.ndarray, float]:
    """(H, W) uint8 with at most FULL_SIDE px on the long side, and input pixels per pixel."""
    img = decode(source, max_pixels, draft=FULL_SIDE)
    name = source_name(source)
    if min(img.size) == 0:
        raise ImageError(f"{name}: empty image ({img.size[0]}x{img.size[1]} px)")
    original = img.info.get("original_size", img.size)
    if max(img.size) > FULL_SIDE:
        img = img.convert("I") if img.mode.startswith("I;16") else img.copy()  # Pillow can't reduce I;16
        img.thumbnail((FULL_SIDE, FULL_SIDE), Image.Resampling.BOX, reducing_gap=2.0)
    try:
        gray = to_gray(img)
    except ImageError as e:
        raise ImageError(f"{name}: {e}") from None
    return gray, max(original) / max(img.size)


def render(ink: Ink, mask: np.ndarray) -> np.ndarray:
    """(28, 28) uint8 of the ink under `mask` (working-scale bool), MNIST-normalised."""
    crop = ink.crop(mask)  # (h, w) float32 in [0, 1] at full resolution, tight around the ink
    if crop is None:
        return np.zeros((SIZE, SIZE), np.uint8)
    side, mid = max(crop.shape), STROKE_SCALE * BOX
    if side > mid:  # adjust strokes at a size where one pixel of dilation is a fine step
        k = side / mid
        if stroke_width(crop > 0.5) < 1.5 * k:  # averaging would fade thin strokes: max-pool first
            crop = max_filter(crop, int(np.ceil(k)))
        crop = _resize(crop, mid / side)
    crop = _normalise_stroke(crop, MNIST_STROKE * max(crop.shape) / BOX)
    return _centre(_resize(crop, BOX / max(crop.shape)))


def _normalise_stroke(crop: np.ndarray, target: float) -> np.ndarray:
    """Dilate strokes much thinner than `target` px, erode much thicker ones (grey morphology)."""
    binary = crop > 0.5
    if np.count_nonzero(binary) < 4:
        return crop
    width = stroke_width(binary)
    lo, hi = STROKE_RANGE
    if width < lo * target:
        return dilate(crop, _disk(max(1, round((target - width) / 2 + 0.5))))
    if width > hi * target:
        thinner = erode(crop, _disk(max(1, round((width - target) / 2))))
        return thinner if np.count_nonzero(thinner > 0.5) > 0.25 * np.count_nonzero(binary) else crop
    return crop


def _resize(a: np.ndarray, scale: float) -> np.ndarray:
    h, w = a.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return a
    out = Image.fromarray(a.astype(np.float32), "F").resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(out), 0.0, 1.0)


def _centre(digit: np.ndarray) -> np.ndarray:
    """Paste (h, w <= 20) ink into 28x28 with its center of mass at the centre."""
    out = np.zeros((SIZE, SIZE), np.float32)
    h, w = digit.shape
    cy, cx = ndimage.center_of_mass(digit) if digit.sum() > 0 else (h / 2, w / 2)
    top = int(np.clip(round(SIZE / 2 - cy), 0, SIZE - h))
    left = int(np.clip(round(SIZE / 2 - cx), 0, SIZE - w))
    out[top:top + h, left:left + w] = digit
    return np.round(out * 255.0).astype(np.uint8)


def _disk(r: int) -> np.ndarray:
    y, x = np.ogrid[-r:r + 1, -r:r + 1]
    return x * x + y * y <= r * r + r


def _from_array(a: np.ndarray) -> Image.Image:
    if not (a.ndim == 2 or a.ndim == 3 and a.shape[2] in (1, 2, 3, 4)) or a.dtype.kind not in "biuf":
        raise ImageError(f"array of shape {a.shape} and dtype {a.dtype}: not an image; give (H, W) "
                         "gray or (H, W, C) channels-last levels, C = 1, 2 (with alpha), 3 or 4")
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype.kind == "f":
        a = _finite(a)
        a = np.clip(a * (255.0 if a.max(initial=0) <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    elif a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    try:
        return Image.fromarray(a)
    except (TypeError, ValueError) as e:
        raise ImageError(f"array of shape {a.shape}: not an image ({e})") from None


def _finite(a: np.ndarray) -> np.ndarray:
    if not np.isfinite(a).all():
        raise ImageError("image holds NaN or infinite values, not pixel levels")
    return a


def _short(e: BaseException) -> str:
    return str(e).splitlines()[0][:200] if str(e) else type(e).__name__
