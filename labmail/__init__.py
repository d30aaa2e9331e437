"""labmail: a live mail lab for a hands-on course on Linux mail servers.

>>> import labmail
>>> with labmail.Lab(ports="auto") as lab:           # doctest: +SKIP
...     host = lab.add_host("mail.example.com", users={"alice": "secret"})
"""
from .clock import Clock, IdGenerator
from .errors import ConfigError, LabError

__all__ = ["Clock", "IdGenerator", "ConfigError", "LabError"]
__version__ = "0.1.0"
