"""The console's Textual-free core: metric sources, PromQL math, snapshots.

Nothing under this package may import textual (tests/test_core_boundaries.py).
"""
