"""firewalld's ``public`` zone: services, ports, runtime and permanent configuration.

firewalld keeps two configurations: the *runtime* one the kernel uses now,
and the *permanent* one in ``/etc/firewalld/zones/public.xml``.
``firewall-cmd --add-service=imaps`` changes only the runtime;
``--permanent`` changes only the file; ``--reload`` replaces the runtime
with the file (runtime-only changes are lost).  Output texts, warnings and
exit codes follow firewall-cmd 1.3 (Debian 12); the service names map to
ports as firewalld's service files say.

>>> fd = Firewalld(running=True)
>>> fd.command(["--add-service=imaps"]).stdout
'success\\n'
>>> fd.decide(993, "tcp", "192.0.2.1")
'ACCEPT'
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from .iptables import Output

__all__ = ["SERVICE_PORTS", "Zone", "Firewalld", "zone_xml", "parse_zone_xml"]

#: firewalld service name -> its ports (as in /usr/lib/firewalld/services/*.xml)
SERVICE_PORTS: Dict[str, Tuple[Tuple[int, str], ...]] = {
    "ssh": ((22, "tcp"),), "dhcpv6-client": ((546, "udp"),), "http": ((80, "tcp"),),
    "https": ((443, "tcp"),), "dns": ((53, "tcp"), (53, "udp")),
    "smtp": ((25, "tcp"),), "smtps": ((465, "tcp"),), "smtp-submission": ((587, "tcp"),),
    "pop3": ((110, "tcp"),), "pop3s": ((995, "tcp"),), "imap": ((143, "tcp"),),
    "imaps": ((993, "tcp"),),
}
ZONE = "public"
#: errors.py of firewalld: the exit status of each error
_CODES = {"INVALID_SERVICE": 101, "INVALID_PORT": 102, "INVALID_PROTOCOL": 103,
          "INVALID_ZONE": 112, "NOT_RUNNING": 252}


@dataclass
class Zone:
    """A zone's settings (only what the course uses)."""

    services: List[str] = field(default_factory=lambda: ["ssh", "dhcpv6-client"])
    ports: List[Tuple[str, str]] = field(default_factory=list)     # ("587", "tcp")
    interfaces: List[str] = field(default_factory=list)
    sources: List[str] = field(default_factory=list)
    target: str = "default"

    def copy(self) -> "Zone":
        return Zone(list(self.services), list(self.ports), list(self.interfaces),
                    list(self.sources), self.target)

    def list_all(self, name: str = ZONE) -> str:
        """``firewall-cmd --list-all``: the zone as firewall-cmd prints it."""
        active = " (active)" if self.interfaces or self.sources else ""
        rows = [f"{name}{active}", f"  target: {self.target}", "  icmp-block-inversion: no",
                "  interfaces: " + " ".join(sorted(self.interfaces)),
                "  sources: " + " ".join(self.sources),
                "  services: " + " ".join(sorted(self.services)),
                "  ports: " + " ".join(f"{p}/{proto}" for p, proto in self.ports),
                "  protocols: ", "  forward: yes", "  masquerade: no", "  forward-ports: ",
                "  source-ports: ", "  icmp-blocks: ", "  rich rules: "]
        return "\n".join(rows) + "\n"

    def allows(self, port: int, proto: str) -> bool:
        """True when a service or port of the zone opens *port*/*proto*."""
        for svc in self.services:
            if (port, proto) in SERVICE_PORTS.get(svc, ()):
                return True
        for text, p in self.ports:
            first, _, last = text.partition("-")
            if p == proto and int(first) <= port <= int(last or first):
                return True
        return False


def zone_xml(zone: Zone) -> str:
    """The permanent zone file ``/etc/firewalld/zones/public.xml``."""
    rows = ['<?xml version="1.0" encoding="utf-8"?>', "<zone>", "  <short>Public</short>",
            "  <description>The default zone of this lab host: only the services and "
            "ports listed here accept new connections.</description>"]
    rows += [f'  <service name="{s}"/>' for s in zone.services]
    rows += [f'  <port port="{p}" protocol="{proto}"/>' for p, proto in zone.ports]
    rows += ["  <forward/>", "</zone>"]
    return "\n".join(rows) + "\n"


def parse_zone_xml(text: str) -> Zone:
    """Read a zone file written by :func:`zone_xml` (or by firewalld)."""
    root = ET.fromstring(text)
    zone = Zone(services=[], ports=[], target=root.get("target", "default"))
    for el in root:
        if el.tag == "service":
            zone.services.append(el.get("name", ""))
        elif el.tag == "port":
            zone.ports.append((el.get("port", ""), el.get("protocol", "tcp")))
        elif el.tag == "source":
            zone.sources.append(el.get("address", ""))
    return zone


def _valid_port(text: str) -> bool:
    first, _, last = text.partition("-")
    try:
        return all(0 < int(p) < 65536 for p in (first, last or first))
    except ValueError:
        return False


