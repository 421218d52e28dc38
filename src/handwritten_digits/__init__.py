"""handwritten-digits: reproducible MNIST training, reports, real-world reading and serving.

The small public API: build models by name, load trained ones, and read digits from images.
"""

__version__ = "0.1.0"

from handwritten_digits.errors import DigitsError  # noqa: E402
from handwritten_digits.models import count_parameters, create_model, list_models  # noqa: E402


def __getattr__(name: str) -> object:
    # Recognizer pulls in image decoding; import it only when asked for.
    if name in ("Recognizer", "Prediction"):
        from handwritten_digits import recognize
        return getattr(recognize, name)
    raise AttributeError(name)


__all__ = ["DigitsError", "Prediction", "Recognizer", "count_parameters", "create_model",
           "list_models"]
