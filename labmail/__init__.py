"""labmail: a live mail lab for a hands-on course on Linux mail servers.

>>> import labmail, smtplib
>>> with labmail.Lab(ports="auto") as lab:                          # doctest: +SKIP
...     host = lab.add_host("mail.example.com", users={"alice": "secret"})
...     lab.start()
...     with smtplib.SMTP(*host.endpoints["smtp"]) as client:
...         client.sendmail("bob@example.org", ["alice@example.com"],
...                         "Subject: hello\\r\\n\\r\\nHi Alice!\\r\\n")
...     len(host.mailbox("alice"))
1
"""
__version__ = "0.1.0"    # first: submodules (the spam report headers) read it

from .clock import Clock, IdGenerator
from .errors import ConfigError, LabError
from .host import STANDARD_PORTS, Host
from .lab import Lab

__all__ = ["Lab", "Host", "STANDARD_PORTS", "Clock", "IdGenerator", "ConfigError",
           "LabError"]
