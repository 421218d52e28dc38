"""Preprocessing: decoding odd and bad files, polarity, background, lines, centring, stroke width."""

from __future__ import annotations

import contextlib
import io
import struct
import threading
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from handwritten_digits import preprocess
from handwritten_digits.errors import DigitsError, ImageError
from handwritten_digits.ink import find_ink
from handwritten_digits.preprocess import decode, load_gray, prepare, stroke_width, to_gray, to_mnist


def draw_seven(size: tuple[int, int] = (200, 200), box: tuple[int, int, int, int] = (60, 40, 140, 160),
               width: int = 10, ink: int = 20, paper: int = 230) -> Image.Image:
    """A dark 7 on light paper inside `box` (x0, y0, x1, y1)."""
    img = Image.new("L", size, paper)
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    d.line([(x0, y0), (x1, y0), (x0 + (x1 - x0) // 3, y1)], fill=ink, width=width, joint="curve")
    return img


def to_bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    return ndimage.center_of_mass(a.astype(np.float64))


# --- decoding -------------------------------------------------------------------------------------

def test_sixteen_bit_tiff_scaled_not_clipped() -> None:
    a = (np.asarray(draw_seven(), np.uint16) * 257)  # 0..65535
    img = Image.fromarray(a)  # uint16 -> mode I;16
    data = to_bytes(img, "TIFF")
    gray, _ = load_gray(data)
    assert gray.dtype == np.uint8 and 0 < gray.min() < 40 and gray.max() > 200


@pytest.mark.parametrize("size", [(4960, 7016), (1200, 5000)])  # an A4 page at 600 dpi; a tall strip
def test_large_sixteen_bit_scan_is_shrunk(size: tuple[int, int]) -> None:
    """Pillow cannot reduce a 16-bit image by some factors ("image has wrong mode")."""
    w, h = size
    a = np.full((h, w), 60000, np.uint16)
    a[h // 3:2 * h // 3, w // 2:w // 2 + w // 20] = 3000
    gray, factor = load_gray(to_bytes(Image.fromarray(a), "PNG"))
    assert max(gray.shape) == 1024 and factor == pytest.approx(max(size) / 1024)
    assert gray.min() < 20 and gray.max() > 220


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_strip_thinner_than_a_pixel_once_shrunk(fmt: str) -> None:
    """A 5000x3 image shrinks to less than a pixel's height; a JPEG's draft size must not be 0."""
    gray, _ = load_gray(to_bytes(Image.new("L", (5000, 3), 200), fmt))
    assert gray.shape[1] == 1024 and gray.shape[0] >= 1


def test_nan_pixels_are_a_clear_error() -> None:
    a = np.full((50, 50), 0.9, np.float32)
    a[10, 10] = np.nan
    with pytest.raises(ImageError, match=r"^<bytes>: image holds NaN"):
        load_gray(to_bytes(Image.fromarray(a, "F"), "TIFF"))
    with pytest.raises(ImageError, match="NaN or infinite"):
        load_gray(np.where(np.eye(50, dtype=bool), np.inf, 0.5))


def test_animated_gif_first_frame() -> None:
    first = draw_seven().convert("P")
    second = Image.new("L", (200, 200), 230).convert("P")
    data = to_bytes(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    assert prepare(data).reason is None


def test_cmyk_jpeg() -> None:
    data = to_bytes(draw_seven().convert("CMYK"), "JPEG", quality=95)
    gray, _ = load_gray(data)
    assert gray[40, 100] < 100 and gray[5, 5] > 180  # ink dark, paper light, not inverted by CMYK


def test_palette_png_with_transparency_is_composited_on_white() -> None:
    img = Image.new("P", (100, 100), 0)
    img.putpalette([0, 0, 0] + [0, 0, 0] * 255)  # index 0 and 1 both black; 0 is transparent
    ImageDraw.Draw(img).line([(50, 10), (50, 90)], fill=1, width=6)
    data = to_bytes(img, "PNG", transparency=0)
    gray = to_gray(decode(data))
    assert gray[5, 5] == 255 and gray[50, 50] == 0


def test_alpha_only_drawing() -> None:
    rgba = np.zeros((100, 100, 4), np.uint8)
    rgba[20:80, 45:55, 3] = 255  # white ink that only shows through alpha
    rgba[..., :3] = 255
    gray = to_gray(Image.fromarray(rgba, "RGBA"))
    assert gray[50, 50] < 50 and gray[5, 5] > 200


def test_a_named_pipe_is_read_and_a_device_only_up_to_the_limit(tmp_path: Path, fifo,  # noqa: ANN001
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`digits predict /dev/stdin` reads a pipe; /dev/zero, which never ends, stops at MAX_FILE_BYTES."""
    pipe = fifo(tmp_path / "pipe.png")
    writer = threading.Thread(target=pipe.write_bytes, args=(to_bytes(draw_seven(), "PNG"),))
    writer.start()
    assert decode(pipe).size == (200, 200)
    writer.join()
    monkeypatch.setattr(preprocess, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ImageError, match=r"^/dev/zero: file too large \(over 1,000 bytes\), not read$"):
        decode("/dev/zero")
    with pytest.raises(ImageError, match=r": cannot read \(Is a directory\)"):
        decode(tmp_path)


def test_a_file_over_the_byte_limit_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(to_bytes(draw_seven(), "PNG"))
    assert decode(path).size == (200, 200)
    monkeypatch.setattr(preprocess, "MAX_FILE_BYTES", path.stat().st_size - 1)
    with pytest.raises(ImageError, match=r"big.png: file too large \(over .* bytes\), not read"):
        decode(path)


def _formats() -> list[str]:
    from PIL import features
    return ["PNG", "JPEG", "TIFF", "WEBP", "GIF", *(["AVIF"] if features.check("avif") else [])]


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow on damaged tags
@pytest.mark.parametrize("fmt", _formats())
def test_damaged_files_are_that_files_error_whatever_the_decoder_raises(fmt: str) -> None:
    """Bytes of a small image overwritten at random (seeded): each decodes, or is an ImageError. Pillow's
    AVIF plugin raises RuntimeError on some; the server's header check must not raise either."""
    from handwritten_digits.serve.inputs import Upload, image_problem
    good = to_bytes(draw_seven(size=(48, 48), box=(10, 8, 38, 40), width=4).convert("RGB"), fmt)
    rng = np.random.default_rng(0)
    for _ in range(60):
        bad = bytearray(good)
        for i in rng.integers(0, len(bad), 4):
            bad[i] = int(rng.integers(256))
        with contextlib.suppress(ImageError):
            decode(bytes(bad))
        image_problem(Upload("x", bytes(bad)), 40_000_000)


def _tiff_with_a_tag_beyond_its_end() -> bytes:
    """A valid 8x8 TIFF whose ImageDescription claims 100,000 bytes at offset 1,000,000."""
    entries = [(256, 3, 1, 8), (257, 3, 1, 8), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (270, 2, 100_000, 1_000_000), (273, 4, 1, 8 + 2 + 12 * 9 + 4), (278, 3, 1, 8), (279, 4, 1, 64)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHI", tag, kind, count) + struct.pack("<HH" if kind == 3 else "<I", *(
            (value, 0) if kind == 3 else (value,))) for tag, kind, count, value in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + bytes(range(64))


def test_quiet_pillow_silences_its_warnings_about_a_damaged_file() -> None:
    """Pillow warns (two lines on stderr) while opening a file with a damaged tag that reads fine. The
    library leaves the caller's filters alone; the CLI and the server call quiet_pillow."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert decode(_tiff_with_a_tag_beyond_its_end()).size == (8, 8)
        assert caught
        caught.clear()
        preprocess.quiet_pillow()
        assert decode(_tiff_with_a_tag_beyond_its_end()).size == (8, 8)
    assert caught == []


def test_an_icon_is_not_opened() -> None:
    """Pillow's ICO plugin decodes an embedded PNG of any size before its size can be checked."""
    buf = io.BytesIO()
    draw_seven(size=(48, 48), box=(10, 8, 38, 40), width=4).save(buf, "ICO", sizes=[(48, 48)])
    with pytest.raises(ImageError, match="not an image in a format read here"):
        decode(buf.getvalue())


def test_pixel_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITS_MAX_PIXELS", "30000")
    assert preprocess.pixel_limit() == 30000
    with pytest.raises(ImageError, match="limit 30,000"):
        decode(to_bytes(draw_seven(), "PNG"))
    for bad in ("40M", "1e9", "0", "-1"):
        monkeypatch.setenv("DIGITS_MAX_PIXELS", bad)
        with pytest.raises(DigitsError, match="DIGITS_MAX_PIXELS"):
            preprocess.pixel_limit()


def test_exif_rotated_jpeg_is_turned_upright() -> None:
    upright = draw_seven(size=(200, 300), box=(60, 40, 140, 160))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as the camera sensor saw it
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    data = to_bytes(stored.convert("RGB"), "JPEG", quality=95, exif=exif.tobytes())
    img = decode(data)
    assert img.size == (200, 300)
    gray = to_gray(img)
    assert gray[40, 100] < 120  # the 7's bar is back at the top


def test_webp_and_bmp() -> None:
    for fmt in ("WEBP", "BMP"):
        assert prepare(to_bytes(draw_seven().convert("RGB"), fmt)).reason is None


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"),
    (b"hello, I am text\n", "not an image in a format read here"),
    # Pillow hands EPS to Ghostscript, an outside program: not opened at all
    (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n", "not an image in a format read here"),
])
def test_bad_bytes(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message):
        decode(path)


def test_truncated_jpeg() -> None:
    data = to_bytes(draw_seven().convert("RGB"), "JPEG")
    with pytest.raises(ImageError, match="truncated|corrupt|readable"):
        load_gray(data[: len(data) // 2])


def png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height (its pixel data is never there)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) \
        + chunk(b"IEND", b"")


def test_decompression_bomb_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(self: Image.Image) -> None:
        raise AssertionError("the bomb was decoded")
    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_decoding)
    with pytest.raises(ImageError, match="too large"):
        decode(png_bomb(50_000, 50_000))
    with pytest.raises(ImageError, match="too large"):  # under Pillow's own limit, over ours
        decode(png_bomb(8_000, 6_000), max_pixels=40_000_000)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="cannot read"):
        decode(tmp_path / "nope.png")


# --- the pipeline ---------------------------------------------------------------------------------

def test_mnist_like_input_is_left_alone() -> None:
    tile = np.zeros((28, 28), np.uint8)
    tile[4:24, 12:16] = 255  # a "1" already in MNIST's frame
    out = to_mnist(tile)
    assert np.abs(out.astype(int) - tile).max() == 0


def test_polarity_dark_on_light_equals_light_on_dark() -> None:
    dark = np.asarray(draw_seven())
    a, b = to_mnist(dark), to_mnist(255 - dark)
    assert a.max() == 255 and a[0].max() == 0  # white ink on black
    assert np.abs(a.astype(int) - b).mean() < 2


def test_cast_shadow_across_the_digit_is_not_ink() -> None:
    img = np.asarray(draw_seven(size=(640, 480), box=(250, 150, 350, 330), width=8), np.float32)
    light = np.where(np.arange(640)[None, :] < 300, 1.0, 0.35)  # a hard shadow edge through the 7
    shaded = Image.fromarray(np.clip(img * light, 0, 255).astype(np.uint8))
    ink = find_ink(np.asarray(shaded))
    assert ink.invert and ink.mask is not None
    assert ink.box(ink.mask) == pytest.approx([246, 146, 108, 188], abs=8)  # the 7, not the shadow


def test_small_digit_in_a_large_photo_is_found() -> None:
    img = draw_seven(size=(2000, 1500), box=(1200, 700, 1230, 745), width=6)
    ink = prepare(img).ink
    assert ink.mask is not None
    x, y, w, h = ink.box(ink.mask)
    assert abs(x - 1200) < 8 and abs(y - 700) < 8 and 40 < h < 56


def test_small_digit_with_a_fine_pen_in_a_large_photo() -> None:
    rng = np.random.default_rng(1)
    img = np.asarray(draw_seven(size=(2000, 1500), box=(1200, 700, 1224, 740), width=2, ink=150), np.float32)
    photo = Image.fromarray(np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8))
    prep = prepare(to_bytes(photo, "JPEG", quality=90))
    assert prep.reason is None and prep.ink.mask is not None
    x, y, w, h = prep.ink.box(prep.ink.mask)
    assert abs(x - 1200) < 12 and abs(y - 700) < 12


def test_small_zero_keeps_its_hole() -> None:
    img = Image.new("L", (2000, 1500), 230)
    ImageDraw.Draw(img).ellipse((1200, 700, 1220, 730), outline=20, width=4)  # a 0, 2% of the height
    ink = prepare(img).ink
    assert ink.mask is not None
    assert ink.shape(ink.mask).fill < 0.45  # measured at full resolution, where the hole is open


def test_off_centre_digit_is_centred_in_20_box() -> None:
    img = draw_seven(size=(640, 480), box=(500, 330, 600, 460), width=12)
    out = to_mnist(img)
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14) < 1 and abs(cx - 14) < 1
    rows, cols = np.nonzero(out > 0)
    assert 19 <= rows.max() - rows.min() + 1 <= 21  # scaled so the long side fills the 20 box


def test_thin_canvas_stroke_is_kept_and_thickened() -> None:
    img = draw_seven(size=(560, 560), box=(150, 100, 420, 460), width=2, ink=0, paper=255)
    out = to_mnist(img)
    width = stroke_width(out > 127)
    assert out.max() == 255 and 1.3 <= width <= 3.5  # MNIST's median is about 2


def test_thick_marker_is_thinned() -> None:
    img = draw_seven(size=(300, 300), box=(90, 60, 210, 240), width=40, ink=0, paper=255)
    assert stroke_width(to_mnist(img) > 127) <= 4.5


def test_uneven_background_and_shadow() -> None:
    a = np.asarray(draw_seven(size=(400, 300), box=(150, 60, 250, 240), width=8), np.float32)
    a = a * np.linspace(0.35, 1.0, 400)[None, :]  # a shadow darkening the left of the page
    a[:, :120] *= 0.6
    prep = prepare(a.astype(np.uint8))
    assert prep.reason is None
    box = prep.ink.box(prep.ink.mask)
    assert 130 <= box[0] <= 160 and box[2] <= 130  # the 7, not the shadow's edge


def test_ruled_lines_and_form_box_removed() -> None:
    img = draw_seven(size=(400, 300), box=(160, 80, 240, 220), width=8)
    d = ImageDraw.Draw(img)
    for y in range(30, 300, 40):
        d.line([(0, y), (400, y)], fill=120, width=2)
    ruled = prepare(img)
    assert ruled.ink.lines >= 5 and ruled.reason is None
    x, y, w, h = ruled.ink.box(ruled.ink.mask)
    assert w < 120 and h < 170

    img = draw_seven(size=(400, 300), box=(160, 80, 240, 220), width=8)
    ImageDraw.Draw(img).rectangle((110, 50, 290, 260), outline=40, width=3)
    boxed = prepare(img)
    assert boxed.ink.lines == 4
    assert np.abs(boxed.image.astype(int) - prepare(draw_seven(size=(400, 300), box=(160, 80, 240, 220),
                                                                 width=8)).image).mean() < 8


def test_faint_pencil_is_ink_not_blank() -> None:
    rng = np.random.default_rng(0)
    img = np.asarray(draw_seven(size=(1024, 768), box=(440, 210, 490, 280), width=6, ink=205, paper=228),
                     np.float32)
    photo = np.clip(img + rng.normal(0, 1.5, img.shape), 0, 255).astype(np.uint8)
    prep = prepare(photo)
    assert prep.reason is None and prep.ink.mask is not None


def test_closed_box_around_a_one_is_removed() -> None:
    img = Image.new("L", (640, 480), 225)
    d = ImageDraw.Draw(img)
    d.rectangle((260, 150, 360, 330), outline=70, width=3)  # a form's box ...
    d.line([(315, 180), (305, 300)], fill=30, width=8)  # ... around a 1, a straight stroke itself
    prep = prepare(img)
    assert prep.ink.lines >= 4
    x, y, w, h = prep.ink.box(prep.ink.mask)
    assert w < 40 and 110 < h < 140  # the 1 alone


def test_small_digit_beside_a_wide_table_edge() -> None:
    img = draw_seven(size=(640, 480), box=(370, 186, 430, 294), width=5, paper=215)
    ImageDraw.Draw(img).polygon([(0, 0), (150, 0), (90, 479), (0, 479)], fill=50)  # the table
    prep = prepare(img)
    assert prep.reason is None
    x, y, w, h = prep.ink.box(prep.ink.mask)
    assert abs(x - 367) < 10 and w < 80  # the 7, not the table


def test_table_beyond_the_page_edge_is_not_ink() -> None:
    img = draw_seven(size=(640, 480), box=(200, 120, 260, 220), width=6)
    ImageDraw.Draw(img).polygon([(560, 480), (640, 330), (640, 480)], fill=60)  # the table, a corner
    prep = prepare(img)
    assert prep.reason is None
    x, y, w, h = prep.ink.box(prep.ink.mask)
    assert abs(x - 197) < 10 and w < 80  # the 7, not the table


@pytest.mark.parametrize("margin", [False, True])
def test_squared_paper_is_erased_under_a_small_digit(margin: bool) -> None:
    img = draw_seven(size=(640, 480), box=(300, 200, 330, 250), width=4, paper=225)
    d = ImageDraw.Draw(img)
    for x in range(12, 640, 24):
        d.line([(x, 0), (x, 480)], fill=185, width=2)
    for y in range(12, 480, 24):
        d.line([(0, y), (640, y)], fill=185, width=2)
    if margin:
        d.line([(80, 0), (80, 480)], fill=120, width=3)
    ink = find_ink(np.asarray(img))
    assert ink.mask is not None
    x, y, w, h = ink.box(ink.mask)
    assert abs(x - 298) < 10 and abs(y - 198) < 10 and w < 50 and h < 70  # the 7, no grid


@pytest.mark.parametrize(("width", "tilt"), [(8, 0), (12, 0), (12, -20)])
def test_an_oval_zero_is_not_a_form_box(width: int, tilt: int) -> None:
    img = Image.new("L", (280, 280), 255)  # a 0 on a canvas: its curved sides are not box lines
    ImageDraw.Draw(img).ellipse((110, 90, 170, 200), outline=0, width=width)
    ink = find_ink(np.asarray(img.rotate(tilt, fillcolor=255, resample=Image.Resampling.BICUBIC)))
    assert ink.lines == 0 and ink.mask is not None
    assert ink.box(ink.mask)[2] > 55  # both sides of the 0 are kept


@pytest.mark.parametrize("image", [np.zeros((50, 50), np.uint8), np.full((50, 50), 255, np.uint8),
                                   np.full((80, 60), 128, np.uint8)])
def test_uniform_images_are_blank(image: np.ndarray) -> None:
    prep = prepare(image)
    assert prep.reason == "blank" and prep.image.max() == 0


def test_paper_noise_is_blank() -> None:
    rng = np.random.default_rng(0)
    paper = np.clip(rng.normal(220, 4, (300, 400)), 0, 255).astype(np.uint8)
    ink = find_ink(paper)
    assert ink.mask is None or ink.mask.sum() < 10


def test_empty_array_is_a_clear_error() -> None:
    with pytest.raises(ImageError, match="empty image"):
        prepare(np.zeros((0, 0), np.uint8))


def test_tightly_cropped_digit_keeps_its_ink() -> None:
    a = np.asarray(draw_seven(size=(300, 300), box=(60, 40, 240, 260), width=14))
    ink = a < 128
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    prep = prepare(a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])  # the 7 touches every side
    assert prep.reason is None
    assert prep.ink.shape(prep.ink.mask).extent > 0.95


