"""How fast the roadmap page's password can be guessed: wrong passwords are counted in a
sliding window per client address and for the account (the one office password, whatever
the user name), with the ``limits`` library's moving window in this process's memory.

Only wrong passwords count; a client over either limit is answered 429 with Retry-After
before its password is even compared, so a blocked guesser learns nothing and adds nothing
to the count. The account limit is what stops guessing from many addresses at once; its
price is that such an attack also keeps the office out of password sign-in until the window
has passed (office links still work): docs/web.md, "Password guessing".
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

ACCOUNT = "office-password"


class SignInThrottle:
    """Failed sign-ins per client (``per_client``) and in all (``total``) within ``window`` seconds."""

    def __init__(self, *, per_client: int, total: int, window: int) -> None:
        self.window = window
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.client_limit: RateLimitItem = RateLimitItemPerSecond(per_client, window, namespace="sign-in-client")
        self.total_limit: RateLimitItem = RateLimitItemPerSecond(total, window, namespace="sign-in-total")

    def wait(self, client: str) -> int:
        """Seconds until ``client`` may try a password again; 0 when it may now."""
        return max(self._wait(self.client_limit, client), self._wait(self.total_limit, ACCOUNT))

    def failed(self, client: str) -> int:
        """Count a wrong password from ``client``; how many it has given within the window."""
        self.limiter.hit(self.client_limit, client)
        self.limiter.hit(self.total_limit, ACCOUNT)
        return self.client_limit.amount - self.limiter.get_window_stats(self.client_limit, client).remaining

    def _wait(self, limit: RateLimitItem, key: str) -> int:
        if self.limiter.test(limit, key):
            return 0
        reset = self.limiter.get_window_stats(limit, key).reset_time  # when the oldest failure leaves the window
        return max(1, math.ceil(reset - time.time()))
