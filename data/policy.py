"""The promotion policy the API's retraining and the console share: one default, written once."""

from __future__ import annotations

# The relative log-loss improvement a challenger must show over the champion to be promoted.
DEFAULT_MIN_GAIN = 0.03
