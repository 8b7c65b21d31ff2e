"""systemd's notify protocol (``sd_notify``) with the standard library only.

Messages go as one datagram to the Unix socket in ``$NOTIFY_SOCKET`` (a leading ``@``
means the abstract namespace). Without that variable every call is a no-op, so the
daemon behaves the same outside systemd.
"""

from __future__ import annotations

import os
import socket


class Notifier:
    """Sends ``READY=1``, ``WATCHDOG=1``, ``STOPPING=1`` and ``STATUS=...`` to systemd."""

    def __init__(self, address: str | None = None) -> None:
        """Use ``address``, else ``$NOTIFY_SOCKET``; no address disables notifications."""
        raw = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        self._address = "\0" + raw[1:] if raw.startswith("@") else raw

    @property
    def enabled(self) -> bool:
        """True when there is a socket to notify."""
        return bool(self._address)

    def notify(self, *lines: str) -> bool:
        """Send ``lines`` as one message; False when disabled or the socket is gone."""
        if not self._address:
            return False
        payload = "\n".join(lines).encode()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            try:
                sock.sendto(payload, self._address)
            except OSError:
                return False
        return True

    def ready(self, status: str = "") -> bool:
        """Start-up is complete."""
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def stopping(self) -> bool:
        """Shutdown has begun."""
        return self.notify("STOPPING=1")

    def watchdog(self) -> bool:
        """Keep-alive for ``WatchdogSec``."""
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        """Free-form status line shown by ``systemctl status``."""
        return self.notify(f"STATUS={text}")


def watchdog_interval() -> float | None:
    """Half of systemd's watchdog period (``$WATCHDOG_USEC``), or None when not asked for."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2_000_000
    except ValueError:
        return None
