"""Errors a user can fix (exit code 2) as opposed to operational failures (exit code 1)."""


class UserError(Exception):
    """Bad input: a wrong key, date or option. The message is shown as it is."""

