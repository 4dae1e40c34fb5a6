"""Driving a lab Asterisk: originate simulated callers, set agents' behaviour in AstDB."""

from __future__ import annotations

import socket
import threading
import time

from vaxeld.ami.blocking import BlockingAmi
from vaxeld.ami.codec import Decoder, Message, encode_action


def attended_transfer_keys(number: str) -> str:
    """The keys of an attended transfer to ``number`` as the lab's agents make it: atxfer
    (*2) and the number, a pause for the digit timeout (3 s) and the target's answer (W:
    a second), then atxfercomplete (*2 again). Completed by the key, not by hanging up:
    app_queue can miss a transfer its agent hangs up to complete (see the README)."""
    return f"*2ww{number}{'W' * 8}*2"


class LabControl(BlockingAmi):
    def db_put(self, family: str, key: str, value: str) -> None:
        self.action("DBPut", [("Family", family), ("Key", key), ("Val", value)])

    def set_agent(self, agent_id: str, answer_after: float, talk: float) -> None:
        """Make lab agent Local/<agent_id>@vaxeld-lab-agents answer and talk as given."""
        self.db_put("vaxlab/answer", agent_id, f"{answer_after:g}")
        self.db_put("vaxlab/talk", agent_id, f"{talk:g}")

    def press_next_call(self, agent_id: str, keys: str) -> None:
        """Make lab agent ``agent_id`` press ``keys`` a second into its next answered call
        (``w`` waits half a second, ``W`` a second), e.g. ``#1ww6100`` to transfer the
        caller blind."""
        self.db_put("vaxlab/keys", agent_id, keys)

    def call(
        self,
        entry: str,
        digits: str,
        patience: float,
        delay: float = 1.0,
        caller_id: str = "0701234567",
    ) -> Message:
        """Place a simulated caller on the entry number; it presses ``digits`` and waits
        ``patience`` seconds in all before hanging up (unless the call ends first)."""
        headers = [
            ("Channel", "Local/caller@vaxeld-lab-callers/n"),
            ("Context", "vaxeld-entry"),
            ("Exten", entry),
            ("Priority", "1"),
            ("Async", "true"),
            ("CallerID", f"Lab <{caller_id}>"),
            ("Variable", f"VAXLAB_DIGITS={digits}"),
            ("Variable", f"VAXLAB_PATIENCE={patience:g}"),
            ("Variable", f"VAXLAB_DELAY={delay:g}"),
        ]
        return self.action("Originate", headers)

    def schedule_decisions(
        self, schedule: str, epochs: list[int], timeout: float = 60.0
    ) -> dict[int, str]:
        """Ask the rendered dialplan's schedule subroutine about each instant."""
        out: dict[int, str] = {}
        # AMI input lines are limited to about 1 KiB: 50 epochs fit in one Variable.
        for i in range(0, len(epochs), 50):
            out.update(self._schedule_batch(schedule, epochs[i : i + 50], timeout))
        return out

    def _schedule_batch(self, schedule: str, epochs: list[int], timeout: float) -> dict[int, str]:
        self.action("DBDelTree", [("Family", "vaxlab-sched")])
        batch = str(time.monotonic_ns())
        self.action(
            "Originate",
            [
                ("Channel", "Local/s@vaxeld-lab-schedule/n"),
                ("Application", "Wait"),
                ("Data", "120"),
                ("Async", "true"),
                ("Variable", f"VAXLAB_SCHEDULE={schedule}"),
                ("Variable", f"VAXLAB_EPOCHS={':'.join(str(e) for e in epochs)}"),
                ("Variable", f"VAXLAB_BATCH={batch}"),
            ],
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.list_action(
                "DBGet", "DBGetComplete", [("Family", "vaxlab-sched"), ("Key", "done")]
            )
            if any(m.get("Val") == batch for m in done):
                break
            time.sleep(0.1)
        else:
            raise TimeoutError("the schedule batch did not finish")
        out: dict[int, str] = {}
        for epoch in epochs:
            items = self.list_action(
                "DBGet", "DBGetComplete", [("Family", "vaxlab-sched"), ("Key", str(epoch))]
            )
            out[epoch] = next((m.get("Val") for m in items if m.event == "DBGetResponse"), "")
        return out


class LabEvents:
    """Collects the UserEvents a lab Asterisk sends, on a thread of its own, so a test
    can see where a call went even while vaxeld is not running. With ``timed``, also
    those events by name, with the wall-clock time each arrived (for latencies)."""

    def __init__(
        self, host: str, port: int, username: str, secret: str, timed: tuple[str, ...] = ()
    ) -> None:
        self._sock = socket.create_connection((host, port), timeout=10)
        events = "user,agent" if timed else "user"
        self._sock.sendall(
            encode_action(
                "Login",
                [("Username", username), ("Secret", secret), ("Events", events)],
                "events-1",
            )
        )
        self._timed = frozenset(timed)
        self.arrivals: list[tuple[float, Message]] = []
        self._decoder = Decoder()
        self._lock = threading.Lock()
        self.events: list[Message] = []
        self._closed = False
        self._thread = threading.Thread(target=self._read, name="lab-events", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        self._sock.settimeout(0.5)
        while not self._closed:
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            now = time.time()
            decoded = [m for m in self._decoder.feed(data) if isinstance(m, Message)]
            with self._lock:
                self.events.extend(m for m in decoded if m.event == "UserEvent")
                self.arrivals.extend((now, m) for m in decoded if m.event in self._timed)

    def named(self, kind: str, **headers: str) -> list[Message]:
        with self._lock:
            return [
                m
                for m in self.events
                if m.get("UserEvent") == kind and all(m.get(k) == v for k, v in headers.items())
            ]

    def wait_for(
        self, kind: str, count: int = 1, timeout: float = 30.0, **headers: str
    ) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.named(kind, **headers)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise TimeoutError(
            f"{count} x UserEvent {kind} {headers} not seen in {timeout} s; "
            f"seen: {[m.get('UserEvent') for m in self.events][-20:]}"
        )

    def arrived(self, kind: str, **headers: str) -> list[tuple[float, Message]]:
        with self._lock:
            return [
                (at, m)
                for at, m in self.arrivals
                if m.event == kind and all(m.get(k) == v for k, v in headers.items())
            ]

    def close(self) -> None:
        self._closed = True
        self._thread.join(timeout=2)
        self._sock.close()
