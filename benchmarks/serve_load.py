"""Load test of `digits serve`: req/s, latency percentiles, errors and server RSS under concurrency.

Starts the server in a subprocess on a free loopback port, then drives POST /v1/predict from a
separate process (wrk, with a Lua script sending a multipart PNG of a 280x280 canvas drawing) at
concurrency 1, 16 and 64. Every level is bounded in time (-d) and in count (the Lua script stops a
thread after its share of --max-requests). Writes benchmarks/results/serve_load.json.

    python -m benchmarks.serve_load --model runs/x            # 10 s levels, 60 s at 64 clients
    python -m benchmarks.serve_load --model runs/x --short    # 3 s per level, for development
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks.common` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw

from benchmarks.common import write_result

BOUNDARY = "digitsloadboundary"
TARGETS = {"c16_min_rps": 1500, "c16_max_p99_ms": 25.0, "c64_max_rss_growth_mb": 50.0}

LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=%(boundary)s"
local f = io.open("%(body)s", "rb"); wrk.body = f:read("*all"); f:close()
local answered, limit = 0, %(per_thread)d
function response(status, headers, body)
  answered = answered + 1
  if answered >= limit then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %%d, "duration_us": %%d, "bytes": %%d, ' ..
    '"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d, ' ..
    '"p50_us": %%d, "p95_us": %%d, "p99_us": %%d, "max_us": %%d, "mean_us": %%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
"""


