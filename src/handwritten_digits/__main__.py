"""`python -m handwritten_digits` is the `digits` command."""

from handwritten_digits.cli import main

main()
