"""A lab host's firewall: iptables and firewalld as a pure rule engine.

Each host has one :class:`Firewall`.  Students configure it with the command
lines of a real server (:meth:`Firewall.run`)::

    iptables -A INPUT -p tcp --dport 993 -j ACCEPT
    iptables -P INPUT DROP
    iptables -L -n
    iptables-save > /etc/iptables/rules.v4
    firewall-cmd --add-service=imaps --permanent
    firewall-cmd --reload

and the host's listeners ask :meth:`Firewall.connection` whether a new
connection to a port is accepted, dropped or rejected (``-j LOG`` rules on
the way write to ``/var/log/kern.log``; :mod:`.gate`).  The same commands
work from a terminal (``labmail iptables --state DIR ...``): the running
state is shared through the host's state directory (:mod:`.shared`).  As on a real machine, a
connection must pass both iptables' INPUT chain and (when it runs)
firewalld's zone: both are netfilter hooks, and a packet dropped by either
never arrives.

Saved rules survive a restart as on Debian: iptables-persistent loads
``/etc/iptables/rules.v4`` at boot; firewalld reads
``/etc/firewalld/zones/public.xml`` (and runs at boot once
``systemctl enable firewalld``).

>>> fw = Firewall()
>>> print(fw.run("iptables -P INPUT DROP"))
<BLANKLINE>
>>> fw.decide(25)
'DROP'
>>> _ = fw.run("iptables -A INPUT -p tcp --dport 25 -j ACCEPT"); fw.decide(25)
'ACCEPT'
"""
from __future__ import annotations

import logging
import shlex
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Callable, List, Optional

from .firewalld import SERVICE_PORTS, Firewalld, Zone, parse_zone_xml, zone_xml
from .iptables import (CHAINS, SERVICES, IptablesError, Output, Rule, Ruleset, Verdict,
                       parse_rule)
from .iptables import run as run_iptables
from .kernlog import KernelLog, packet_line
from .shared import RUNTIME_FILE, SharedState

if TYPE_CHECKING:  # pragma: no cover
    from ..host import Host

__all__ = ["Firewall", "Ruleset", "Rule", "Verdict", "Output", "Firewalld", "Zone",
           "IptablesError", "parse_rule", "SERVICES", "SERVICE_PORTS", "CHAINS",
           "RULES_V4", "ZONE_FILE", "ENABLED_MARK"]

logger = logging.getLogger("labmail.firewall")

RULES_V4 = "/etc/iptables/rules.v4"
ZONE_FILE = "/etc/firewalld/zones/public.xml"
#: what ``systemctl enable firewalld`` leaves behind
ENABLED_MARK = "/etc/systemd/system/multi-user.target.wants/firewalld.service"


