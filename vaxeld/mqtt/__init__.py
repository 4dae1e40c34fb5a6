"""MQTT adapter: live state as retained JSON topics, and validated commands.

``payloads`` builds what is published (pure), ``outbox`` holds it bounded,
``bridge`` keeps the broker connection, ``commands`` answers commands, ``health`` says
how the bridge is doing as metrics.
"""

from vaxeld.mqtt.bridge import MqttBridge
from vaxeld.mqtt.health import MqttCollector
from vaxeld.mqtt.outbox import Outbox
from vaxeld.mqtt.payloads import Touched, state_messages, touched_since

__all__ = [
    "MqttBridge",
    "MqttCollector",
    "Outbox",
    "Touched",
    "state_messages",
    "touched_since",
]
