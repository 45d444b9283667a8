"""StreamFlow's load generator: open and closed models, coordinated-omission-free latency.

Library use (the console drives it this way)::

    from loadgen import LoadConfig, LoadRunner
    runner = LoadRunner(LoadConfig(url="http://127.0.0.1:8000/predict", rate=200, duration=30))
    runner.start()
    runner.snapshot()          # cheap, thread-safe
    runner.set_rate(400)
    report = runner.stop()     # within 1 s; sent = ok + errors + cancelled
"""

from .config import LoadConfig, LoadConfigError
from .runner import LoadRunner, run_load
from .stats import LoadSnapshot

__all__ = ["LoadConfig", "LoadConfigError", "LoadRunner", "LoadSnapshot", "run_load"]
