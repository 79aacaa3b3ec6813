"""IPv4 address space for the synthetic organisation and its attackers.

A network is a list of /16 blocks (first two octets and a range for the second). Normal traffic
and attacker traffic use disjoint blocks, except for cloud hosting, where attackers rent the
same providers that CI runners and Lambda functions egress from.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Blocks = tuple[tuple[int, int, int], ...]  # (first octet, second-octet low, high), inclusive

HOME_ISPS: dict[str, Blocks] = {
    "us": (
        (73, 0, 255),
        (98, 192, 255),
        (24, 0, 127),
        (71, 160, 191),
        (108, 0, 63),
        (67, 160, 191),
    ),
    "eu": ((86, 128, 191), (81, 128, 159), (79, 192, 255), (87, 128, 191), (90, 0, 63)),
    "in": ((122, 160, 191), (49, 32, 47), (106, 192, 223)),
}
MOBILE: Blocks = ((172, 56, 63), (174, 192, 255), (92, 40, 41), (100, 128, 191))
GITHUB_RUNNERS: Blocks = ((20, 25, 127), (40, 64, 127), (52, 224, 255), (4, 152, 159))
AWS: Blocks = ((3, 80, 95), (18, 204, 215), (54, 144, 175), (52, 0, 31), (35, 152, 183))
MONITOR_VENDOR: Blocks = ((3, 233, 233),)
# Attacker space: VPS and bulletproof hosting, Tor exits, residential proxies abroad.
HOSTING: Blocks = (
    (45, 9, 15),
    (185, 100, 250),
    (193, 32, 37),
    (194, 26, 180),
    (5, 188, 189),
    (167, 99, 172),
    (138, 68, 197),
    (51, 68, 91),
    (88, 198, 198),
    (95, 216, 217),
)
FOREIGN_RESIDENTIAL: Blocks = (
    (113, 160, 191),
    (177, 0, 63),
    (95, 24, 31),
    (61, 128, 191),
    (41, 200, 215),
    (190, 0, 63),
    (36, 64, 95),
)
CLOUD_ATTACKER: Blocks = ((3, 96, 127), (13, 48, 63), (34, 192, 223))


def pack(a: int, b: int, c: int, d: int) -> int:
    """An IPv4 address as an int."""
    return (a << 24) | (b << 16) | (c << 8) | d


def sample(rng: np.random.Generator, blocks: Blocks, n: int) -> npt.NDArray[np.uint32]:
    """``n`` random host addresses inside ``blocks`` (block picked uniformly)."""
    which = rng.integers(0, len(blocks), size=n)
    table = np.array(blocks, dtype=np.int64)
    first = table[which, 0]
    second = rng.integers(table[which, 1], table[which, 2] + 1)
    third = rng.integers(0, 256, size=n)
    fourth = rng.integers(1, 255, size=n)
    packed: npt.NDArray[np.uint32] = (
        (first << 24) | (second << 16) | (third << 8) | fourth
    ).astype(np.uint32)
    return packed


def same_subnet(rng: np.random.Generator, base: int, n: int) -> npt.NDArray[np.uint32]:
    """``n`` addresses in the /24 of ``base`` (a small pool an attacker rotates through)."""
    hosts = rng.integers(1, 255, size=n)
    return ((base & 0xFFFFFF00) | hosts).astype(np.uint32)


def private(rng: np.random.Generator, second: int, n: int) -> npt.NDArray[np.uint32]:
    """``n`` addresses in 10.<second>.0.0/16 (office LAN or VPN client pool)."""
    third = rng.integers(0, 256, size=n)
    fourth = rng.integers(2, 255, size=n)
    return ((10 << 24) | (second << 16) | (third << 8) | fourth).astype(np.uint32)
