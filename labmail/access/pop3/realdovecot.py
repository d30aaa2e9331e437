"""Run the real Dovecot on loopback with a throwaway configuration.

For differential tests and benchmarks only: the lab never needs it.  The
instance lives in a temporary directory (its own ``base_dir``, logs, users
and Maildirs), listens on 127.0.0.1 and a free high port, and is stopped
with ``dovecot stop``.

>>> with RealDovecot({"alice": "secret"}) as dv:          # doctest: +SKIP
...     dv.deliver("alice", "1000.M1P1.host", b"Subject: hi\\n\\nhello\\n")
...     poplib.POP3(dv.ip, dv.port).getwelcome()
b'+OK Dovecot ready.'
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

__all__ = ["RealDovecot", "dovecot_available"]


def dovecot_available() -> bool:
    """True when the dovecot binary (with pop3) is installed."""
    return shutil.which("dovecot") is not None and Path("/usr/lib/dovecot/pop3").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RealDovecot:
    """A private Dovecot instance (POP3 only) with passwd-file users."""

    def __init__(self, users: Dict[str, str], *, greeting: str = "Dovecot ready.",
                 extra: str = "", workdir: Optional[Path] = None,
                 tls_files: Optional[Tuple[Path, Path]] = None,
                 mail_location: str = "maildir:~/Maildir") -> None:
        self.users = users
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="labmail-realdovecot-"))
        self.ip = "127.0.0.1"
        self.port = _free_port()
        self.greeting = greeting
        self.extra = extra
        self.mail_location = mail_location
        self.tls_files = tls_files      # (cert.pem, key.pem): offer STLS and POP3S
        self.tls_port = _free_port() if tls_files else 0
        if os.geteuid() == 0:       # Dovecot refuses to give mail to uid 0
            pw = pwd.getpwnam("dovecot")
            self.uid, self.gid, self.login_user = pw.pw_uid, pw.pw_gid, ""
        else:
            pw = pwd.getpwuid(os.geteuid())
            self.uid, self.gid, self.login_user = pw.pw_uid, pw.pw_gid, pw.pw_name

    def home(self, user: str) -> Path:
        return self.dir / "home" / user

    def _write(self) -> Path:
        for sub in ("run", "state"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)    # the auth and mail processes run as another user
        lines = [f"{u}:{{PLAIN}}{p}:{self.uid}:{self.gid}::{self.home(u)}::" for u, p in self.users.items()]
        (self.dir / "users").write_text("\n".join(lines) + "\n")
        for u in self.users:
            for sub in ("new", "cur", "tmp"):
                (self.home(u) / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
        own = ""
        if not self.dir.exists():
            self.dir.mkdir(parents=True)
        if self.login_user:
            own = (f"default_login_user = {self.login_user}\n"
                   f"default_internal_user = {self.login_user}\n")
        conf = self.dir / "dovecot.conf"
        conf.write_text(f"""base_dir = {self.dir}/run
state_dir = {self.dir}/state
protocols = pop3
listen = {self.ip}
{self._ssl_settings()}
log_path = {self.dir}/dovecot.log
login_greeting = {self.greeting}
auth_mechanisms = plain login
auth_failure_delay = 0
disable_plaintext_auth = yes
mail_location = {self.mail_location}
first_valid_uid = {min(self.uid, 100) if self.uid else 1}
pop3_lock_session = yes
{own}passdb {{
  driver = passwd-file
  args = {self.dir}/users
}}
userdb {{
  driver = passwd-file
  args = {self.dir}/users
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {self.port}
  }}
  inet_listener pop3s {{
    port = {self.tls_port}
    ssl = yes
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
}}
{self.extra}
""")
        return conf

    def _ssl_settings(self) -> str:
        if not self.tls_files:
            return "ssl = no"
        cert, key = self.tls_files
        for f in (cert, key):
            os.chmod(f, 0o644)
        return f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}"

    def deliver(self, user: str, name: str, data: bytes) -> None:
        """Place a message file in the user's Maildir/new (as a delivery agent)."""
        md = self.home(user) / "Maildir"
        for sub in ("new", "cur", "tmp"):
            (md / sub).mkdir(parents=True, exist_ok=True)
        (md / "tmp" / name).write_bytes(data)
        os.rename(md / "tmp" / name, md / "new" / name)
        self._chown()

    def _chown(self) -> None:
        for root, dirs, files in os.walk(self.dir / "home"):
            for n in dirs + files:
                os.chown(os.path.join(root, n), self.uid, self.gid)
        os.chown(self.dir / "home", self.uid, self.gid)

    def start(self) -> "RealDovecot":
        conf = self._write()
        self._chown()
        # the daemon keeps inherited pipes open: send its output to a file
        with open(self.dir / "start.log", "wb") as out:
            subprocess.run(["dovecot", "-c", str(conf)], check=True, stdout=out,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.ip, self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"+OK"):
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"dovecot did not answer on {self.ip}:{self.port}: "
                           + (self.dir / "dovecot.log").read_text(errors="replace")[-2000:])

    def cleanup(self) -> None:
        """Stop and remove the instance's directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stop(self) -> None:
        subprocess.run(["dovecot", "-c", str(self.dir / "dovecot.conf"), "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL, timeout=30)

    def log(self) -> str:
        try:
            return (self.dir / "dovecot.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> "RealDovecot":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
