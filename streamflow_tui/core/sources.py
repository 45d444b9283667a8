"""One way to open the metric source a configuration names, for the console and ``--once`` alike.

- ``--api-url`` alone: the API's own ``/metrics`` (``ScrapeSource``).
- ``--prometheus-url``: Prometheus (``PrometheusSource``), all replicas summed; with ``--api-url`` too, the
  API's own scrape stands in whenever Prometheus cannot be read or has no usable metrics (``WithFallback``),
  and the snapshot says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import ConsoleConfig
from .source import MetricSource, WithFallback

if TYPE_CHECKING:
    from .prometheus import PrometheusSource
    from .scrape import ScrapeSource


def open_scrape(config: ConsoleConfig, *, history_points: int | None = None) -> ScrapeSource:
    from .scrape import ScrapeSource

    assert config.api_url, "a scrape needs the API's URL"
    return ScrapeSource(
        config.api_url,
        config.names,
        history_points=history_points or config.history_points,
        timeout=config.timeout,
        preset=config.preset,
        options=config.api_options,
        exclude=config.exclude,
        performance_window=config.performance_window,
    )


def open_prometheus(config: ConsoleConfig) -> PrometheusSource:
    from .prometheus import PrometheusSource

    assert config.prometheus_url, "a Prometheus source needs Prometheus's URL"
    return PrometheusSource(
        config.prometheus_url,
        config.names,
        api_url=config.api_url,
        timeout=config.timeout,
        preset=config.preset,
        options=config.prometheus_options,
        exclude=config.exclude,
        job=config.job,
        performance_window=config.performance_window,
    )


def open_source(config: ConsoleConfig, *, history_points: int | None = None) -> MetricSource:
    """The source the configuration names (see the module's doc)."""
    scrape = open_scrape(config, history_points=history_points) if config.api_url else None
    if not config.prometheus_url:
        assert scrape is not None, "a configuration names an API URL or a Prometheus URL"
        return scrape
    prometheus = open_prometheus(config)
    return prometheus if scrape is None else WithFallback(prometheus, scrape)
