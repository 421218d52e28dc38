"""handwritten-digits: reproducible MNIST training, reports, real-world reading and serving.

The small public API: build models by name, load trained ones, and read digits from images.
"""

__version__ = "0.1.0"

from handwritten_digits.errors import DigitsError  # noqa: E402
from handwritten_digits.models import count_parameters, create_model, list_models  # noqa: E402

_RECOGNIZE = ("DigitBox", "Prediction", "Reading", "Recognizer")


def __getattr__(name: str) -> object:
    # Recognizer pulls in image decoding; import it only when asked for.
    if name in _RECOGNIZE:
        from handwritten_digits import recognize
        return getattr(recognize, name)
    raise AttributeError(f"module 'handwritten_digits' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_RECOGNIZE))


__all__ = ["DigitBox", "DigitsError", "Prediction", "Reading", "Recognizer", "count_parameters",
           "create_model", "list_models"]
