"""aiomqtt's client with fewer wake-ups: keepalive looks only when a ping is due, and
state written at the end of the loop turn instead of through a task per message."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiomqtt
from paho.mqtt.client import MQTT_ERR_SUCCESS

# MQTT keepalive: the broker allows 1.5 keepalives of silence (45 s). The client sleeps
# until a ping is due; should paho's last-packet times be gone, it looks every 10 s.
KEEPALIVE_SECONDS, KEEPALIVE_LOOK_SECONDS = 30, 10.0


class QuietClient(aiomqtt.Client):
    """aiomqtt's client, but its keepalive duty wakes when a ping is due, not every
    second (it only sends pings and notices a missing answer; at once-a-second it was
    most of an idle vaxeld's wake-ups). Relies on aiomqtt's ``_misc_loop`` and paho's
    last-packet times (a test checks both are still there); ``loop_misc`` is public."""

    async def _misc_loop(self) -> None:
        while self._client.loop_misc() == MQTT_ERR_SUCCESS:
            await asyncio.sleep(self._until_keepalive_due())

    def _until_keepalive_due(self) -> float:
        """Seconds until paho's keepalive check has work: a ping is due a keepalive
        after the last packet out or in, and a missing answer is noticed then too."""
        sent = getattr(self._client, "_last_msg_out", None)
        heard = getattr(self._client, "_last_bytes_received", None)
        if not isinstance(sent, float) or not isinstance(heard, float):
            return KEEPALIVE_LOOK_SECONDS
        due = min(sent, heard) + KEEPALIVE_SECONDS - time.monotonic()  # paho's clock
        return min(max(due, 0.5), KEEPALIVE_SECONDS)

    _write_soon = False

    def _on_socket_register_write(self, client: Any, userdata: Any, sock: Any) -> None:
        """paho has bytes to send. aiomqtt registers a writer for them every time, by
        the thread-safe path (two more loop turns and two epoll changes per publish);
        on the loop's own thread they are written at the end of this turn instead, with
        a writer only when the socket cannot take them all."""
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:  # paho's connecting thread
            on_loop = False
        if not on_loop:
            super()._on_socket_register_write(client, userdata, sock)
        elif not self._write_soon:
            self._write_soon = True
            self._loop.call_soon(self._write_now, client, userdata, sock)

    def _write_now(self, client: Any, userdata: Any, sock: Any) -> None:
        self._write_soon = False
        try:
            client.loop_write()
        except Exception as exc:  # a broken connection, as aiomqtt's writer treats it
            if not self._disconnected.done():
                self._disconnected.set_exception(exc)
            return
        if client.want_write():  # the socket took part: write the rest when it can
            super()._on_socket_register_write(client, userdata, sock)

    def publish_state(self, topic: str, payload: bytes) -> None:
        """Queue a retained QoS 0 message with paho and return: aiomqtt's ``publish``
        would wait (a task and a timer) until each is written, one loop turn apiece;
        paho writes all that were queued in one turn when the socket is writable."""
        info = self._client.publish(topic, payload, 0, True)
        if info.rc != MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
