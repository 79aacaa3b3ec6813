"""Named random streams, uuid-shaped ids and time helpers shared by the generators.

Every part of a scenario draws from its own stream, derived from the seed and a name, so that
changing one part (say, the number of attacks) does not reshuffle every other part.
"""

from __future__ import annotations

import binascii
import zlib
from datetime import UTC, date, datetime

import numpy as np
import numpy.typing as npt

MS_PER_HOUR = 3_600_000
MS_PER_DAY = 24 * MS_PER_HOUR


def stream(seed: int, name: str) -> np.random.Generator:
    """A generator that depends only on ``seed`` and ``name`` (crc32 keeps it stable)."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def epoch_ms(day: date) -> int:
    """Milliseconds since the epoch at midnight UTC of ``day``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def uuid4_bytes(rng: np.random.Generator, n: int) -> npt.NDArray[np.bytes_]:
    """``n`` uuid4-shaped ids as ASCII bytes (vectorised: no per-id Python work)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.frombuffer(binascii.hexlify(raw.tobytes()), dtype=np.uint8).reshape(n, 32)
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for dst, src in (((0, 8), (0, 8)), ((9, 13), (8, 12)), ((14, 18), (12, 16))):
        out[:, dst[0] : dst[1]] = hexed[:, src[0] : src[1]]
    out[:, 19:23] = hexed[:, 16:20]
    out[:, 24:36] = hexed[:, 20:32]
    return np.ascontiguousarray(out).view("S36").ravel()


def uuid4_strings(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` uuid4-shaped ids as Python strings."""
    ids: list[str] = uuid4_bytes(rng, n).astype("U36").tolist()
    return ids


def iso_seconds(time_ms: npt.NDArray[np.int64]) -> list[str]:
    """CloudTrail's ``eventTime`` format ("2026-03-02T14:05:11Z") for many times at once."""
    text = np.datetime_as_string(time_ms.astype("datetime64[ms]"), unit="s")
    out: list[str] = np.char.add(text, "Z").tolist()
    return out


def iso_one(time_ms: int) -> str:
    """CloudTrail's time format for one time."""
    return datetime.fromtimestamp(time_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ip_strings(ips: npt.NDArray[np.uint32]) -> list[str]:
    """Dotted quads for IPv4 addresses held as uint32."""
    octets = [((ips >> s) & 255).astype(np.int64) for s in (24, 16, 8, 0)]
    return [f"{a}.{b}.{c}.{d}" for a, b, c, d in zip(*(o.tolist() for o in octets), strict=True)]


def random_token(rng: np.random.Generator, n: int, alphabet: str) -> str:
    """A random string of ``n`` characters from ``alphabet``."""
    picks = rng.integers(0, len(alphabet), size=n)
    return "".join(alphabet[i] for i in picks)


UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
HEX = "0123456789abcdef"


class Draws:
    """Uniform draws from a numpy Generator, fetched in blocks.

    Rendering makes many tiny random choices (a resource name, a token); one numpy call each
    would cost more than the rest of the record, so they come from a prefetched block instead.
    """

    def __init__(self, rng: np.random.Generator, block: int = 1 << 16) -> None:
        self._rng = rng
        self._block = block
        self._buf: list[float] = []
        self._pos = 0

    def uniform(self) -> float:
        """One draw in [0, 1)."""
        if self._pos == len(self._buf):
            self._buf = self._rng.random(self._block).tolist()
            self._pos = 0
        self._pos += 1
        return self._buf[self._pos - 1]

    def index(self, n: int) -> int:
        """One integer in [0, n)."""
        return min(int(self.uniform() * n), n - 1)

    def token(self, n: int, alphabet: str) -> str:
        """A random string of ``n`` characters from ``alphabet``."""
        size = len(alphabet)
        return "".join(alphabet[self.index(size)] for _ in range(n))
