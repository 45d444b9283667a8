"""What the API and the console share without importing each other: the promotion policy, and the names the
API reads its settings from in the environment (the console's embedded API and its retrain command name the
registry through the same variables). One default each, written once."""

from __future__ import annotations

# The relative log-loss improvement a challenger must show over the champion to be promoted.
DEFAULT_MIN_GAIN = 0.03

# The API's settings from the environment: STREAMFLOW_API_<SETTING> (api/settings.py).
API_ENV_PREFIX = "STREAMFLOW_API_"
REGISTRY_ENV = API_ENV_PREFIX + "REGISTRY"  # local or mlflow
REGISTRY_LOCATION_ENV = API_ENV_PREFIX + "REGISTRY_LOCATION"  # a directory or a tracking URI
DEFAULT_REGISTRY = "local"
