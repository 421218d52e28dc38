"""Server settings: one frozen object, filled from `digits serve` flags and DIGITS_* variables.

Flags win over the environment. Worker processes (uvicorn --workers) rebuild the same object from
the environment, which is why `to_env()` exists.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from handwritten_digits.errors import DigitsError

MB = 1024 * 1024
MAX_THREADS = 256  # per worker process, for either pool
MAX_WAIT_MS = 1000.0  # the longest a batch may wait to fill


@dataclass(frozen=True)
class Settings:
    model: str | None = None  # run folder or .safetensors; None = the default model
    max_upload_bytes: int = 5 * MB  # whole request body
    max_pixels: int = 40_000_000  # width * height of one decoded image
    max_files: int = 64  # images per request
    cors_origins: tuple[str, ...] = ()  # empty = CORS off
    max_batch: int = 16  # images per model call; bounds the preprocessing working set too
    batch_wait_ms: float = 0.0  # extra wait to fill a batch; 0 = take what is queued
    batch_threads: int = 2  # batches preprocessed and run at once (threads) per worker
    torch_threads: int = 1  # intra-op threads per worker process

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from DIGITS_<FIELD> variables, then `overrides` (None values are ignored)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(_env_name(f.name))
            if raw is not None and raw.strip() != "":
                values[f.name] = _parse(f.name, raw.strip())
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        for name in ("max_upload_bytes", "max_pixels", "max_files", "max_batch", "batch_threads",
                     "torch_threads"):
            if getattr(self, name) <= 0:
                raise DigitsError(f"{_env_name(name)} must be > 0 (got {getattr(self, name)})")
        for name in ("batch_threads", "torch_threads"):  # 100,000 threads crash the process
            if getattr(self, name) > MAX_THREADS:
                raise DigitsError(f"{_env_name(name)} must be <= {MAX_THREADS} (got {getattr(self, name)})")
        if not 0 <= self.batch_wait_ms <= MAX_WAIT_MS:  # inf (and nan) would hold every request forever
            raise DigitsError(f"DIGITS_BATCH_WAIT_MS must be between 0 and {MAX_WAIT_MS:g} "
                              f"(got {self.batch_wait_ms})")

    def to_env(self) -> dict[str, str]:
        """The DIGITS_* variables that rebuild these settings in another process."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            out[_env_name(f.name)] = ",".join(value) if isinstance(value, tuple) else str(value)
        return out


def _env_name(field_name: str) -> str:
    return f"DIGITS_{field_name.upper()}"


def _parse(name: str, raw: str) -> Any:
    kind = Settings.__dataclass_fields__[name].type
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise DigitsError(f"{_env_name(name)}={raw!r}: expected a number") from None
    if name == "cors_origins":
        return tuple(o.strip() for o in raw.split(",") if o.strip())
    return raw
