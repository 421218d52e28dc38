"""Image -> model input: the single place that turns any picture into a 28x28 MNIST-like array.

(First version: decodes with Pillow and handles images that are already MNIST-like: grayscale,
white digit on black. The real-world pipeline replaces `to_mnist` behind the same signature.)
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from handwritten_digits.errors import ImageError

ImageInput = str | os.PathLike | bytes | np.ndarray | Image.Image


def decode(source: ImageInput) -> Image.Image:
    """Decode a path, bytes, array or PIL image into a PIL image."""
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        return Image.fromarray(source)
    name = "<bytes>"
    if isinstance(source, str | os.PathLike):
        name = str(source)
        try:
            source = Path(source).read_bytes()
        except OSError as e:
            raise ImageError(f"{name}: cannot read ({e.strerror})") from None
    try:
        img = Image.open(io.BytesIO(source))
        img.load()
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise ImageError(f"{name}: not a readable image ({e})") from None
    return img


def to_mnist(source: ImageInput) -> np.ndarray:
    """(28, 28) uint8, white ink on black, as the model was trained on."""
    img = decode(source).convert("L")
    if img.size != (28, 28):
        img = img.resize((28, 28), Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.uint8)