def canvas_png() -> bytes:
    """A '7' drawn like the page does: white round strokes on a black 280x280 RGBA canvas."""
    img = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    draw = ImageDraw.Draw(img)
    points = [(70, 60), (205, 60), (175, 120), (140, 190), (120, 235)]
    draw.line(points, fill=(255, 255, 255, 255), width=22, joint="curve")
    for x, y in (points[0], points[-1]):
        draw.ellipse((x - 11, y - 11, x + 11, y + 11), fill=(255, 255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def multipart(png: bytes) -> bytes:
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"canvas.png\"\r\nContent-Type: image/png\r\n\r\n").encode()
    return head + png + f"\r\n--{BOUNDARY}--\r\n".encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of the server process and its children (uvicorn workers), in MB."""
    total = 0
    pids = [pid] + [int(p) for p in _children(pid)]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


def start_server(model: str | None, port: int, workers: int, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "handwritten_digits", "serve", "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers)]
    if model:
        cmd += ["--model", model]
    with log.open("wb") as sink:  # a file, not a pipe: a chatty server must never block on it
        server = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("server did not answer /healthz within 90 s")


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=15)


def post(port: int, body: bytes) -> dict[str, Any]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/predict", data=body, headers={
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def run_wrk(port: int, body_file: Path, concurrency: int, seconds: float, max_requests: int,
            workdir: Path) -> dict[str, Any]:
    threads = min(2, concurrency)
    script = workdir / f"c{concurrency}.lua"
    script.write_text(LUA % {"boundary": BOUNDARY, "body": body_file,
                             "per_thread": max(1, max_requests // threads)})
    cmd = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s",
           "--timeout", "5s", "-s", str(script), f"http://127.0.0.1:{port}/v1/predict"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    match = re.search(r"^RESULT (\{.*\})$", out, re.MULTILINE)
    if not match:
        raise SystemExit(f"wrk gave no result:\n{out}")
    r = json.loads(match.group(1))
    errors = {k: r[k] for k in ("connect", "read", "write", "status", "timeout")}
    seconds_run = r["duration_us"] / 1e6
    return {"concurrency": concurrency, "duration_s": round(seconds_run, 2),
            "requests": r["requests"], "rps": round(r["requests"] / seconds_run, 1),
            "p50_ms": r["p50_us"] / 1e3, "p95_ms": r["p95_us"] / 1e3, "p99_ms": r["p99_us"] / 1e3,
            "max_ms": r["max_us"] / 1e3, "mean_ms": round(r["mean_us"] / 1e3, 3),
            "errors": errors, "error_count": sum(errors.values())}


def http_floor(port: int, seconds: float = 3.0) -> float:
    """req/s of GET /healthz at concurrency 16: what HTTP alone costs on this machine."""
    cmd = ["wrk", "-t", "2", "-c", "16", "-d", f"{max(1, round(seconds))}s",
           f"http://127.0.0.1:{port}/healthz"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    match = re.search(r"Requests/sec:\s+(\S+)", out)
    return float(match.group(1)) if match else float("nan")


def stage_profile(png: bytes, model: str | None, repeats: int = 300) -> dict[str, float]:
    """Median milliseconds of each step of one prediction, in this process, single image."""
    import numpy as np

    from handwritten_digits import Recognizer
    from handwritten_digits.ink import find_ink
    from handwritten_digits.preprocess import load_gray, prepare, render

    rec = Recognizer.load(model) if model else Recognizer.load()
    gray, factor = load_gray(png)
    ink = find_ink(gray, factor)
    image = prepare(png).image
    batch8 = np.stack([image] * 8)
    steps = {"decode_png_to_gray": lambda: load_gray(png), "find_ink": lambda: find_ink(gray, factor),
             "crop_scale_centre": lambda: render(ink, ink.mask), "preprocess_total": lambda: prepare(png),
             "model_batch1": lambda: rec.probabilities(image[None]),
             "model_batch8_per_image": lambda: rec.probabilities(batch8),
             "recognizer_predict_total": lambda: rec.predict(png)}
    out = {}
    for name, fn in steps.items():
        for _ in range(10):
            fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        ms = sorted(times)[len(times) // 2] * 1e3
        out[name] = round(ms / 8 if name == "model_batch8_per_image" else ms, 3)
    return out


def batch_stats(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    total = float(re.search(r"^digits_batch_size_sum (\S+)", text, re.MULTILINE).group(1))
    count = float(re.search(r"^digits_batch_size_count (\S+)", text, re.MULTILINE).group(1))
    return {"model_calls": count, "mean_batch": round(total / max(count, 1), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="Run folder or .safetensors (default: the default model).")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10.0, help="Per level at concurrency 1, 16.")
    ap.add_argument("--soak-seconds", type=float, default=60.0, help="At concurrency 64.")
    ap.add_argument("--max-requests", type=int, default=1_000_000, help="Cap per level.")
    ap.add_argument("--short", action="store_true", help="3 s per level (development).")
    ap.add_argument("--out", default="serve_load", help="Result name under benchmarks/results.")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    if args.short:
        args.seconds = args.soak_seconds = 3.0
    png = canvas_png()
    body = multipart(png)
    port = free_port()
    levels = []
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(args.model, port, args.workers, Path(tmp) / "server.log")
        try:
            body_file = Path(tmp) / "body.bin"
            body_file.write_bytes(body)
            answer = post(port, body)["predictions"][0]
            for _ in range(50):  # warm-up: first calls allocate and fill caches
                post(port, body)
            healthz_rps = http_floor(port)
            start_rss = rss_mb(server.pid)
            for concurrency in (1, 16, 64):
                seconds = args.soak_seconds if concurrency == 64 else args.seconds
                before = rss_mb(server.pid)
                level = run_wrk(port, body_file, concurrency, seconds, args.max_requests, Path(tmp))
                level |= {"rss_before_mb": before, "rss_after_mb": rss_mb(server.pid)}
                level["rss_growth_mb"] = round(level["rss_after_mb"] - before, 1)
                levels.append(level)
                print(f"c={concurrency:3d}: {level['rps']:8.1f} req/s  p50 {level['p50_ms']:.2f} ms"
                      f"  p95 {level['p95_ms']:.2f} ms  p99 {level['p99_ms']:.2f} ms  errors "
                      f"{level['error_count']}  RSS {before} -> {level['rss_after_mb']} MB",
                      flush=True)
            batches = batch_stats(port)
        finally:
            stop(server)
    profile = stage_profile(png, args.model)  # after the server stopped: on a quiet machine
    profile["http_healthz_rps_c16"] = healthz_rps
    print(f"where the time goes (ms, median, one image): {profile}")
    c16, c64 = levels[1], levels[2]
    verdict = {"c16_rps_ok": c16["rps"] >= TARGETS["c16_min_rps"],
               "c16_p99_ok": c16["p99_ms"] <= TARGETS["c16_max_p99_ms"],
               "c16_errors_ok": c16["error_count"] == 0,
               "c64_errors_ok": c64["error_count"] == 0,
               "c64_rss_ok": c64["rss_growth_mb"] < TARGETS["c64_max_rss_growth_mb"]}
    path = write_result(args.out, {
        "payload": {"kind": "multipart PNG of a 280x280 RGBA canvas drawing",
                    "png_bytes": len(png), "body_bytes": len(body), "answer": answer},
        "server": {"workers": args.workers, "model": args.model or "default",
                   "loadavg_after": os.getloadavg(), **batches},
        "short": args.short, "rss_start_mb": start_rss,
        "rss_end_mb": levels[-1]["rss_after_mb"], "profile_ms": profile, "levels": levels,
        "targets": TARGETS, "verdict": verdict})
    print(f"batches: {batches}; verdict: {verdict}\nwrote {path}")


if __name__ == "__main__":
    main()