def test_crop_leaves_out_a_close_neighbour() -> None:
    img = Image.new("L", (600, 360), 230)  # worked on at a third of its size
    d = ImageDraw.Draw(img)
    d.line([(200, 60), (200, 300)], fill=20, width=14)  # a 1 ...
    d.line([(220, 60), (220, 300)], fill=20, width=14)  # ... and its neighbour, 6 px away
    ink = find_ink(np.asarray(img))
    labels, n = ndimage.label(ink.page)
    assert n == 2
    crop = ink.crop(labels == labels[100 // ink.step, 200 // ink.step])
    assert crop is not None and crop.shape[1] <= 16  # the first stroke's width, not both


@pytest.mark.parametrize("corner", [(0, 0), (640, 0), (0, 480), (640, 480)])
def test_a_small_table_corner_is_not_a_second_digit(corner: tuple[int, int]) -> None:
    from handwritten_digits.abstain import digit_reason
    img = draw_seven(size=(640, 480), box=(280, 180, 340, 290), width=6, paper=215)
    cx, cy = corner
    sx, sy = (1 if cx == 0 else -1), (1 if cy == 0 else -1)
    # the table seen past the page's corner: it touches both sides briefly and reaches further in
    wedge = [(0, 0), (20, 0), (55, 100), (0, 40)]
    ImageDraw.Draw(img).polygon([(cx + x * sx, cy + y * sy) for x, y in wedge], fill=50)
    prep = prepare(img)
    assert digit_reason(prep.ink) is None  # not "multiple_digits"
    x, y, w, h = prep.ink.box(prep.ink.mask)
    assert abs(x - 277) < 10 and w < 80


def test_a_shadow_over_most_of_a_photo_keeps_dark_ink_dark() -> None:
    rng = np.random.default_rng(0)
    img = np.asarray(draw_seven(size=(800, 600), box=(330, 250, 420, 400), width=6, paper=225), np.float32)
    lit = np.where(np.arange(800)[None, :] + np.arange(600)[:, None] < 300, 1.0, 0.33)  # a lit corner
    photo = np.clip(img * lit + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    ink = find_ink(photo)
    assert ink.invert and ink.mask is not None
    assert ink.box(ink.mask) == pytest.approx([326, 246, 98, 158], abs=10)  # the 7, not the lit paper


def test_a_fine_pen_in_a_large_photo_is_told_from_the_paper_grain() -> None:
    # block means halve the pen's contrast below the grain's, so the ink side is decided on the
    # inkiest and the lightest pixel of each block instead
    rng = np.random.default_rng(0)
    img = Image.new("L", (1024, 768), 215)
    d = ImageDraw.Draw(img)
    d.line([(600, 350), (630, 380), (600, 410)], fill=150, width=1)  # a quarter of each 2x2 block
    for x, y in rng.integers(0, 380, (150, 2)) * 2:
        d.rectangle((x, y, x + 1, y + 1), fill=235)  # grain filling whole 2x2 blocks
    ink = find_ink(np.asarray(img), factor=2.0)  # a 2048x1536 photo decoded at half size
    assert ink.invert and ink.mask is not None
    assert ink.box(ink.mask) == pytest.approx([1200, 700, 64, 124], abs=8)


def test_a_box_the_digit_touches_is_cut_off() -> None:
    img = draw_seven(size=(640, 480), box=(292, 214, 340, 300), width=6, paper=220)
    ImageDraw.Draw(img).rectangle((290, 200, 356, 306), outline=60, width=3)  # the 7's bar touches it
    prep = prepare(img)
    assert prep.ink.lines > 0
    x, y, w, h = prep.ink.box(prep.ink.mask)
    assert x >= 290 and w <= 56 and y >= 205  # the 7, not the box around it


def test_the_light_end_of_a_pencil_stroke_stays_with_the_digit() -> None:
    rng = np.random.default_rng(0)
    img = Image.new("L", (640, 480), 215)
    d = ImageDraw.Draw(img)
    d.line([(290, 180), (350, 180)], fill=170, width=4)  # a pencil 7: the bar pressed harder ...
    d.line([(350, 180), (310, 300)], fill=202, width=4)  # ... than the long stroke down
    photo = np.clip(np.asarray(img, np.float32) + rng.normal(0, 2, (480, 640)), 0, 255).astype(np.uint8)
    ink = prepare(photo).ink
    assert ink.mask is not None
    assert ink.box(ink.mask)[3] > 110  # the whole 7, not its bar alone


def test_chalk_on_a_blackboard_photo_is_still_light_ink() -> None:
    rng = np.random.default_rng(0)
    board = 255 - np.asarray(draw_seven(size=(640, 480), box=(260, 140, 360, 330), width=12, paper=200),
                             np.float32)  # light strokes on a dark, noisy board
    photo = np.clip(board + rng.normal(0, 4, board.shape), 0, 255).astype(np.uint8)
    ink = find_ink(photo)
    assert not ink.invert and ink.mask is not None
    assert ink.box(ink.mask) == pytest.approx([254, 134, 112, 202], abs=10)


def test_a_digit_cropped_into_a_corner_is_kept_beside_a_speck() -> None:
    img = Image.new("L", (120, 160), 230)  # a tight crop: the 7's bar runs along the top edge
    d = ImageDraw.Draw(img)
    d.line([(0, 3), (115, 3), (40, 160)], fill=20, width=8)
    d.rectangle((20, 100, 22, 102), fill=20)  # a speck of dirt
    prep = prepare(img)
    assert prep.ink.mask is not None
    x, y, w, h = prep.ink.box(prep.ink.mask)
    assert w > 100 and h > 140  # the 7, not the speck


def test_a_bold_chalk_digit_is_not_taken_for_lit_paper() -> None:
    rng = np.random.default_rng(1)
    board = Image.new("L", (640, 480), 40)
    ImageDraw.Draw(board).line([(220, 80), (420, 80), (300, 420)], fill=230, width=56)
    photo = np.clip(np.asarray(board, np.float32) + rng.normal(0, 4, (480, 640)), 0, 255).astype(np.uint8)
    ink = find_ink(photo)
    assert not ink.invert and ink.mask is not None
    x, y, w, h = ink.box(ink.mask)
    assert w > 200 and h > 330


def test_a_z_shaped_two_keeps_its_bars() -> None:
    img = Image.new("L", (280, 280), 255)
    d = ImageDraw.Draw(img)
    for line in ((80, 50, 200, 50), (200, 50, 80, 230), (80, 230, 200, 230)):
        d.line(line, fill=0, width=14)
    prep = prepare(img)
    assert prep.ink.lines == 0
    assert prep.ink.box(prep.ink.mask)[3] > 180  # both bars are still there


@pytest.mark.parametrize("seed", range(4))
def test_labelling_inside_the_ink_box_matches_labelling_the_whole_mask(seed):
    from handwritten_digits.masks import MIN_SPECK, SPECK_FRAC, drop_specks, label
    rng = np.random.default_rng(seed)
    mask = np.zeros((60, 80), bool)
    y, x = rng.integers(0, 30), rng.integers(0, 40)
    mask[y:y + 30, x:x + 40] = rng.random((30, 40)) > 0.6
    eight = np.ones((3, 3), bool)
    for m in (mask, np.zeros_like(mask), np.ones_like(mask)):
        labels, n = label(m)
        ref, ref_n = ndimage.label(m, eight)
        assert n == ref_n and np.array_equal(labels, ref)
        areas = np.bincount(ref.ravel())
        areas[0] = 0
        expect = (areas >= max(MIN_SPECK, SPECK_FRAC * areas.max()))[ref] if ref_n else m
        kept = drop_specks(m)
        assert kept.dtype == bool and np.array_equal(kept, expect)


def test_a_tilted_printed_line_is_straight_and_an_arc_is_not():
    from handwritten_digits.lines import line_band

    def _straight(piece: np.ndarray, along: int) -> bool:
        return line_band(piece, along) is not None
    line = np.zeros((5, 60), bool)
    line[np.clip((np.arange(60) * 0.05).astype(int) + 1, 0, 4), np.arange(60)] = True
    arc = np.zeros((12, 60), bool)
    xs = np.arange(60)
    arc[(10 - 10 * np.sin(np.pi * xs / 59)).astype(int), xs] = True
    assert _straight(line, 1) and not _straight(arc, 1)
    assert _straight(line.T, 0) and not _straight(arc.T, 0)


def test_a_colour_jpeg_is_decoded_as_luminance_alone():
    data = to_bytes(draw_seven().convert("RGB"), "JPEG", quality=90)
    img = decode(data, draft=1024)
    assert img.mode == "L"  # no chroma upsampling or colour conversion spent on a grayscale answer
    full = np.asarray(Image.open(io.BytesIO(data)).convert("L")).astype(int)
    assert np.abs(np.asarray(img).astype(int) - full).max() <= 2


def test_the_inner_walls_of_a_comb_the_digit_touches_are_cut_off_too() -> None:
    from handwritten_digits.boxes import strip_box_sides
    mask = np.zeros((60, 160), bool)  # working scale: a comb of four cells, 2-px lines
    mask[10:12, 10:150] = mask[48:50, 10:150] = True
    for x in (10, 44, 80, 114, 148):
        mask[10:50, x:x + 2] = True
    digit = np.zeros_like(mask)  # a 5 in the third cell, its last stroke run into the bottom line
    digit[16:19, 86:108] = digit[16:30, 86:89] = digit[28:31, 86:108] = True
    digit[28:48, 105:108] = digit[45:48, 86:108] = True
    out, count = strip_box_sides(mask | digit)
    assert count >= 3
    assert not out[14:46, 44:46].any() and not out[14:46, 114:116].any()  # the walls beside the digit
    assert out[digit].mean() > 0.9  # the 5 stays


def test_a_stroke_lying_along_a_box_line_stays_when_the_line_goes() -> None:
    from handwritten_digits.lines import remove_lines
    box = np.zeros((80, 120), bool)  # working scale: a box, 2-px lines, the page beyond it empty
    box[10:12, 10:110] = box[68:70, 10:110] = box[10:70, 10:12] = box[10:70, 108:110] = True
    seven = np.zeros_like(box)
    seven[12:16, 40:80] = True  # a 7 whose bar was written against the top line ...
    for k in range(48):  # ... and its stem
        seven[16 + k, 76 - k // 2:80 - k // 2] = True
    out, count = remove_lines(box | seven)
    assert count >= 3 and not out[10:12, 10:38].any() and not out[30:60, 108:110].any()
    assert out[13:16, 40:80].all()  # the bar is the 7's, not the line's: it stays (less the row touching it)


def test_a_bold_upright_stroke_is_not_a_box_side_and_its_own_breadth() -> None:
    from handwritten_digits.lines import remove_lines
    # A 1 drawn with a broad brush on a 280-px canvas, at working scale (140 px): 10-11 px wide, 84
    # tall, drifting right. A level run across its breadth once passed for a box side meeting the
    # stroke at both ends; removing it took the whole stroke with it and the 1 read as "blank".
    edges = [(24, 109, 110), (25, 107, 112), (26, 106, 113), (27, 105, 114), (29, 104, 114),
             (36, 104, 113), (43, 104, 114), (57, 105, 114), (58, 105, 115), (65, 106, 115),
             (84, 106, 116), (89, 107, 116), (99, 107, 117), (103, 108, 117), (105, 108, 116),
             (106, 109, 116), (107, 110, 114), (108, 0, -1)]  # (first row, first and last column)
    one = np.zeros((140, 140), bool)
    for (y, x0, x1), (y_next, _, _) in zip(edges, edges[1:], strict=False):
        one[y:y_next, x0:x1 + 1] = True
    out, count = remove_lines(one)
    assert count == 0 and (out == one).all()


def test_a_thick_printed_bar_under_a_digit_is_still_a_line() -> None:
    from handwritten_digits.lines import remove_lines
    # a bar 12-16 px thick holds long runs both ways, in one box: it must not count as an upright
    # stroke whose breadth holds its own level run (the bold-1 rule above)
    for thick in (12, 16):
        seven = np.zeros((140, 140), bool)
        seven[30:33, 50:90] = True
        for y in range(33, 100):
            x = int(90 - (y - 33) * 0.4)
            seven[y, x - 1:x + 2] = True
        bar = np.zeros_like(seven)
        bar[104:104 + thick, 2:138] = True
        out, count = remove_lines(seven | bar)
        assert count >= 1 and not out[bar].any() and out[seven].all()


def _comb_image(walls: list[int], top: int = 60, bottom: int = 140, t: int = 3) -> Image.Image:
    """A printed comb of boxes on white, walls at the given x positions, nothing written in it."""
    img = Image.new("L", (walls[-1] + 40, 200), 255)
    d = ImageDraw.Draw(img)
    d.rectangle([walls[0], top, walls[-1] + t - 1, top + t - 1], fill=0)
    d.rectangle([walls[0], bottom - t, walls[-1] + t - 1, bottom - 1], fill=0)
    for x in walls:
        d.rectangle([x, top, x + t - 1, bottom - 1], fill=0)
    return img


@pytest.mark.parametrize("walls", [
    [20 + 20 * k for k in range(26)],  # 25 cells
    [20 + 24 * k for k in range(23)],  # 22 cells
    [20, 60, 100, 150, 190, 230, 280, 320, 360, 400, 440],  # a date: DD MM YYYY, gaps between groups
    [int(x) for x in 20 + np.cumsum([0, 40, 44, 48, 52, 56, 60])],  # cells widening (perspective)
])
def test_an_empty_comb_is_never_read_as_digits(walls) -> None:
    from handwritten_digits import Recognizer
    rec = Recognizer.load()
    img = _comb_image(walls)
    assert rec.predict(img).digit is None and rec.read(img).text is None


def test_what_is_left_of_a_removed_line_beside_its_band_goes_with_it() -> None:
    from handwritten_digits import Recognizer
    rec = Recognizer.load()
    img = Image.new("L", (640, 480), 230)
    d = ImageDraw.Draw(img)
    d.line([(0, 118), (640, 118)], fill=110, width=1)  # a faint rule lying against ...
    for k in range(2):  # ... the top line of a two-cell comb
        d.rectangle([120 + 80 * k, 120, 200 + 80 * k, 220], outline=40, width=3)
    assert rec.read(img).text is None and rec.predict(img).digit is None  # empty: no slivers read
    d.line([(220, 138), (260, 138), (235, 205)], fill=20, width=5)
    assert rec.read(img).text == "7"


def test_a_pillow_without_the_avif_plugin_still_refuses_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow raises KeyError for a format name it has no plugin for; that is "not one of ours"."""
    Image.init()
    monkeypatch.delitem(Image.OPEN, "AVIF")
    with pytest.raises(ImageError, match="not an image in a format read here"):
        decode(b"hello, I am text\n")
    assert prepare(to_bytes(draw_seven(), "PNG")).reason is None
