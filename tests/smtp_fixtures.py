"""Real SMTP servers on loopback for tests (aiosmtpd). Filled in by the mail work."""
