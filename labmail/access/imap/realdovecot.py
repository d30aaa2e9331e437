"""A private real Dovecot IMAP instance on loopback, for differential tests and benchmarks.

It writes a throw-away ``dovecot.conf`` (passwd-file users, Maildir homes,
the four special-use folders auto-subscribed like the lab's defaults),
starts ``dovecot -F`` and stops it again.  Only for machines where the
``dovecot-imapd`` package is installed.

>>> if dovecot_available():                       # doctest: +SKIP
...     with RealDovecotImap({"alice": "secret"}) as d:
...         print(d.port > 0)
True
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
from typing import Dict, Optional

__all__ = ["RealDovecotImap", "dovecot_available"]


def dovecot_available() -> bool:
    """True when a ``dovecot`` binary is installed."""
    return shutil.which("dovecot") is not None or os.path.exists("/usr/sbin/dovecot")


def _binary() -> str:
    return shutil.which("dovecot") or "/usr/sbin/dovecot"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mail_user() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    for name in ("vmail", "dovecot", "mail", "nobody"):   # Dovecot refuses uid 0 for mail
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("no unprivileged user for dovecot's mail processes")


class RealDovecotImap:
    """Dovecot serving IMAP for *users* (name -> password) on 127.0.0.1:``port``."""

    def __init__(self, users: Dict[str, str], workdir: Optional[Path] = None,
                 extra_conf: str = "") -> None:
        self.users = users
        self.extra_conf = extra_conf      # settings appended to dovecot.conf
        # the auth and mail processes run as other users: a world-readable directory
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="labmail-dovecot-imap-"))
        self.dir.chmod(0o755)
        self.port = _free_port()
        self.user = _mail_user()
        self.proc: Optional[subprocess.Popen] = None

    def home(self, user: str) -> Path:
        return self.dir / "home" / user

    def maildir(self, user: str) -> Path:
        return self.home(user) / "Maildir"

    def _config(self) -> str:
        me = pwd.getpwuid(os.geteuid()).pw_name
        internal = "" if os.geteuid() == 0 else (
            f"default_internal_user = {me}\ndefault_login_user = {me}\n")
        boxes = "".join(f"  mailbox {n} {{\n    special_use = \\{n}\n    auto = subscribe\n  }}\n"
                        for n in ("Drafts", "Junk", "Sent", "Trash"))
        return f"""base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
first_valid_uid = {min(self.user.pw_uid, 100) or 1}
{internal}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.dir}/users
}}
userdb {{
  driver = static
  args = uid={self.user.pw_uid} gid={self.user.pw_gid} home={self.dir}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 1000
}}
namespace inbox {{
  inbox = yes
  separator = .
{boxes}}}
{self.extra_conf}
"""

    def place(self, user: str, name: str, data: bytes, flags: str = "") -> None:
        """Put a message file straight into the user's Maildir (``cur`` with *flags*)."""
        md = self.maildir(user)
        for sub in ("new", "cur", "tmp"):
            (md / sub).mkdir(parents=True, exist_ok=True)
        (md / "cur" / f"{name}:2,{flags}").write_bytes(data)

    def _chown(self) -> None:
        if os.geteuid() != 0:
            return
        home = self.dir / "home"
        home.mkdir(exist_ok=True)
        for root, dirs, files in os.walk(home):
            for n in dirs + files:
                os.chown(os.path.join(root, n), self.user.pw_uid, self.user.pw_gid)
        os.chown(home, self.user.pw_uid, self.user.pw_gid)

    def start(self, timeout: float = 15) -> "RealDovecotImap":
        (self.dir / "users").write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n"
                                                for u, p in self.users.items()))
        (self.dir / "dovecot.conf").write_text(self._config())
        for u in self.users:
            self.maildir(u).mkdir(parents=True, exist_ok=True)
        self._chown()
        log = open(self.dir / "stdout.log", "wb")
        self.proc = subprocess.Popen([_binary(), "-F", "-c", str(self.dir / "dovecot.conf")],
                                     stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dovecot exited: " + self.log()[-1000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(200).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("dovecot did not answer in time: " + self.log()[-1000:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def cleanup(self) -> None:
        """Stop and remove the instance's directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        out = []
        for name in ("stdout.log", "dovecot.log"):
            try:
                out.append((self.dir / name).read_text(errors="replace"))
            except FileNotFoundError:
                pass
        return "\n".join(out)

    def __enter__(self) -> "RealDovecotImap":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
