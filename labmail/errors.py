"""Errors a student can act on: every one names the file and line at fault."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["LabError", "ConfigError"]


class LabError(Exception):
    """Base class of labmail's own errors."""


@dataclass
class ConfigError(LabError):
    """A configuration file is wrong; says where and what to do.

    >>> str(ConfigError("/etc/postfix/main.cf", 12, "missing '=' after parameter name"))
    "/etc/postfix/main.cf, line 12: missing '=' after parameter name"
    """

    path: str
    line: Optional[int]
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}, line {self.line}"
        return f"{where}: {self.message}"
