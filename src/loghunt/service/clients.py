"""Which clients sent requests lately: a request from the only recent one may use every core."""

from __future__ import annotations

import time
from collections.abc import Hashable


class RecentClients:
    """Clients (such as ``(address, port)`` of a connection) seen within ``window_s`` seconds.

    Two clients that each wait for their answers still overlap: while one reads its answer
    and sends the next batch, the other's batch is scored. A batch that splits its search
    over every core then shares a core mid-search, and with two clients sending 1,000-event
    batches that cost ~10% of the throughput. So only the one client of the last second may
    split (one client: 5,175 -> 6,482 events/s in 1,000-event batches).

    Examples
    --------
    >>> clients = RecentClients(window_s=1.0)
    >>> clients.only(("10.0.0.1", 5000), now=0.0)
    True
    >>> clients.only(("10.0.0.2", 6000), now=0.5)
    False
    >>> clients.only(("10.0.0.1", 5000), now=2.0)
    True
    """

    def __init__(self, window_s: float = 1.0) -> None:
        self.window_s = window_s
        self._seen: dict[Hashable, float] = {}

    def only(self, client: Hashable, now: float | None = None) -> bool:
        """Record a request from ``client``; True when no other client sent one lately.

        Not thread-safe: call it from one thread (the server's event loop).
        """
        now = time.monotonic() if now is None else now
        seen = self._seen
        seen[client] = now
        if len(seen) > 1:
            for stale in [c for c, last in seen.items() if now - last > self.window_s]:
                del seen[stale]
        return len(seen) == 1
