"""MQTT adapter: live state as retained JSON topics, and validated commands.

``payloads`` builds what is published (pure), ``outbox`` holds it bounded,
``bridge`` keeps the broker connection and answers commands.
"""

from vaxeld.mqtt.bridge import MqttBridge, MqttCollector
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
