"""vaxeld.metrics_server: serves the registry, sleeps between scrapes, stops at once."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from vaxeld.metrics_server import MetricsServer


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("vaxeld_test_calls", "Calls.", registry=registry).inc(3)
    return registry


def _scrape(port: int, host: str = "127.0.0.1") -> dict[str, float]:
    url = f"http://{host}:{port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as reply:
        text = reply.read().decode()
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


def test_scrape_returns_the_registry_in_text_format() -> None:
    server = MetricsServer(_registry(), "127.0.0.1", 0).start()
    try:
        assert _scrape(server.port)["vaxeld_test_calls_total"] == 3
        assert _scrape(server.port)["vaxeld_test_calls_total"] == 3  # and again
    finally:
        server.stop()


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0"])
def test_stop_ends_the_thread_although_it_sleeps_an_hour_between_scrapes(address: str) -> None:
    """stop() wakes the sleeping server itself; without that it would wait for its next
    look (an hour) and the thread would still be running when stop() returns."""
    server = MetricsServer(_registry(), address, 0).start()
    assert _scrape(server.port)["vaxeld_test_calls_total"] == 3
    server.stop()
    assert not server.running
    with pytest.raises(OSError):
        _scrape(server.port)


def test_stop_without_start_closes_the_socket() -> None:
    server = MetricsServer(_registry(), "127.0.0.1", 0)
    port = server.port
    server.stop()
    with pytest.raises(OSError):
        _scrape(port)
