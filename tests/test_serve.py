"""The HTTP door: every happy path and every refusal, through FastAPI's TestClient on a tiny model."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from handwritten_digits.cli import main
from handwritten_digits.errors import DigitsError, ModelError
from handwritten_digits.recognize import Prediction, Reading, Recognizer
from handwritten_digits.serve import Settings, create_app
from handwritten_digits.serve.batching import MicroBatcher

from .conftest import synthetic_digits

PREDICTION_KEYS = set(Prediction(None, None, 0.0, []).to_dict())


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def digit_pngs() -> list[tuple[int, bytes]]:
    x, y = synthetic_digits(4, seed=11)
    return [(int(label), png(img)) for img, label in zip(x, y, strict=True)]


@pytest.fixture(scope="module")
def library(tiny_run: Path, digit_pngs: list) -> list[dict]:
    """What the library itself answers for each image: the server must answer the same."""
    return [p.to_dict() for p in Recognizer.load(tiny_run).predict_many([d for _, d in digit_pngs])]


@pytest.fixture(scope="module")
def client(tiny_run: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(model=str(tiny_run), max_files=8))) as c:
        yield c


def same(a: dict, b: dict) -> bool:
    """Equal answers; floats only to 1e-5 (batch size and thread count move the last bits)."""
    floats = ("confidence", "probabilities")
    return ({k: v for k, v in a.items() if k not in floats}
            == {k: v for k, v in b.items() if k not in floats}
            and a["confidence"] == pytest.approx(b["confidence"], abs=1e-5)
            and a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-5))


def post_file(client: TestClient, data: bytes, name: str = "d.png", url: str = "/v1/predict"
              ) -> tuple[int, dict]:
    r = client.post(url, files={"file": (name, data, "image/png")})
    return r.status_code, r.json()


# --- happy paths -------------------------------------------------------------------------------

def test_predict_multipart_matches_cli_json(client: TestClient, tiny_run: Path, tmp_path: Path,
                                            digit_pngs: list, library: list[dict],
                                            capsys: pytest.CaptureFixture) -> None:
    _, data = digit_pngs[0]
    (tmp_path / "d.png").write_bytes(data)
    try:
        main(["predict", str(tmp_path / "d.png"), "--json", "--model", str(tiny_run)])
    except SystemExit as e:
        assert e.code in (0, None)
    cli = json.loads(capsys.readouterr().out.splitlines()[0])
    status, body = post_file(client, data)
    assert status == 200
    (answer,) = body["predictions"]
    assert set(answer) == PREDICTION_KEYS
    assert same(answer, cli | {"file": "d.png"}) and same(answer, library[0] | {"file": "d.png"})


def test_predict_several_files_keeps_order(client: TestClient, digit_pngs: list,
                                           library: list[dict]) -> None:
    files = [("file", (f"{i}.png", data, "image/png")) for i, (_, data) in enumerate(digit_pngs)]
    r = client.post("/v1/predict", files=files)
    assert r.status_code == 200
    answers = r.json()["predictions"]
    assert [a["file"] for a in answers] == [f"{i}.png" for i in range(len(digit_pngs))]
    assert all(same(a | {"file": None}, b) for a, b in zip(answers, library, strict=True))


@pytest.mark.parametrize("as_data_url", [False, True])
def test_predict_json_base64_and_data_url(client: TestClient, digit_pngs: list,
                                          library: list[dict], as_data_url: bool) -> None:
    _, data = digit_pngs[1]
    text = base64.b64encode(data).decode()
    if as_data_url:
        text = "data:image/png;base64," + text
    r = client.post("/v1/predict", json={"image": text, "name": "drawn"})
    assert r.status_code == 200
    (answer,) = r.json()["predictions"]
    assert same(answer, library[1] | {"file": "drawn"})
    assert set(answer) == PREDICTION_KEYS  # no extras unless asked for


def test_predict_json_list(client: TestClient, digit_pngs: list, library: list[dict]) -> None:
    images = [base64.b64encode(d).decode() for _, d in digit_pngs[:2]]
    r = client.post("/v1/predict", json={"image": images})
    assert all(same(a, b) for a, b in zip(r.json()["predictions"], library[:2], strict=True))


def test_a_bad_item_in_a_json_list_is_named(client: TestClient, digit_pngs: list,
                                            library: list[dict]) -> None:
    good = base64.b64encode(digit_pngs[0][1]).decode()
    r = client.post("/v1/predict", json={"image": [good, good, "***not base64***"]})
    assert_error(r, 422, "image[2]: not valid base64")
    assert_error(client.post("/v1/predict", json={"image": [good, ""]}), 422, "image[1]: empty")
    assert_error(client.post("/v1/predict", json={"image": [good, 3]}), 422, "image[1]: not a string")
    for body in ({"image": None}, {"image": 5}):
        r = client.post("/v1/predict", json=body)
        assert_error(r, 422, "image: a base64 string or a list of them")
        assert "image.str" not in r.json()["error"]
    # an item that is no image is that item's error, named by its place (or by name[i])
    junk = base64.b64encode(b"hello").decode()
    answers = client.post("/v1/predict", json={"image": [good, junk]}).json()["predictions"]
    assert answers[0]["file"] is None and same(answers[0], library[0] | {"file": None})
    assert answers[1]["error"].startswith("image[1]: not an image")
    answers = client.post("/v1/predict", json={"image": [good, junk], "name": "scan"}).json()["predictions"]
    assert [a["file"] for a in answers] == ["scan[0]", "scan[1]"]
    assert answers[1]["error"].startswith("scan[1]: not an image")


def test_url_safe_and_unpadded_base64_are_read(client: TestClient, digit_pngs: list,
                                              library: list[dict]) -> None:
    data = next(d for _, d in digit_pngs if len(d) % 3 and any(c in base64.b64encode(d) for c in b"+/"))
    index = [d for _, d in digit_pngs].index(data)
    for text in (base64.urlsafe_b64encode(data).decode().rstrip("="),
                 base64.b64encode(data).decode().rstrip("=")):
        (answer,) = client.post("/v1/predict", json={"image": text}).json()["predictions"]
        assert same(answer, library[index] | {"file": None})
    for mixed in ("QUJD+-Rk", "QU/D_0Rk"):  # one alphabet or the other, not both
        assert_error(client.post("/v1/predict", json={"image": mixed}), 422, "image: not valid base64")


def test_include_image_returns_the_28x28_model_input(client: TestClient, digit_pngs: list) -> None:
    r = client.post("/v1/predict?include_image=true",
                    files={"file": ("d.png", digit_pngs[0][1], "image/png")})
    (answer,) = r.json()["predictions"]
    prefix = "data:image/png;base64,"
    assert answer["image"].startswith(prefix)
    seen = Image.open(io.BytesIO(base64.b64decode(answer["image"][len(prefix):])))
    assert seen.size == (28, 28)


def test_model_health_docs_page(client: TestClient) -> None:
    model = client.get("/v1/model").json()
    assert model["name"] == "seed-mlp" and model["version"].startswith("seed-mlp-")
    assert "val_acc" in model["metrics"] and model["card"]["input"]["size"] == [28, 28]
    assert model["path"] == "model.safetensors"  # its name, not the server's folders
    assert model["runtime"] == "torch"  # an MLP: no convolutional features to export
    health = client.get("/healthz").json()
    assert health == {"status": "ok", "model": "seed-mlp", "version": model["version"]}
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/predict", "/v1/read", "/v1/model", "/healthz", "/metrics"} <= set(paths)
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert "http" not in client.get("/static/style.css").text  # offline: no external resources


def test_read_returns_readings(client: TestClient, digit_pngs: list) -> None:
    status, body = post_file(client, digit_pngs[0][1], url="/v1/read")
    assert status == 200
    (reading,) = body["readings"]
    assert {"file", "text", "digits", "reason", "error"} <= set(reading)


def test_metrics_count_requests_errors_digits_and_abstentions(
        tiny_run: Path, digit_pngs: list, monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(create_app(Settings(model=str(tiny_run)))) as client:
        _exercise_metrics(client, digit_pngs[0][1], monkeypatch)


def _exercise_metrics(client: TestClient, data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    for answer in (Prediction(None, 7, 0.9, [0.01] * 10),
                   Prediction(None, None, 0.3, [0.1] * 10, "not_a_digit")):
        monkeypatch.setattr(service.recognizer, "predict_many",
                            lambda sources, a=answer: [a for _ in sources])
        status, body = post_file(client, data)
        assert status == 200 and body["predictions"][0]["reason"] == answer.reason
    post_file(client, b"not an image")
    text = client.get("/metrics").text
    assert 'digits_http_requests_total{method="POST",route="/v1/predict",status="200"}' in text
    assert 'digits_http_errors_total{route="/v1/predict",status="415"}' in text
    assert 'digits_predictions_total{digit="7"} 1' in text
    assert 'digits_abstentions_total{reason="not_a_digit"} 1' in text
    assert 'digits_http_request_duration_seconds_bucket{route="/v1/predict",le="+Inf"}' in text
    assert "digits_batch_size_count" in text


# --- refusals: always JSON {"error": ...}, never a 500 ----------------------------------------

def assert_error(r: object, status: int, *words: str) -> None:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and all(w in body["error"] for w in words), body


@pytest.mark.parametrize("body, words", [
    (b"{not json", ("malformed JSON",)),
    (b'{"picture": "abc"}', ("malformed JSON", "image")),
    (b'{"image": 3}', ("malformed JSON",)),
    (b'{"image": "***not base64***"}', ("base64",)),
    (b'{"image": "data:image/png,abcd"}', ("data URL",)),
    (b'{"image": ""}', ("empty",)),
    (b'{"image": []}', ("no image",)),
])
def test_malformed_json_is_422(client: TestClient, body: bytes, words: tuple[str, ...]) -> None:
    r = client.post("/v1/predict", content=body, headers={"content-type": "application/json"})
    assert_error(r, 422, *words)


def test_not_an_image_is_415(client: TestClient) -> None:
    assert_error(client.post("/v1/predict", files={"file": ("a.txt", b"hello", "text/plain")}),
                 415, "a.txt", "not an image")
    b64 = base64.b64encode(b"GIF89a-truncated").decode()
    assert_error(client.post("/v1/predict", json={"image": b64}), 415)
    assert_error(client.post("/v1/read", files={"file": ("a.txt", b"hello", "text/plain")}), 415)


def test_a_decoder_that_raises_anything_is_415_not_500(client: TestClient, digit_pngs: list,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow's AVIF plugin raises RuntimeError on damaged files, in the header check too."""
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Failed to decode image")

    monkeypatch.setattr(Image, "open", fail)
    assert_error(client.post("/v1/predict", files={"file": ("a.avif", digit_pngs[0][1], "image/avif")}),
                 415, "a.avif", "not an image")


