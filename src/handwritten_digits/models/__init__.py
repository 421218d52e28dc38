"""Model architectures, registered by name."""

from handwritten_digits.models.registry import (
    count_parameters,
    create_model,
    get_entry,
    list_models,
    register_model,
)

__all__ = ["count_parameters", "create_model", "get_entry", "list_models", "register_model"]
