"""Turning a request into image bytes, with every limit enforced before anything is decoded.

`BodyLimitMiddleware` refuses a body over the upload limit from its Content-Length, and counts the
bytes as they stream so a lying or chunked body is cut off at the limit, never read whole.
`read_uploads` accepts multipart file(s) or JSON {"image": base64 | data URL | [...]}, then checks
that each upload is an image within the pixel limit by reading only its header (one that is not is
refused alone, and answered as that file's error among several).
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass, replace

from PIL import Image
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handwritten_digits.preprocess import FORMATS, NOT_A_FORMAT
from handwritten_digits.serve.schemas import ImageJSON
from handwritten_digits.serve.settings import Settings

HOW_TO_SEND = ('send multipart/form-data with image file(s), or JSON '
               '{"image": "<base64 or data:image/png;base64,...>"}')


@dataclass(frozen=True)
class Upload:
    name: str | None
    data: bytes
    problem: HTTPException | None = None  # not an image we take (415) or too many pixels (413)
    label: str = "image"  # what error messages call it when it has no name: image, or image[2] in a list

    @property
    def called(self) -> str:
        return self.name or self.label


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body is over the upload limit of {limit:,} bytes")


class BodyLimitMiddleware:
    """Refuses a body over `max_bytes` as the route starts reading it (BodyTooLarge, answered 413 by
    the app under that route): at once when Content-Length announces too much, else when the bytes
    counted so far pass the limit. Routes that read no body are not concerned."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        announced = int(length) if length is not None and length.isdigit() else 0
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if announced > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


async def read_uploads(request: Request, settings: Settings) -> list[Upload]:
    """The request's images, each checked to be an image within the pixel limit."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        uploads = await _from_multipart(request, settings.max_files)
    elif kind == "application/json" or kind.endswith("+json"):
        uploads = _from_json(await request.body())
    else:
        raise HTTPException(415, f"unsupported content type {kind or 'none'!r}: {HOW_TO_SEND}")
    if not uploads:
        raise HTTPException(422, f"no image in the request: {HOW_TO_SEND}")
    if len(uploads) > settings.max_files:
        raise HTTPException(413, f"{len(uploads)} images is over the limit of "
                                 f"{settings.max_files} per request")
    # one upload that is not an image answers for itself (415, 413); among several it is that file's
    # error and the others are answered, as `digits predict` does with a folder
    uploads = [replace(u, problem=image_problem(u, settings.max_pixels)) for u in uploads]
    if all(u.problem is not None for u in uploads):
        raise uploads[0].problem
    return uploads


async def _from_multipart(request: Request, max_files: int) -> list[Upload]:
    # Starlette's own part limits are a backstop (its refusal is a 400); a few too many files
    # reach our count and get the 413 that names the limit.
    parts = max(1000, 2 * max_files)
    try:
        async with request.form(max_files=parts, max_fields=parts) as form:
            return [Upload(value.filename, await value.read()) for _, value in form.multi_items()
                    if isinstance(value, UploadFile)]
    except HTTPException as e:  # Starlette's 400 for a malformed body or too many parts
        raise HTTPException(422, f"malformed multipart body: {e.detail}") from None


def _from_json(body: bytes) -> list[Upload]:
    try:
        payload = ImageJSON.model_validate_json(body)
    except ValidationError as e:
        raise HTTPException(422, f"malformed JSON ({_where(e.errors())}): {HOW_TO_SEND}") from None
    if not isinstance(payload.image, list):
        return [Upload(payload.name, decode_base64(payload.image, payload.name or "image"))]
    uploads = []
    for i, text in enumerate(payload.image):  # each item is named: the client has to know which to fix
        name = None if payload.name is None else f"{payload.name}[{i}]"
        uploads.append(Upload(name, decode_base64(text, name or f"image[{i}]"), label=f"image[{i}]"))
    return uploads


def _where(errors: list) -> str:
    """The first validation error in the request's terms: pydantic reports "image" once per branch
    of str | list[str] ("image.str: Input should be a valid string" for a number or null)."""
    for err in errors:
        loc = err["loc"]
        if loc[:2] == ("image", "list[str]") and len(loc) == 3:
            return f"image[{loc[2]}]: not a string"
    loc, msg = errors[0]["loc"], errors[0]["msg"]
    if loc[:1] == ("image",) and len(loc) > 1:
        return "image: a base64 string or a list of them"
    return f"{'.'.join(map(str, loc)) or 'body'}: {msg}"


def decode_base64(text: str, called: str = "image") -> bytes:
    """Bytes from base64 (standard or URL-safe, padded or not, line breaks allowed) or a base64 data
    URL; 422 naming the image for anything else."""
    if text.startswith("data:"):
        header, comma, text = text.partition(",")
        if not comma or not header.endswith(";base64"):
            raise HTTPException(422, f"{called}: data URL is not base64: expected data:image/png;base64,...")
    compact = "".join(text.split())
    url_safe = "-" in compact or "_" in compact
    try:
        if url_safe and ("+" in compact or "/" in compact):
            raise ValueError("two alphabets")
        data = base64.b64decode(compact + "=" * (-len(compact) % 4), altchars=b"-_" if url_safe else None,
                                validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(422, f"{called}: not valid base64") from None
    if not data:
        raise HTTPException(422, f"{called}: empty")
    return data


def image_problem(upload: Upload, max_pixels: int) -> HTTPException | None:
    """415 unless the bytes open as an image of a format we read; 413 over the pixel limit; None when
    it is fine. Reads the header only."""
    name = upload.called
    try:
        with Image.open(io.BytesIO(upload.data), formats=FORMATS) as img:
            width, height = img.size
    except Image.DecompressionBombError:
        return HTTPException(413, f"{name}: too many pixels (limit {max_pixels:,})")
    except Exception:  # a decoder fed hostile bytes may raise anything (AVIF: RuntimeError)
        return HTTPException(415, f"{name}: {NOT_A_FORMAT}")
    if width * height > max_pixels:
        return HTTPException(413, f"{name}: {width}x{height} is {width * height:,} pixels, over "
                                  f"the limit of {max_pixels:,}")
    return None
