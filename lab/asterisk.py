"""A throwaway Asterisk 22 for the demo and the tests, run inside a Debian sid chroot.

Each lab gets its own etc/log/run/spool/db folders inside the chroot and its own
loopback ports, so several labs (and a real installation) never collide. The
rendered vaxeld dialplan is included exactly as `vaxeld render` wrote it, next
to test-only contexts for simulated callers and agents.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from vaxeld.contract import (
    APPLY_ACCOUNT_READ,
    APPLY_ACCOUNT_WRITE,
    COMMAND_ACCOUNT_READ,
    COMMAND_ACCOUNT_WRITE,
    EVENT_FILTERS,
    RUN_ACCOUNT_READ,
    RUN_ACCOUNT_WRITE,
)

REPO = Path(__file__).resolve().parents[1]
CHROOT_SCRIPT = REPO / "scripts" / "asterisk-chroot.sh"
LAB_ROOT_IN_CHROOT = "/vaxeld-lab"

# Modules that need hardware, external services or config we do not provide.
NOLOAD = (
    "chan_dahdi",
    "chan_mobile",
    "chan_iax2",
    "chan_unistim",
    "chan_skinny",
    "chan_mgcp",
    "chan_ooh323",
    "chan_motif",
    "chan_console",
    "chan_alsa",
    "chan_oss",
    "chan_sip",
    "res_hep",
    "res_hep_pjsip",
    "res_hep_rtcp",
    "res_xmpp",
    "res_calendar",
    "res_snmp",
    "res_config_ldap",
    "res_config_pgsql",
    "res_config_mysql",
    "res_config_odbc",
    "res_config_sqlite3",
    "res_odbc",
    "res_odbc_transaction",
    "cdr_pgsql",
    "cdr_odbc",
    "cdr_tds",
    "cdr_radius",
    "cdr_sqlite3_custom",
    "cdr_adaptive_odbc",
    "cdr_beanstalkd",
    "cel_pgsql",
    "cel_odbc",
    "cel_tds",
    "cel_radius",
    "cel_sqlite3_custom",
    "cel_beanstalkd",
    "app_festival",
    "res_prometheus",
    "res_phoneprov",
    "res_pjsip_phoneprov_provider",
    "res_corosync",
    "res_statsd",
    "res_smdi",
    "res_aeap",
    "res_speech_aeap",
    "app_voicemail",
    "res_stasis_test",
    "res_pjsip_config_wizard",
    "chan_websocket",
    "res_fax",
    "res_fax_spandsp",
    "app_minivm",
    "pbx_lua",
    "pbx_ael",
    "res_ael_share",
    "pbx_dundi",
    "res_geolocation",
)


def manager_accounts(run_secret: str, ops_secret: str, apply_secret: str) -> str:
    """vaxeld's three manager.conf accounts, exactly as the README documents them."""
    filters = "".join(f"eventfilter = {expr}\n" for expr in EVENT_FILTERS)
    return f"""[vaxeld]
; vaxeld run: only the events it uses, and read-only actions
secret = {run_secret}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = {RUN_ACCOUNT_READ}
write = {RUN_ACCOUNT_WRITE}
{filters}writetimeout = 5000

[vaxeld-ops]
; vaxeld crisis, vaxeld agent and MQTT commands
secret = {ops_secret}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = {COMMAND_ACCOUNT_READ}
write = {COMMAND_ACCOUNT_WRITE}
writetimeout = 5000

[vaxeld-apply]
; vaxeld apply: reload the rendered dialplan and queues, and check what Asterisk holds
secret = {apply_secret}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = {APPLY_ACCOUNT_READ}
write = {APPLY_ACCOUNT_WRITE}
writetimeout = 5000
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_chroot() -> Path:
    """Build (first time only) and return the cached sid chroot with Asterisk."""
    out = subprocess.run(
        ["bash", str(CHROOT_SCRIPT)], check=True, stdout=subprocess.PIPE, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


TEST_CONTEXTS = """
; Test-only callers and agents (not part of vaxeld's rendered dialplan).
[vaxeld-lab-callers]
; Originated as Local/caller@vaxeld-lab-callers/n with VAXLAB_DIGITS and VAXLAB_PATIENCE.
exten => caller,1,Answer()
 same => n,Wait(${IF($["${VAXLAB_DELAY}" = ""]?1:${VAXLAB_DELAY})})
 same => n,ExecIf($["${VAXLAB_DIGITS}" != ""]?SendDTMF(${VAXLAB_DIGITS},250))
 same => n,Wait(${IF($["${VAXLAB_PATIENCE}" = ""]?60:${VAXLAB_PATIENCE})})
 same => n,Hangup()

[vaxeld-lab-agents]
; Members are Local/<id>@vaxeld-lab-agents/n; AstDB vaxlab/answer/<id> and
; vaxlab/talk/<id> set the ring time before answering and the talk time; vaxlab/keys/<id>,
; read once, are keys the agent presses on its next call a second after answering (its
; phone's transfer keys, e.g. #1 6100).
exten => _X.,1,Set(A=${DB(vaxlab/answer/${EXTEN})})
 same => n,Set(T=${DB(vaxlab/talk/${EXTEN})})
 same => n,Wait(${IF($["${A}" = ""]?1:${A})})
 same => n,Answer()
 same => n,Set(K=${DB_DELETE(vaxlab/keys/${EXTEN})})
 same => n,ExecIf($["${K}" != ""]?Wait(1))
 same => n,ExecIf($["${K}" != ""]?SendDTMF(${K},250))
 same => n,Wait(${IF($["${T}" = ""]?5:${T})})
 same => n,Hangup()

[vaxeld-lab-schedule]
; Asks a rendered schedule subroutine about many instants; answers land in AstDB.
exten => s,1,Answer()
 same => n,Set(VAXLAB_I=1)
 same => n(loop),Set(VAXLAB_E=${CUT(VAXLAB_EPOCHS,:,${VAXLAB_I})})
 same => n,GotoIf($["${VAXLAB_E}" = ""]?done)
 same => n,Gosub(vaxeld-schedule-${VAXLAB_SCHEDULE},s,1(${VAXLAB_E}))
 same => n,Set(DB(vaxlab-sched/${VAXLAB_E})=${GOSUB_RETVAL})
 same => n,Set(VAXLAB_I=$[${VAXLAB_I} + 1])
 same => n,Goto(loop)
 same => n(done),Set(DB(vaxlab-sched/done)=${VAXLAB_BATCH})
 same => n,Hangup()

[vaxeld-outbound]
; Stands in for the site's outbound context: records what vaxeld's dialplan dialled.
exten => _X.,1,UserEvent(VaxeldLabDialled,Number: ${EXTEN})
 same => n,Answer()
 same => n,Wait(1)
 same => n,Hangup()
; The agents' own extensions (the example config's members), as phones would answer.
exten => _[12]00X,1,Dial(Local/${EXTEN}@vaxeld-lab-agents/n)
; A department outside the centre that talks a while (attended transfers end on it).
exten => 0313652500,1,UserEvent(VaxeldLabDialled,Number: ${EXTEN})
 same => n,Answer()
 same => n,Wait(20)
 same => n,Hangup()

[vaxeld-lab-sip]
; Inbound SIP from the lab's SIPp caller reaches the entry number like a trunk would.
include => vaxeld-entry
"""


@dataclass
class AsteriskLab:
    """One Asterisk process in the shared chroot, with its own config and ports."""

    chroot: Path
    name: str
    ami_port: int = field(default_factory=free_port)
    sip_port: int = field(default_factory=free_port)
    admin_secret: str = "lab-admin-secret"
    vaxeld_secret: str = "lab-vaxeld-secret"
    ops_secret: str = "lab-ops-secret"
    apply_secret: str = "lab-apply-secret"
    proc: subprocess.Popen[bytes] | None = None
    # Asterisk's realtime queue_log in PostgreSQL, beside the file: (port, database, user,
    # password, table). Rows stamped in UTC (queue_log_realtime_use_gmt).
    realtime_queue_log: tuple[int, str, str, str, str] | None = None
    # More pjsip.conf (a trunk to another lab Asterisk), and whether SIPp's identify by
    # 127.0.0.1 is there (a site reached by a trunk from 127.0.0.1 must not have it).
    pjsip_extra: str = ""
    sipp_identify: bool = True

    @property
    def _loaded(self) -> set[str]:
        return {"res_config_pgsql"} if self.realtime_queue_log else set()

    @property
    def secrets(self) -> dict[str, str]:
        """The environment the example config reads its secrets from: vaxeld's two
        accounts' and the key repeat callers' numbers are hashed with."""
        return {
            "VAXELD_AMI_SECRET": self.vaxeld_secret,
            "VAXELD_OPS_SECRET": self.ops_secret,
            "VAXELD_APPLY_SECRET": self.apply_secret,
            "VAXELD_CALLER_KEY": "lab-caller-key-of-32-characters!",
        }

    @property
    def base(self) -> str:
        """The lab's folder as Asterisk sees it (inside the chroot)."""
        return f"{LAB_ROOT_IN_CHROOT}/{self.name}"

    @property
    def host_base(self) -> Path:
        return self.chroot / self.base.lstrip("/")

    @property
    def etc(self) -> Path:
        return self.host_base / "etc"

    @property
    def queue_log(self) -> Path:
        return self.host_base / "log" / "queue_log"

    def _modules_dir(self) -> str:
        found = sorted(self.chroot.glob("usr/lib/*/asterisk/modules"))
        if not found:
            raise RuntimeError(f"no Asterisk modules under {self.chroot}")
        return "/" + str(found[0].relative_to(self.chroot))

    def prepare(self, dialplan_dir: Path, extra_extensions: str = "") -> None:
        """Write the lab's Asterisk config; copy the rendered vaxeld files in."""
        if self.host_base.exists():
            shutil.rmtree(self.host_base)
        for sub in ("etc", "log", "run", "spool", "db", "lib"):
            (self.host_base / sub).mkdir(parents=True)
        self.install_dialplans(dialplan_dir)
        rtp = 20000 + (self.sip_port % 2000) * 10
        files = {
            "asterisk.conf": f"""[directories]
astetcdir => {self.base}/etc
astmoddir => {self._modules_dir()}
astvarlibdir => {self.base}/lib
astdbdir => {self.base}/db
astkeydir => {self.base}/lib
astdatadir => /usr/share/asterisk
astagidir => /usr/share/asterisk/agi-bin
astspooldir => {self.base}/spool
astrundir => {self.base}/run
astlogdir => {self.base}/log
astsbindir => /usr/sbin
[options]
verbose = 0
nocolor = yes
""",
            "modules.conf": "[modules]\nautoload = yes\n"
            + "".join(f"noload => {m}.so\n" for m in NOLOAD if m not in self._loaded),
            "logger.conf": "[general]\nqueue_log = yes\nqueue_log_to_file = yes\n"
            + ("queue_log_realtime_use_gmt = yes\n" if self.realtime_queue_log else "")
            + "[logfiles]\nmessages.log => notice,warning,error\n",
            "manager.conf": f"""[general]
enabled = yes
port = {self.ami_port}
bindaddr = 127.0.0.1

[lab]
secret = {self.admin_secret}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = all
write = all
writetimeout = 5000

{manager_accounts(self.vaxeld_secret, self.ops_secret, self.apply_secret)}
[vaxeld-action-filter]
; The run account with event_filter: action (vaxeld sends Action: Filter itself).
secret = {self.vaxeld_secret}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
read = {RUN_ACCOUNT_READ}
write = {RUN_ACCOUNT_WRITE},system
writetimeout = 5000
""",
            "queues.conf": "[general]\npersistentmembers = yes\nshared_lastcall = yes\n"
            "#include queues_vaxeld.conf\n",
            "extensions.conf": "[general]\nstatic = yes\nwriteprotect = yes\n\n[globals]\n\n"
            "#include extensions_vaxeld.conf\n" + TEST_CONTEXTS + extra_extensions,
            "musiconhold.conf": "[default]\nmode = files\ndirectory = /usr/share/asterisk/moh\n",
            "rtp.conf": f"[general]\nrtpstart = {rtp}\nrtpend = {rtp + 199}\n",
            "pjsip.conf": f"""[transport-udp]
type = transport
protocol = udp
bind = 127.0.0.1:{self.sip_port}

[sipp]
type = endpoint
context = vaxeld-lab-sip
disallow = all
allow = ulaw,alaw,gsm
dtmf_mode = rfc4733
rtp_symmetric = yes
direct_media = no

"""
            + (
                "\n[sipp-identify]\ntype = identify\nendpoint = sipp\nmatch = 127.0.0.1\n"
                if self.sipp_identify
                else ""
            )
            + self.pjsip_extra,
            "cdr.conf": "[general]\nenable = no\n",
            "cel.conf": "[general]\nenable = no\n",
            # The site's transfer keys, as agents' phones would use them (Queue() option t).
            "features.conf": "[featuremap]\nblindxfer => #1\natxfer => *2\n",
        }
        if self.realtime_queue_log is not None:
            port, db, user, password, table = self.realtime_queue_log
            files["extconfig.conf"] = f"[settings]\nqueue_log => pgsql,{db},{table}\n"
            files["res_pgsql.conf"] = (
                f"[general]\ndbhost = 127.0.0.1\ndbport = {port}\ndbname = {db}\n"
                f"dbuser = {user}\ndbpass = {password}\nrequirements = warn\n"
            )
        for fname, text in files.items():
            (self.etc / fname).write_text(text, encoding="utf-8")

    def install_dialplans(self, dialplan_dir: Path) -> None:
        for src in dialplan_dir.glob("*_vaxeld.conf"):
            shutil.copyfile(src, self.etc / src.name)

    def start(self, timeout: float = 60.0) -> None:
        """Start Asterisk in the foreground (no console) and wait until fully booted."""
        log = open(self.host_base / "log" / "stdout.log", "ab")  # noqa: SIM115 - owned by proc
        self.proc = subprocess.Popen(
            ["chroot", str(self.chroot), "asterisk", "-f", "-C", f"{self.base}/etc/asterisk.conf"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"Asterisk exited with {self.proc.returncode}; see {self.host_base / 'log'}"
                )
            if (self.host_base / "run" / "asterisk.ctl").exists():
                out = self.cli("core waitfullybooted", check=False, timeout=timeout)
                if "fully booted" in out.lower():
                    return
            time.sleep(0.2)
        raise TimeoutError("Asterisk did not finish booting")

    def cli(self, command: str, *, check: bool = True, timeout: float = 30.0) -> str:
        """Run one Asterisk CLI command against this lab's instance."""
        res = subprocess.run(
            [
                "chroot",
                str(self.chroot),
                "asterisk",
                "-C",
                f"{self.base}/etc/asterisk.conf",
                "-rx",
                command,
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and res.returncode != 0:
            raise RuntimeError(f"asterisk -rx {command!r} failed: {res.stderr or res.stdout}")
        return res.stdout

    def stop(self, timeout: float = 20.0) -> None:
        """Stop this lab's Asterisk (only the process this lab started)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(Exception):
            self.cli("core stop now", check=False, timeout=10)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def remove(self, keep_logs_in: Path | None = None) -> None:
        """Delete the lab's folders from the chroot (after stop); logs may be kept."""
        if keep_logs_in is not None and (self.host_base / "log").exists():
            shutil.copytree(self.host_base / "log", keep_logs_in, dirs_exist_ok=True)
        shutil.rmtree(self.host_base, ignore_errors=True)

    def kill(self) -> None:
        """Kill Asterisk abruptly, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def active_channels(self) -> int:
        out = self.cli("core show channels count", check=False)
        for line in out.splitlines():
            if "active channel" in line:
                return int(line.split()[0])
        return -1

    def wait_idle(self, timeout: float = 120.0) -> None:
        """Wait until no channel is left (every simulated call has ended)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.active_channels() == 0:
                return
            time.sleep(0.5)
        raise TimeoutError(f"channels still up after {timeout} s")

    def queue_log_events(self, skip_lines: int = 0) -> list[list[str]]:
        """queue_log lines split on '|': time, uniqueid, queue, agent, event, data..."""
        if not self.queue_log.exists():
            return []
        lines = self.queue_log.read_text(encoding="utf-8", errors="replace").splitlines()
        return [line.split("|") for line in lines[skip_lines:] if line]


def count_queue_log(rows: Iterable[list[str]]) -> dict[str, dict[str, int]]:
    """queue -> event -> count, e.g. counts['sv']['ENTERQUEUE']."""
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        if len(row) < 5 or row[2] in ("", "NONE"):
            continue
        per_queue = counts.setdefault(row[2], {})
        per_queue[row[4]] = per_queue.get(row[4], 0) + 1
    return counts
