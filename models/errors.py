"""Errors a user can fix (exit code 2) as opposed to operational failures (exit code 1)."""


class UserError(Exception):
    """Bad input: a wrong key, date or option. The message is shown as it is."""


class OperationalFailure(Exception):
    """Something outside the user's input failed (the database went away under a delivery
    worker, say): shown as it is, exit code 1."""
