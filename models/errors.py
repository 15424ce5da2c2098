"""Errors a user can fix (exit code 2) as opposed to operational failures (exit code 1)."""


class UserError(Exception):
    """Bad input: a wrong key, date or option. The message is shown as it is."""



def error_line(exc: BaseException) -> str:
    """An unexpected error in one line, for the line naming a roadmap that failed while the
    others went on: its type and the first line of its message."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