class Firewall:
    """The firewall of one host: iptables' filter table and firewalld.

    ``path`` maps a real absolute path into the host's state directory
    (``host.path``); without it nothing is saved.  ``own_ip`` is the host's
    address: connections from it arrive on ``lo``, all others on ``eth0``.
    ``on_change`` is called after every command that may change a verdict.
    A host's listeners need no notice: they ask :meth:`decide` for every new
    connection (see :mod:`labmail.firewall.gate`).
    """

    def __init__(self, path: Optional[Callable[[str], Path]] = None, *,
                 own_ip: str = "127.0.0.1", stamp: Optional[Callable[[], str]] = None,
                 on_change: Optional[Callable[[], None]] = None) -> None:
        self._path = path
        self.own_ip = own_ip
        self._stamp = stamp or (lambda: "Sat Nov 28 00:00:00 2026")
        self.on_change = on_change
        #: where ``-j LOG`` lines go (the host's /var/log/kern.log); None: nowhere
        self.kernel_log: Optional[Callable[[str], None]] = None
        #: the running state shared with other processes (labmail iptables ...); None: private
        self._shared: Optional[SharedState] = None
        self.iptables = Ruleset()
        self.firewalld = Firewalld(running=False)
        self.boot()

    @classmethod
    def load(cls, host: "Host") -> "Firewall":
        """The firewall of *host* as it comes up after a (re)start: saved rules loaded.

        >>> fw = Firewall.load(host)                               # doctest: +SKIP
        """
        def stamp() -> str:
            return host.clock.now().strftime("%a %b %d %H:%M:%S %Y")
        fw = cls(host.path, own_ip=host.ip, stamp=stamp)
        kern = KernelLog(host.path("/var/log/kern.log"), host.hostname, host.clock, host.ids)
        fw.kernel_log = lambda line: kern.write("kernel", line)
        fw._shared = SharedState(host.path(RUNTIME_FILE))
        if fw._shared.path.exists() or not fw.accepts_all():
            fw._shared.push(fw)               # booted: this is what runs now
        # (a host that never had a rule gets no /run file: nothing to share yet)
        return fw

    @classmethod
    def attach(cls, state_dir: Path) -> "Firewall":
        """The running firewall of the host whose state directory is *state_dir*.

        For a second process (``labmail iptables``): it works on what the
        lab runs now, and the lab sees its changes (:mod:`.shared`).

        >>> fw = Firewall.attach(Path("/tmp/lab/mail.example.com"))     # doctest: +SKIP
        """
        root = Path(state_dir)

        def path(real: str) -> Path:
            parts = PurePosixPath("/" + str(real).lstrip("/")).parts[1:]
            if any(p in ("..", ".") for p in parts):
                raise ValueError(f"{real!r}: '..' is not allowed in lab paths")
            return root.joinpath(*parts)
        fw = cls(path)                        # the saved configuration, if nothing runs
        fw._shared = SharedState(path(RUNTIME_FILE))
        fw._shared.pull(fw)
        return fw

    def _file(self, real: str) -> Optional[Path]:
        return self._path(real) if self._path else None

    def boot(self) -> None:
        """What a restart does: runtime state is lost, saved configuration is loaded."""
        self.iptables = Ruleset()
        rules = self._file(RULES_V4)
        if rules is not None and rules.is_file():
            try:
                self.iptables = Ruleset.restore(rules.read_text(encoding="utf-8"))
            except IptablesError as exc:
                logger.warning("%s: %s; booting with an empty ruleset", RULES_V4, exc)
        zone_path = self._file(ZONE_FILE)
        zone = Zone()
        if zone_path is not None and zone_path.is_file():
            zone = parse_zone_xml(zone_path.read_text(encoding="utf-8"))
        mark = self._file(ENABLED_MARK)
        self.firewalld = Firewalld(running=bool(mark and mark.exists()), permanent=zone)
        if self._shared is not None:
            self._shared.push(self)

    # -- verdicts ------------------------------------------------------------------
    def verdict(self, dport: int, proto: str = "tcp", src: str = "192.0.2.1") -> Verdict:
        """Who decides about a new connection to *dport* from *src*, and what."""
        if self._shared is not None:
            self._shared.pull(self)
        iface = "lo" if src == self.own_ip else "eth0"
        v = self.iptables.decide(dport, proto, src, iface)
        if v.action != "ACCEPT" or iface == "lo":
            return v
        zone = self.firewalld.decide(dport, proto, src)
        if zone != "ACCEPT":
            return Verdict(zone, "icmp-host-prohibited" if zone == "REJECT" else "",
                           "firewalld zone public (target default)", v.logs)
        return v

    def refresh(self) -> None:
        """Take over changes another process (``labmail iptables``) made; cheap when none.

        :meth:`run`, :meth:`decide` and :meth:`verdict` do it themselves; call
        it before reading ``iptables`` or ``firewalld`` directly.
        """
        if self._shared is not None:
            self._shared.pull(self)

    def accepts_all(self) -> bool:
        """True when nothing is filtered: INPUT policy ACCEPT, no INPUT rules,
        firewalld stopped.  The listeners' fast path (no rule is looked at)."""
        if self._shared is not None:
            self._shared.pull(self)
        return (not self.iptables.chains["INPUT"] and self.iptables.policies["INPUT"] == "ACCEPT"
                and not self.firewalld.running)

    def decide(self, dport: int, proto: str = "tcp", src: str = "192.0.2.1") -> str:
        """``"ACCEPT"``, ``"DROP"`` or ``"REJECT"`` for a new connection to *dport*.

        >>> Firewall().decide(993)
        'ACCEPT'
        """
        return self.verdict(dport, proto, src).action

    def connection(self, dport: int, src: str, sport: int = 0, proto: str = "tcp") -> str:
        """What the kernel does with the first packet of a new connection.

        The verdict of :meth:`decide`; on the way, every ``-j LOG`` rule the
        packet passes writes its line to ``/var/log/kern.log``.  The host's
        listeners call this; checks call :meth:`decide`, which logs nothing.
        """
        v = self.verdict(dport, proto, src)
        if v.logs and self.kernel_log is not None:
            iface = "lo" if src == self.own_ip else "eth0"
            for prefix, _level in v.logs:
                self.kernel_log(packet_line(prefix, iface, src, self.own_ip, sport, dport, proto))
        return v.action

    def open_ports(self, ports: List[int], proto: str = "tcp",
                   src: str = "192.0.2.1") -> List[int]:
        """Those of *ports* a client at *src* can connect to."""
        return [p for p in ports if self.decide(p, proto, src) == "ACCEPT"]

    # -- command lines ---------------------------------------------------------------
    def run(self, command: str) -> Output:
        """Run a command line as root would on the host; returns its output.

        Understood: ``iptables ...``, ``iptables-save [> FILE]``,
        ``iptables-restore < FILE``, ``netfilter-persistent save|reload``,
        ``firewall-cmd ...``, ``systemctl start|stop|restart|enable|disable
        [--now] firewalld``.
        """
        if self._shared is not None:
            self._shared.pull(self)
        words = shlex.split(command)
        if words[:1] == ["sudo"]:
            words = words[1:]
        if not words:
            return Output(0)
        prog = words[0]
        try:
            if prog == "iptables":
                out = run_iptables(self.iptables, shlex.join(words))
            elif prog == "iptables-save":
                out = self._save(words[1:])
            elif prog == "iptables-restore":
                out = self._restore(words[1:])
            elif prog in ("netfilter-persistent", "service"):
                out = self._persistent([w for w in words[1:] if w != "netfilter-persistent"])
            elif prog == "firewall-cmd":
                out = self.firewalld.command(words[1:])
                if out.rc == 0 and ("--permanent" in words or "--runtime-to-permanent" in words):
                    self._write(ZONE_FILE, zone_xml(self.firewalld.permanent))
            elif prog == "systemctl":
                out = self._systemctl(words[1:])
            else:
                out = Output(127, "", f"{prog}: command not found\n")
        except IptablesError as exc:
            out = Output(exc.rc, "", str(exc) + "\n")
        if self._shared is not None:
            self._shared.push(self)
        if self.on_change is not None:
            self.on_change()
        return out

    __call__ = run          # fw("iptables -L -n") reads like the shell

    def _write(self, real: str, text: str) -> None:
        target = self._file(real)
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")

    def _redirect(self, words: List[str], sign: str) -> Optional[str]:
        if sign in words:
            i = words.index(sign)
            if i + 1 < len(words):
                return words[i + 1]
        for w in words:
            if w.startswith(sign) and len(w) > 1:
                return w[1:]
        return None

    def _save(self, words: List[str]) -> Output:
        text = self.iptables.save(self._stamp())
        target = self._redirect(words, ">")
        if target is None:
            return Output(0, text)
        self._write(target, text)
        return Output(0)

    def _restore(self, words: List[str]) -> Output:
        source = self._redirect(words, "<")
        path = self._file(source) if source else None
        if path is None or not path.is_file():
            return Output(1, "", f"bash: {source}: No such file or directory\n")
        self.iptables = Ruleset.restore(path.read_text(encoding="utf-8"))
        return Output(0)

    def _persistent(self, words: List[str]) -> Output:
        if words == ["save"]:
            self._write(RULES_V4, self.iptables.save(self._stamp()))
            return Output(0, "run-parts: executing /usr/share/netfilter-persistent/plugins.d/"
                          "15-ip4tables save\n")
        if words in (["reload"], ["start"]):
            return self._restore(["<", RULES_V4])
        return Output(1, "", "Usage: netfilter-persistent {start|stop|restart|reload|"
                      "force-reload|save|flush}\n")

    def _systemctl(self, words: List[str]) -> Output:
        now = "--now" in words
        words = [w for w in words if w != "--now"]
        if len(words) != 2 or words[1] not in ("firewalld", "firewalld.service"):
            return Output(1, "", "this lab's systemctl knows only the firewalld unit\n")
        verb = words[0]
        if verb in ("enable", "disable"):
            mark = self._file(ENABLED_MARK)
            if mark is not None:
                if verb == "enable":
                    mark.parent.mkdir(parents=True, exist_ok=True)
                    mark.write_text("/lib/systemd/system/firewalld.service\n")
                else:
                    mark.unlink(missing_ok=True)
            if not now:
                return Output(0)
            verb = "start" if verb == "enable" else "stop"
        if verb in ("start", "restart"):
            if verb == "restart" or not self.firewalld.running:
                self.firewalld.reload()
            self.firewalld.running = True
        elif verb == "stop":
            self.firewalld.running = False
        elif verb == "is-active":
            up = self.firewalld.running
            return Output(0 if up else 3, "active\n" if up else "inactive\n")
        else:
            return Output(1, "", f"Unknown command verb {verb}.\n")
        return Output(0)

    def text(self) -> str:
        """Both layers as an administrator would look at them."""
        self.refresh()
        state = "running" if self.firewalld.running else "not running"
        return (self.iptables.list(numeric=True) + f"\nfirewalld: {state}\n"
                + (self.firewalld.runtime.list_all() if self.firewalld.running else ""))

    def __repr__(self) -> str:
        self.refresh()
        return f"<Firewall INPUT policy {self.iptables.policies['INPUT']}, " \
               f"{len(self.iptables.chains['INPUT'])} rule(s), firewalld " \
               f"{'running' if self.firewalld.running else 'stopped'}>"
