"""A real mosquitto broker on 127.0.0.1, for the tests, the benchmarks and the demo."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from lab.asterisk import free_port


class Mosquitto:
    """mosquitto on a free loopback port. With ``passwords`` it refuses anonymous
    clients; ``acl`` is the text of an ACL file; with ``tls`` (certificate and key
    files, PEM) the listener speaks only TLS."""

    def __init__(
        self,
        workdir: Path,
        passwords: Mapping[str, str] | None = None,
        acl: str | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        exe = shutil.which("mosquitto")
        if exe is None:
            raise RuntimeError("mosquitto missing: install the Debian package (scripts/setup.sh)")
        workdir.mkdir(parents=True, exist_ok=True)
        self.exe, self.workdir, self.port = exe, workdir, free_port()
        lines = [f"listener {self.port} 127.0.0.1", "persistence false"]
        if tls is not None:
            lines += [f"certfile {tls[0]}", f"keyfile {tls[1]}"]
        if passwords:
            passwd = workdir / "passwd"
            for i, (user, password) in enumerate(passwords.items()):
                args = ["mosquitto_passwd", "-b", *(["-c"] if i == 0 else [])]
                subprocess.run(
                    [*args, str(passwd), user, password], check=True, capture_output=True
                )
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        if acl is not None:
            (workdir / "acl").write_text(acl)
            lines.append(f"acl_file {workdir / 'acl'}")
        if os.geteuid() == 0:
            lines.append("user root")  # the files above are in a root-only temp folder
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.log = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> Mosquitto:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError(f"mosquitto did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
