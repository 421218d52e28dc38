"""`digits serve`: the HTTP API and drawing page on uvicorn."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import click

from handwritten_digits.cli.app import err
from handwritten_digits.errors import DigitsError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--model", "model_path", help="Run folder or .safetensors file "
              "(default: $DIGITS_MODEL, else the default model).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes, each with its own copy of the model.")
@click.option("--access-log/--no-access-log", default=False, show_default=True)
def serve(host: str, port: int, model_path: str | None, workers: int, access_log: bool) -> None:
    """Serve the recognizer over HTTP: /v1/predict, /v1/read, /docs and a drawing page at /.

    Limits and options also come from the environment: DIGITS_MAX_UPLOAD_BYTES, DIGITS_MAX_PIXELS,
    DIGITS_MAX_FILES, DIGITS_CORS_ORIGINS (comma-separated; CORS is off when unset),
    DIGITS_MAX_BATCH, DIGITS_BATCH_WAIT_MS, DIGITS_BATCH_THREADS, DIGITS_TORCH_THREADS.
    """
    import uvicorn

    from handwritten_digits import runtime
    from handwritten_digits.modelio import load_model
    from handwritten_digits.serve.settings import Settings
    if model_path is not None:
        model_path = str(Path(model_path).expanduser().resolve())
    settings = Settings.from_env(model=model_path)
    loaded = load_model(settings.model)  # a bad --model fails here with one line, not in every worker
    if runtime.wanted() == "onnx":  # so does DIGITS_RUNTIME (a bad value, or onnx that cannot run)
        runtime.Networks(loaded, "onnx")
    os.environ.update(settings.to_env())  # worker processes rebuild the settings from these
    port = _listenable(host, port)
    err.print(f"serving on http://{host}:{port}  (API docs at /docs)")
    uvicorn.run("handwritten_digits.serve.app:app_from_env", factory=True, host=host, port=port,
                workers=workers, access_log=access_log, log_level="warning")


def _listenable(host: str, port: int) -> int:
    """`port`, or for 0 a free one chosen now, after checking that it can be listened on: a port in
    use is one line and exit status 2 here, not uvicorn's log line and exit status 3 after
    "serving on" was printed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError as e:
            raise DigitsError(f"cannot listen on {host}:{port} ({e.strerror or e})") from None
        return sock.getsockname()[1]
