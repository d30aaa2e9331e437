"""What ``-j LOG`` writes: the kernel's line for a packet, in the host's ``/var/log/kern.log``.

netfilter's LOG target does not drop or accept anything: it hands a line to
the kernel log (``dmesg``; rsyslog files it in ``/var/log/kern.log`` — the
*kern* facility, never the mail log) and the packet goes on to the next
rule.  The line is the rule's ``--log-prefix`` followed by the packet's
headers (``nf_log_ipv4``)::

    Nov 27 09:00:00 mail kernel: INPUT-drop: IN=eth0 OUT= MAC=... SRC=127.0.0.1
        DST=127.0.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=18113 DF PROTO=TCP
        SPT=41236 DPT=465 WINDOW=64240 RES=0x00 SYN URGP=0

The lab sees connections, not packets, so the line describes the first
packet of the connection (the SYN) with the values a Linux client sends:
the real addresses and ports, the *standard* destination port the rule
matched, and typical header fields.

>>> packet_line("fw: ", "eth0", "192.0.2.1", "127.0.0.2", 40000, 25)[:44]
'fw: IN=eth0 OUT= MAC=52:54:00:6c:61:62:52:54'
"""
from __future__ import annotations

from ..log import MailLog

__all__ = ["KernelLog", "packet_line"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: destination MAC (the host's), source MAC (the router's), EtherType 0800 (IPv4)
_MAC = {"lo": "00:00:00:00:00:00:00:00:00:00:00:00:08:00",
        "eth0": "52:54:00:6c:61:62:52:54:00:67:77:31:08:00"}
#: the window a Linux client offers in its SYN (lo's MTU is 65536)
_WINDOW = {"lo": 65495, "eth0": 64240}


def packet_line(prefix: str, iface: str, src: str, dst: str, sport: int, dport: int,
                proto: str = "tcp") -> str:
    """The kernel's LOG line for the SYN that opens a connection (without the syslog part)."""
    ip_id = (sport * 40503) & 0xFFFF          # varies per connection, as on the wire
    return (f"{prefix}IN={iface} OUT= MAC={_MAC.get(iface, _MAC['eth0'])} SRC={src} DST={dst} "
            f"LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID={ip_id} DF PROTO={proto.upper()} "
            f"SPT={sport} DPT={dport} WINDOW={_WINDOW.get(iface, 64240)} RES=0x00 SYN URGP=0")


class KernelLog(MailLog):
    """``/var/log/kern.log`` of a host: syslog lines from ``kernel`` (no pid).

    >>> log = KernelLog(host.path("/var/log/kern.log"), host.hostname,   # doctest: +SKIP
    ...                 host.clock, host.ids)
    >>> log.write("kernel", "fw: IN=eth0 ...")                            # doctest: +SKIP
    """

    def format(self, program: str, message: str, pid: object = None) -> str:
        now = self.clock.now()
        stamp = f"{_MONTHS[now.month - 1]} {now.day:2d} {now:%H:%M:%S}"
        return f"{stamp} {self.short_hostname} {program}: {message}"