class Firewalld:
    """The firewalld daemon of one host: its state and the public zone's two configurations."""

    def __init__(self, running: bool = False, permanent: Optional[Zone] = None,
                 interface: str = "eth0") -> None:
        self.permanent = permanent or Zone()
        self.interface = interface
        self.runtime = self.permanent.copy()
        self.runtime.interfaces = [interface]
        self.running = running

    def reload(self) -> None:
        """Runtime := permanent (what ``--reload`` and a restart do)."""
        self.runtime = self.permanent.copy()
        self.runtime.interfaces = [self.interface]

    def decide(self, dport: int, proto: str = "tcp", src: str = "0.0.0.0") -> str:
        """The zone's verdict on a new connection (target ``default`` rejects the rest)."""
        if not self.running:
            return "ACCEPT"
        if self.runtime.allows(dport, proto) or self.runtime.target == "ACCEPT":
            return "ACCEPT"
        return "DROP" if self.runtime.target == "DROP" else "REJECT"

    # -- firewall-cmd ------------------------------------------------------------
    def command(self, args: Sequence[str]) -> Output:
        """Run ``firewall-cmd`` with *args*; returns its output and exit status."""
        args = list(args)
        if not self.running:
            msg = "not running" if "--state" in args else "FirewallD is not running"
            return Output(252, "", msg + "\n")
        permanent = "--permanent" in args
        args = [a for a in args if a != "--permanent"]
        for a in list(args):
            if a.startswith("--zone="):
                args.remove(a)
                if a[7:] != ZONE:
                    return Output(112, "", f"Error: INVALID_ZONE: {a[7:]}\n")
        zone = self.permanent if permanent else self.runtime
        if not args:
            return Output(2, "", "usage: see firewall-cmd --help\n")
        simple = {"--state": "running", "--get-default-zone": ZONE,
                  "--get-services": " ".join(sorted(SERVICE_PORTS)),
                  "--list-services": " ".join(sorted(zone.services)),
                  "--list-ports": " ".join(f"{p}/{q}" for p, q in zone.ports),
                  "--get-active-zones": f"{ZONE}\n  interfaces: {self.interface}"}
        if len(args) == 1 and args[0] in simple:
            return Output(0, simple[args[0]] + "\n")
        if args == ["--list-all"]:
            return Output(0, zone.list_all())
        if args == ["--reload"] or args == ["--complete-reload"]:
            self.reload()
            return Output(0, "success\n")
        if args == ["--runtime-to-permanent"]:
            self.permanent = self.runtime.copy()
            self.permanent.interfaces = []
            return Output(0, "success\n")
        return self._sequence(zone, args, permanent)

    def _sequence(self, zone: Zone, args: List[str], permanent: bool) -> Output:
        """``--add-/--remove-/--query-service|port`` (each may be given several times)."""
        stderr: List[str] = []
        answers: List[bool] = []
        for arg in args:
            opt, eq, value = arg.partition("=")
            verb, _, kind = opt[2:].partition("-")
            if not eq or verb not in ("add", "remove", "query") or kind not in ("service", "port"):
                return Output(2, "", f"firewall-cmd: error: unrecognized arguments: {arg}\n")
            if kind == "service":
                if value not in SERVICE_PORTS:
                    msg = (f"Zone '{ZONE}': '{value}' not among existing services" if permanent
                           else value)
                    return Output(101, "", f"Error: INVALID_SERVICE: {msg}\n")
                items: list = zone.services
                item: object = value
                shown = value if permanent else f"'{value}'"
            else:
                port, slash, proto = value.partition("/")
                if not slash:
                    return Output(102, "", "Error: INVALID_PORT: bad port (most likely missing "
                                  "protocol), correct syntax is portid[-portid]/protocol\n")
                if not _valid_port(port):
                    return Output(102, "", f"Error: INVALID_PORT: {port}\n")
                if proto not in ("tcp", "udp", "sctp", "dccp"):
                    return Output(103, "", f"Error: INVALID_PROTOCOL: '{proto}' not in "
                                  "{'tcp'|'udp'|'sctp'|'dccp'}\n")
                items, item = zone.ports, (port, proto)
                shown = f"'{port}:{proto}'"
            where = "" if permanent else f" already in '{ZONE}'"
            if verb == "query":
                answers.append(item in items)
            elif verb == "add" and item in items:
                stderr.append(f"Warning: ALREADY_ENABLED: {shown}{where}")
            elif verb == "add":
                items.append(item)
            elif item not in items:
                gone = "" if permanent else f" not in '{ZONE}'"
                stderr.append(f"Warning: NOT_ENABLED: {shown}{gone}")
            else:
                items.remove(item)
        err = "".join(s + "\n" for s in stderr)
        if answers:
            yes = all(answers)
            return Output(0 if yes else 1, "yes\n" if yes else "no\n", err)
        return Output(0, "success\n", err)
