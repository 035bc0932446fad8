"""Command line: ``skpoison audit`` (see :mod:`skpoison.audit._cli`)."""

import sys

from .audit._cli import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
