"""Shared pytest setup: make the repo root importable (for `tests.support` and the app packages)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