def test_an_error_found_after_decoding_names_the_upload(client: TestClient) -> None:
    nan = np.full((20, 20), 0.5, np.float32)
    nan[3, 3] = np.nan
    tiff = io.BytesIO()
    Image.fromarray(nan, "F").save(tiff, "TIFF")
    assert_error(client.post("/v1/predict", files={"file": ("scan.tif", tiff.getvalue(), "image/tiff")}),
                 415, "scan.tif: image holds NaN")


def test_reads_run_no_more_at_once_than_batches(tiny_run: Path, digit_pngs: list,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """`read` answers whole requests in threads: without a bound, memory had none either."""
    running, most = [0], [0]
    lock = threading.Lock()

    def slow_read_many(self: Recognizer, sources: list) -> list:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        threading.Event().wait(0.2)
        with lock:
            running[0] -= 1
        return [Reading(None, "1", [], None) for _ in sources]

    monkeypatch.setattr(Recognizer, "read_many", slow_read_many)
    with TestClient(create_app(Settings(model=str(tiny_run), batch_threads=2))) as c:
        def post() -> int:
            return c.post("/v1/read", files={"file": ("d.png", digit_pngs[0][1], "image/png")}).status_code

        threads = [threading.Thread(target=post) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert most[0] == 2


def test_a_client_that_hangs_up_mid_body_is_not_a_server_error(client: TestClient) -> None:
    """Logged and counted as 499 (nobody is left to read it), not as a 500 with two tracebacks."""
    app = client.app
    messages = iter([{"type": "http.request", "body": b'{"image": "iVBO', "more_body": True},
                     {"type": "http.disconnect"}])
    sent: list[dict] = []

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/v1/predict", "raw_path": b"/v1/predict", "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 1), "server": ("testserver", 80), "state": {},
             "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]}
    def count(status: str) -> int:
        return sum(int(line.rsplit(" ", 1)[1]) for line in client.get("/metrics").text.splitlines()
                   if line.startswith("digits_http_requests_total{") and f'status="{status}"' in line)

    before = {status: count(status) for status in ("499", "500")}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 499
    assert count("499") == before["499"] + 1 and count("500") == before["500"]


def test_a_bad_image_among_several_is_that_items_error(client: TestClient, digit_pngs: list) -> None:
    """Like `digits predict` on a folder: the other images are answered, each error names its file."""
    jpeg = io.BytesIO()  # cut in its scan data: the header check passes, decoding fails
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256), np.uint8)).save(jpeg, "JPEG")
    files = [("file", ("d.png", digit_pngs[0][1], "image/png")), ("file", ("a.txt", b"hello", "text/plain")),
             ("file", ("cut.jpg", jpeg.getvalue()[:len(jpeg.getvalue()) // 2], "image/jpeg"))]
    for url, key in (("/v1/predict", "predictions"), ("/v1/read", "readings")):
        r = client.post(url, files=files)
        assert r.status_code == 200, r.text
        first, text, cut = r.json()[key]
        assert first["file"] == "d.png" and first["error"] is None
        assert text["file"] == "a.txt" and text["reason"] == "error"
        assert "a.txt: not an image" in text["error"]
        assert cut["file"] == "cut.jpg" and cut["reason"] == "error"
        assert cut["error"].startswith("cut.jpg: ") and "truncated" in cut["error"]
    assert_error(client.post("/v1/predict", files=files[1:]), 415, "a.txt")


def test_when_every_image_fails_the_first_ones_error_answers(strict_client: TestClient) -> None:
    big, jpeg = png(np.zeros((60, 60), np.uint8)), io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40), np.uint8)).save(jpeg, "JPEG")
    cut = jpeg.getvalue()[:len(jpeg.getvalue()) // 2]
    big_first = [("file", ("big.png", big, "image/png")), ("file", ("cut.jpg", cut, "image/jpeg"))]
    assert_error(strict_client.post("/v1/predict", files=big_first), 413, "big.png", "pixels")
    assert_error(strict_client.post("/v1/read", files=big_first[::-1]), 415, "cut.jpg")


def test_wrong_content_type_is_415(client: TestClient) -> None:
    r = client.post("/v1/predict", content=b"abc", headers={"content-type": "text/plain"})
    assert_error(r, 415, "multipart/form-data")


def test_multipart_without_a_file_is_422(client: TestClient) -> None:
    assert_error(client.post("/v1/predict", files={"note": (None, "hi")}), 422, "no image")
    r = client.post("/v1/predict", content=b"--x\r\ngarbage",
                    headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code in (415, 422) and "error" in r.json()


def test_too_many_files_is_413(client: TestClient, digit_pngs: list) -> None:
    files = [("file", (f"{i}.png", digit_pngs[0][1], "image/png")) for i in range(9)]
    assert_error(client.post("/v1/predict", files=files), 413)


@pytest.fixture(scope="module")
def strict_client(tiny_run: Path) -> Iterator[TestClient]:
    settings = Settings(model=str(tiny_run), max_upload_bytes=10_000, max_pixels=50 * 50)
    with TestClient(create_app(settings)) as c:
        yield c


def test_over_upload_limit_by_content_length_is_413(strict_client: TestClient) -> None:
    r = strict_client.post("/v1/predict", files={"file": ("big.png", b"x" * 20_000, "image/png")})
    assert_error(r, 413, "upload limit", "10,000")


def test_refusals_of_the_upload_limit_are_counted_under_their_route(tiny_run: Path) -> None:
    settings = Settings(model=str(tiny_run), max_upload_bytes=10_000)
    with TestClient(create_app(settings)) as client:  # its own counters: no earlier request counted
        r = client.post("/v1/predict", files={"file": ("big.png", b"x" * 20_000, "image/png")})
        assert_error(r, 413, "upload limit", "10,000")
        assert client.get("/static/app.js").status_code == 200
        assert client.get("/no/such/page").status_code == 404
        text = client.get("/metrics").text
    assert 'digits_http_errors_total{route="/v1/predict",status="413"}' in text
    assert 'digits_http_requests_total{method="GET",route="/static",status="200"}' in text
    assert 'digits_http_errors_total{route="unmatched",status="404"}' in text
    assert "/no/such/page" not in text and "app.js" not in text  # templates, never raw paths


def test_a_body_within_the_upload_limit_is_read(strict_client: TestClient, digit_pngs: list) -> None:
    """Announced and streamed bytes are not added up: 6,000 bytes pass a 10,000-byte limit."""
    body = json.dumps({"image": base64.b64encode(digit_pngs[0][1]).decode(), "name": "x" * 6000})
    assert 6000 < len(body) <= 10_000
    r = strict_client.post("/v1/predict", content=body, headers={"content-type": "application/json"})
    assert "upload limit" not in r.text, r.text


def test_over_upload_limit_while_streaming_is_413(strict_client: TestClient) -> None:
    seen = []

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count as it reads
        for _ in range(1000):
            seen.append(1)
            yield b'{"image": "' if len(seen) == 1 else b"A" * 1000

    r = strict_client.post("/v1/predict", content=chunks(),
                           headers={"content-type": "application/json"})
    assert_error(r, 413, "upload limit")


def test_over_pixel_limit_is_413(strict_client: TestClient) -> None:
    big = png(np.zeros((60, 60), np.uint8))
    assert_error(strict_client.post("/v1/predict", files={"file": ("big.png", big, "image/png")}),
                 413, "big.png", "60x60", "pixels")


def test_unknown_route_and_method_are_json(client: TestClient) -> None:
    assert_error(client.get("/nope"), 404)
    assert_error(client.get("/v1/predict"), 405)


def test_bad_query_value_is_422(client: TestClient, digit_pngs: list) -> None:
    r = client.post("/v1/predict?include_image=maybe",
                    files={"file": ("d.png", digit_pngs[0][1], "image/png")})
    assert_error(r, 422, "include_image")


@pytest.mark.parametrize("content_type, body", [
    ("application/json", b"\xff\xfe\x00"),
    ("application/json", b"[]"),
    ("application/json", b"null"),
    ("multipart/form-data", b"no boundary"),
    ("image/png", b"\x89PNG"),
    ("", b""),
])
def test_garbage_never_gives_500(client: TestClient, content_type: str, body: bytes) -> None:
    r = client.post("/v1/predict", content=body, headers={"content-type": content_type})
    assert 400 <= r.status_code < 500 and set(r.json()) == {"error"}


# --- settings, CORS, lifespan ------------------------------------------------------------------

def test_cors_is_off_unless_enabled(client: TestClient, tiny_run: Path) -> None:
    origin = {"origin": "http://example.test"}
    assert "access-control-allow-origin" not in client.get("/healthz", headers=origin).headers
    with TestClient(create_app(Settings(model=str(tiny_run),
                                        cors_origins=("http://example.test",)))) as c:
        r = c.get("/healthz", headers=origin)
        assert r.headers["access-control-allow-origin"] == "http://example.test"


def test_settings_from_env_and_flags() -> None:
    env = {"DIGITS_MODEL": "runs/a", "DIGITS_MAX_UPLOAD_BYTES": "1000",
           "DIGITS_CORS_ORIGINS": "http://a.test, http://b.test", "DIGITS_MAX_PIXELS": ""}
    s = Settings.from_env(env, model="runs/b")
    assert s.model == "runs/b" and s.max_upload_bytes == 1000
    assert s.cors_origins == ("http://a.test", "http://b.test") and s.max_pixels == 40_000_000
    assert Settings.from_env(s.to_env()) == s
    with pytest.raises(DigitsError, match="DIGITS_MAX_PIXELS"):
        Settings.from_env({"DIGITS_MAX_PIXELS": "lots"})
    with pytest.raises(DigitsError, match="DIGITS_MAX_FILES"):
        Settings.from_env({"DIGITS_MAX_FILES": "0"})


@pytest.mark.parametrize(("name", "value"), [
    ("DIGITS_BATCH_WAIT_MS", "inf"), ("DIGITS_BATCH_WAIT_MS", "nan"), ("DIGITS_BATCH_WAIT_MS", "-1"),
    ("DIGITS_BATCH_WAIT_MS", "1001"), ("DIGITS_TORCH_THREADS", "100000"), ("DIGITS_TORCH_THREADS", "257"),
    ("DIGITS_BATCH_THREADS", "100000")])
def test_settings_that_would_hang_or_crash_the_server_are_refused(name: str, value: str) -> None:
    """An endless batch wait held every request forever; 100,000 torch threads crashed the process."""
    with pytest.raises(DigitsError, match=name):
        Settings.from_env({name: value})


def test_model_loads_in_lifespan_not_at_create(tmp_path: Path) -> None:
    app = create_app(Settings(model=str(tmp_path / "missing")))  # no error yet
    with pytest.raises(ModelError, match="no model found"), TestClient(app):
        pass


def test_serve_cli_refuses_a_missing_model(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--model", str(tmp_path / "missing")])
    assert exit_info.value.code == 2
    assert "no model found" in capsys.readouterr().err


@pytest.mark.parametrize("value, says", [("bogus", "DIGITS_RUNTIME='bogus'"),
                                          ("onnx", "ONNX Runtime cannot run this model")])
def test_serve_cli_checks_digits_runtime_before_serving(value: str, says: str, tiny_run: Path,
                                                        capsys: pytest.CaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITS_RUNTIME", value)  # onnx: the MLP has no features to export
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--model", str(tiny_run), "--port", "0"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and says in err and "serving on" not in err


def test_serve_cli_refuses_a_port_in_use_before_saying_it_serves(capsys: pytest.CaptureFixture) -> None:
    import socket

    from handwritten_digits.cli.serve import _listenable
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SystemExit) as exit_info:
            main(["serve", "--port", str(port)])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and f"cannot listen on 127.0.0.1:{port}" in err
        assert "serving on" not in err
    assert _listenable("127.0.0.1", 0) > 0  # port 0: the free port chosen is the one announced


# --- micro-batching ----------------------------------------------------------------------------

def test_micro_batcher_batches_concurrent_requests_off_the_loop() -> None:
    calls: list[tuple[int, str]] = []

    def double(items: list[int]) -> list[int]:
        calls.append((len(items), threading.current_thread().name))
        return [2 * i for i in items]

    async def scenario() -> list[int]:
        batcher: MicroBatcher[int, int] = MicroBatcher(double, max_batch=8)
        batcher.start()
        try:
            return list(await asyncio.gather(*(batcher.submit(i) for i in range(20))))
        finally:
            await batcher.stop()

    assert asyncio.run(scenario()) == [2 * i for i in range(20)]
    assert max(n for n, _ in calls) > 1 and all(n <= 8 for n, _ in calls)
    assert all(name != threading.main_thread().name for _, name in calls)


def test_micro_batcher_runs_two_batches_at_once() -> None:
    both = threading.Barrier(2, timeout=5)  # passes only if two batches overlap in time

    def meet(items: list[int]) -> list[int]:
        both.wait()
        return items

    async def scenario() -> list[int]:
        batcher: MicroBatcher[int, int] = MicroBatcher(meet, max_batch=1, max_in_flight=2)
        batcher.start()
        try:
            return list(await asyncio.gather(batcher.submit(1), batcher.submit(2)))
        finally:
            await batcher.stop()

    assert asyncio.run(scenario()) == [1, 2]


def test_micro_batcher_hands_errors_to_every_waiter() -> None:
    def boom(items: list[int]) -> list[int]:
        raise DigitsError("bad batch")

    async def scenario() -> list[object]:
        batcher: MicroBatcher[int, int] = MicroBatcher(boom)
        batcher.start()
        try:
            return list(await asyncio.gather(*(batcher.submit(i) for i in range(3)),
                                             return_exceptions=True))
        finally:
            await batcher.stop()

    assert all(isinstance(r, DigitsError) for r in asyncio.run(scenario()))


def test_one_bad_item_fails_only_its_own_request() -> None:
    """A batch that raises is answered item by item: a poisoned upload must not fail the requests
    of other clients that shared its batch."""
    sizes: list[int] = []

    def picky(items: list[int]) -> list[int]:
        sizes.append(len(items))
        if 13 in items:
            raise RuntimeError("a decoder's bug")
        return [2 * i for i in items]

    async def scenario() -> list[object]:
        batcher: MicroBatcher[int, int] = MicroBatcher(picky, max_batch=8)
        batcher.start()
        try:
            return list(await asyncio.gather(*(batcher.submit(i) for i in range(10, 16)),
                                             return_exceptions=True))
        finally:
            await batcher.stop()

    results = asyncio.run(scenario())
    assert max(sizes) > 1  # they did share a batch
    assert isinstance(results[3], RuntimeError)
    assert [r for i, r in enumerate(results) if i != 3] == [20, 22, 24, 28, 30]


def test_a_batch_answered_short_is_an_error_not_a_hang() -> None:
    async def scenario() -> list[object]:
        batcher: MicroBatcher[int, int] = MicroBatcher(lambda items: items[:-1], max_batch=8)
        batcher.start()
        try:
            return list(await asyncio.wait_for(asyncio.gather(
                *(batcher.submit(i) for i in range(3)), return_exceptions=True), 10))
        finally:
            await batcher.stop()

    results = asyncio.run(scenario())
    assert all(isinstance(r, ValueError) for r in results)  # zip(strict=True): one result short
