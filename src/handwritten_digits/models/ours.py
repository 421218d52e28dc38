"""Models of our own design (placeholder module; recipes arrive with the training issue)."""
