"""Prometheus metrics in the text exposition format, kept in plain counters (no extra dependency).

Everything is updated from the event loop thread only, so no locks. With `--workers N` each worker
process counts its own requests; scrape them as separate targets or run one worker.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter
from collections.abc import Iterable, Sequence

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)  # s
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)  # images per model call
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Histogram:
    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)  # last slot: above every bucket
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value

    def lines(self, name: str, labels: str) -> Iterable[str]:
        sep = "," if labels else ""
        total = 0
        for bound, count in zip((*self.buckets, "+Inf"), self.counts, strict=True):
            total += count
            yield f'{name}_bucket{{{labels}{sep}le="{bound}"}} {total}'
        braced = f"{{{labels}}}" if labels else ""
        yield f"{name}_sum{braced} {self.sum:.6f}"
        yield f"{name}_count{braced} {total}"


class Metrics:
    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, int]] = Counter()  # (method, route, status)
        self.errors: Counter[tuple[str, int]] = Counter()  # (route, status) for status >= 400
        self.latency: dict[str, Histogram] = {}  # route -> seconds
        self.predictions: Counter[str] = Counter()  # digit
        self.abstentions: Counter[str] = Counter()  # reason
        self.batches = Histogram(BATCH_BUCKETS)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[method, route, status] += 1
        if status >= 400:
            self.errors[route, status] += 1
        if route not in self.latency:
            self.latency[route] = Histogram(LATENCY_BUCKETS)
        self.latency[route].observe(seconds)

    def observe_answer(self, digit: int | None, reason: str | None) -> None:
        """One image answered: a digit, an abstention (blank, not_a_digit, ...) or an error."""
        if digit is not None:
            self.predictions[str(digit)] += 1
        elif reason and reason != "error":
            self.abstentions[reason] += 1

    def render(self) -> str:
        out = [
            "# HELP digits_http_requests_total HTTP requests answered.",
            "# TYPE digits_http_requests_total counter",
            *(f'digits_http_requests_total{{method="{m}",route="{r}",status="{s}"}} {n}'
              for (m, r, s), n in sorted(self.requests.items())),
            "# HELP digits_http_errors_total HTTP responses with status >= 400.",
            "# TYPE digits_http_errors_total counter",
            *(f'digits_http_errors_total{{route="{r}",status="{s}"}} {n}'
              for (r, s), n in sorted(self.errors.items())),
            "# HELP digits_http_request_duration_seconds Time from request to full response.",
            "# TYPE digits_http_request_duration_seconds histogram",
        ]
        for route, hist in sorted(self.latency.items()):
            out.extend(hist.lines("digits_http_request_duration_seconds", f'route="{route}"'))
        out += ["# HELP digits_predictions_total Images answered with a digit.",
                "# TYPE digits_predictions_total counter",
                *(f'digits_predictions_total{{digit="{d}"}} {n}'
                  for d, n in sorted(self.predictions.items())),
                "# HELP digits_abstentions_total Images answered without a digit, by reason.",
                "# TYPE digits_abstentions_total counter",
                *(f'digits_abstentions_total{{reason="{r}"}} {n}'
                  for r, n in sorted(self.abstentions.items())),
                "# HELP digits_batch_size Images per model call (micro-batching).",
                "# TYPE digits_batch_size histogram",
                *self.batches.lines("digits_batch_size", "")]
        return "\n".join(out) + "\n"


class MetricsMiddleware:
    """Counts every HTTP request by matched route template (never the raw path) and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        # the request as routing found it: a mount rewrites path and root_path in the scope
        asked = {"type": "http", "path": scope["path"], "root_path": scope.get("root_path", ""),
                 "method": scope["method"], "app": scope.get("app")}
        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", None) or _template(asked)
            self.metrics.observe_request(scope["method"], route, status,
                                         time.perf_counter() - start)


def _template(scope: Scope) -> str:
    """The template of a route that leaves none in the scope (the static files' mount, "/static");
    "unmatched" when no route names one (a path no route takes)."""
    for wanted in (Match.FULL, Match.PARTIAL):  # PARTIAL: the path matches, the method does not
        for r in getattr(scope.get("app"), "routes", []):
            try:
                match, child = r.matches(scope)
            except Exception:  # a route of a framework version that matches differently: not ours
                continue
            path = getattr(child.get("route"), "path", None) or getattr(r, "path", None)
            if match == wanted and path:
                return path
    return "unmatched"
