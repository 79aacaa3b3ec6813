"""Column batches of events before they become records: numpy arrays, one entry per event.

Normal activity and attacks both produce these, so the JSON renderer and the fast table path
share one representation and the same ordering and id logic.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self

import numpy as np
import numpy.typing as npt

# Error kinds; records.py turns them into each service's own errorCode.
OK, DENIED, THROTTLED, NOT_FOUND, LOGIN_FAILED = range(5)


class _Columns:
    """Equal-length array fields: length and row selection shared by every batch."""

    time: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.time)

    def take(self, index: npt.NDArray[np.int64]) -> Self:
        """The events at ``index``, in that order."""
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})  # type: ignore[arg-type]


@dataclass(eq=False)
class CtBatch(_Columns):
    """CloudTrail-like events as columns; ``ip == 0`` means the caller is an AWS service."""

    time: npt.NDArray[np.int64]
    actor: npt.NDArray[np.int64]
    api: npt.NDArray[np.int64]
    region: npt.NDArray[np.int64]
    ip: npt.NDArray[np.uint32]
    ua: npt.NDArray[np.int64]
    error: npt.NDArray[np.int64]
    channel: npt.NDArray[np.int64]
    bucket: npt.NDArray[np.int64]
    nbytes: npt.NDArray[np.int64]
    attack: npt.NDArray[np.int64]
    extra: npt.NDArray[np.object_]


@dataclass(eq=False)
class AuthBatch(_Columns):
    """Authentication events as columns; ``user`` indexes ``Organisation.auth_names``."""

    time: npt.NDArray[np.int64]
    user: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int64]
    ip: npt.NDArray[np.uint32]
    host: npt.NDArray[np.int64]
    ua: npt.NDArray[np.int64]
    failed: npt.NDArray[np.bool_]
    detail: npt.NDArray[np.int64]
    attack: npt.NDArray[np.int64]


def _col(value: Any, n: int, dtype: type[Any]) -> npt.NDArray[Any]:
    arr = np.asarray(value, dtype=dtype)
    return np.full(n, arr, dtype=dtype) if arr.ndim == 0 else arr


def ct_batch(
    time: Any,
    *,
    actor: Any,
    api: Any,
    region: Any,
    ip: Any,
    ua: Any,
    channel: Any,
    error: Any = OK,
    bucket: Any = -1,
    nbytes: Any = 0,
    attack: int = 0,
    extra: list[dict[str, Any] | None] | None = None,
) -> CtBatch:
    """A batch from columns or scalars (scalars are repeated for every event)."""
    t = np.asarray(time, dtype=np.int64)
    n = len(t)
    objects = np.empty(n, dtype=object)
    if extra is not None:
        objects[:] = extra
    return CtBatch(
        time=t,
        actor=_col(actor, n, np.int64),
        api=_col(api, n, np.int64),
        region=_col(region, n, np.int64),
        ip=_col(ip, n, np.uint32),
        ua=_col(ua, n, np.int64),
        error=_col(error, n, np.int64),
        channel=_col(channel, n, np.int64),
        bucket=_col(bucket, n, np.int64),
        nbytes=_col(nbytes, n, np.int64),
        attack=_col(attack, n, np.int64),
        extra=objects,
    )


def auth_batch(
    time: Any,
    *,
    user: Any,
    kind: Any,
    ip: Any,
    host: Any,
    ua: Any,
    failed: Any = False,
    detail: Any = 0,
    attack: int = 0,
) -> AuthBatch:
    """An authentication batch from columns or scalars."""
    t = np.asarray(time, dtype=np.int64)
    n = len(t)
    return AuthBatch(
        time=t,
        user=_col(user, n, np.int64),
        kind=_col(kind, n, np.int64),
        ip=_col(ip, n, np.uint32),
        host=_col(host, n, np.int64),
        ua=_col(ua, n, np.int64),
        failed=_col(failed, n, np.bool_),
        detail=_col(detail, n, np.int64),
        attack=_col(attack, n, np.int64),
    )


def concat_ct(batches: list[CtBatch]) -> CtBatch:
    """All events of ``batches`` in one batch."""
    if not batches:
        return ct_batch([], actor=0, api=0, region=0, ip=0, ua=0, channel=0)
    return CtBatch(
        **{f.name: np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(CtBatch)}
    )


def concat_auth(batches: list[AuthBatch]) -> AuthBatch:
    """All events of ``batches`` in one batch."""
    if not batches:
        return auth_batch([], user=0, kind=0, ip=0, host=0, ua=0)
    return AuthBatch(
        **{f.name: np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(AuthBatch)}
    )


def time_order(time: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A stable order by time (ties keep their generation order, so output is reproducible)."""
    return np.argsort(time, kind="stable").astype(np.int64)
