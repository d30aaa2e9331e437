"""Subcommands of the ``labmail`` command, one module each (see :mod:`labmail.cli`)."""
