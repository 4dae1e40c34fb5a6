"""The MQTT bridge's health as Prometheus metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vaxeld.mqtt.bridge import MqttBridge


class MqttCollector(Collector):
    """The bridge's health as metrics: connected, published, dropped, commands."""

    def __init__(self, bridge: Callable[[], MqttBridge | None]) -> None:
        self._bridge = bridge

    def collect(self) -> Iterator[Metric]:
        b = self._bridge()
        if b is None:
            return
        connected = GaugeMetricFamily("vaxeld_mqtt_connected", "1 while connected to the broker.")
        connected.add_metric([], 1.0 if b.connected else 0.0)
        published = CounterMetricFamily("vaxeld_mqtt_published", "Messages published.")
        published.add_metric([], b.published)
        dropped = CounterMetricFamily(
            "vaxeld_mqtt_dropped", "Messages dropped from the full outbox (oldest first)."
        )
        dropped.add_metric([], b.outbox.dropped)
        queued = GaugeMetricFamily("vaxeld_mqtt_outbox_messages", "Messages waiting to be sent.")
        queued.add_metric([], len(b.outbox))
        commands = CounterMetricFamily(
            "vaxeld_mqtt_commands", "Commands received, by result.", labels=["command"]
        )
        for name, count in sorted(b.commands.items()):
            commands.add_metric([name], count)
        yield from (connected, published, dropped, queued, commands)
