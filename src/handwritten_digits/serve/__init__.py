"""The HTTP door: a FastAPI app over the same Recognizer the CLI uses, plus the drawing page.

`create_app(settings)` builds the app; `digits serve` runs it on uvicorn. Nothing here computes what
the CLI would need too: routes parse HTTP, the Recognizer answers.
"""

from handwritten_digits.serve.app import create_app
from handwritten_digits.serve.settings import Settings

__all__ = ["Settings", "create_app"]
