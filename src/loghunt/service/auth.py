"""Bearer-token authentication and the rule that a public address needs a token."""

from __future__ import annotations

import hmac
import ipaddress
import os
from pathlib import Path

from loghunt.errors import ConfigError

TOKEN_ENV = "LOGHUNT_TOKEN"


def load_token(token_file: str | os.PathLike[str] | None = None) -> str | None:
    """The token from ``token_file`` (first line), else from ``$LOGHUNT_TOKEN``, else None."""
    if token_file is not None:
        text = Path(token_file).read_text(encoding="utf-8").strip()
        if not text:
            raise ConfigError(f"token file {token_file} is empty")
        return text.splitlines()[0].strip()
    return os.environ.get(TOKEN_ENV) or None


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine.

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve on a non-loopback address without a token."""
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host} without a token: set ${TOKEN_ENV} or --token-file "
            "(or listen on 127.0.0.1)"
        )
    if token is not None and len(token) < 16:
        raise ConfigError("the token must be at least 16 characters")


def check_bearer(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (constant-time comparison).

    Examples
    --------
    >>> check_bearer("Bearer s3cret-token-123456", "s3cret-token-123456")
    True
    >>> check_bearer("Bearer wrong", "s3cret-token-123456"), check_bearer(None, "x")
    (False, False)
    """
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())
