"""A fast path for benchmarks: CloudTrail-like events straight into an OCSF-shaped table.

It shares the organisation, activity model and attacks with :func:`generate_scenario` but skips
JSON: every column is built from the event batch with numpy and polars gathers, so a million
rows take seconds.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from loghunt.errors import ConfigError
from loghunt.schema import ocsf
from loghunt.synth import batch as B
from loghunt.synth import catalog
from loghunt.synth import org as O
from loghunt.synth.attacks import ATTACK_TYPES, inject_attacks, plan_attacks
from loghunt.synth.normal import hourly_weights, sample_cloudtrail
from loghunt.synth.records import error_fields
from loghunt.synth.rng import stream, uuid4_bytes


def generate_cloudtrail_table(
    n_events: int,
    seed: int = 0,
    *,
    n_users: int | None = None,
    days: int = 14,
    attack_rate: float = 0.015,
) -> pl.DataFrame:
    """``n_events`` CloudTrail events as the loghunt normaliser would output them, with labels.

    Columns are the OCSF names of :mod:`loghunt.schema.ocsf` (``time``, ``actor.user.name``,
    ``api.operation``, ``src_endpoint.ip``, ...) plus ``is_attack`` and ``attack``; rows are in
    time order. ``n_users`` defaults to one person per 2,500 events (60 to 600).

    Examples
    --------
    >>> from loghunt.synth import generate_cloudtrail_table
    >>> table = generate_cloudtrail_table(5_000, seed=1)
    >>> table.height, table.get_column("is_attack").any()
    (5000, True)
    """
    if n_events < 100:
        raise ConfigError(f"n_events must be at least 100, got {n_events}")
    if days < 1 or not 0 <= attack_rate <= 0.2:
        raise ConfigError(f"need days >= 1 and attack_rate in [0, 0.2], got {days}, {attack_rate}")
    users = n_users or int(np.clip(n_events // 2_500, 60, 600))
    org = O.make_org(seed, users, days)
    results = inject_attacks(
        org, plan_attacks(n_events, attack_rate, seed), seed, cloudtrail_only=True
    )
    attacks = [r.ct for r in results if r.ct is not None]
    n_normal = max(0, n_events - sum(len(a) for a in attacks))
    weights = hourly_weights(org, stream(seed, "weights"))
    events = B.concat_ct(
        [sample_cloudtrail(org, weights, n_normal, stream(seed, "cloudtrail")), *attacks]
    )
    events = events.take(B.time_order(events.time))
    return to_table(org, events, stream(seed, "table-ids"))


def _error_codes() -> pl.Series:
    """errorCode per (api, error kind), flattened as ``api * 5 + kind``; null when none."""
    who = O.Principal(index=0, kind=O.HUMAN, name="", identity_type="IAMUser", role="", account="")
    codes: list[str | None] = []
    for api in catalog.APIS:
        codes.append(None)
        codes += [error_fields(api, kind, who)[0] for kind in (B.DENIED, B.THROTTLED, B.NOT_FOUND)]
        codes.append(None)  # a failed ConsoleLogin has no errorCode, only a message
    return pl.Series(codes, dtype=pl.Utf8)


def to_table(org: O.Organisation, events: B.CtBatch, rng: np.random.Generator) -> pl.DataFrame:
    """The OCSF-shaped table of a batch (vectorised; no per-row Python)."""
    people = org.principals
    actor = pl.Series(events.actor)
    api = pl.Series(events.api)

    def by_actor(values: list[str | None]) -> pl.Series:
        return pl.Series(values, dtype=pl.Utf8).gather(actor)

    ip = pl.Series(events.ip.astype(np.int64))
    octets = [((ip // (1 << s)) % 256).cast(pl.Utf8) for s in (24, 16, 8, 0)]
    dotted = (
        pl.DataFrame({"a": octets[0], "b": octets[1], "c": octets[2], "d": octets[3]})
        .select(pl.concat_str(["a", "b", "c", "d"], separator="."))
        .to_series()
    )
    source = pl.select(
        pl.when(ip == 0).then(by_actor([p.invoked_by for p in people])).otherwise(dotted)
    ).to_series()
    error = _error_codes().gather(pl.Series(events.api * 5 + events.error))
    names = pl.Series(["", *ATTACK_TYPES], dtype=pl.Utf8)
    return pl.DataFrame(
        {
            ocsf.TIME: pl.Series(events.time).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"),
            ocsf.USER_NAME: by_actor([p.display_name for p in people]),
            ocsf.USER_TYPE: by_actor([p.identity_type for p in people]),
            ocsf.USER_UID: by_actor([p.arn or None for p in people]),
            ocsf.ACCOUNT_UID: by_actor([p.account for p in people]),
            ocsf.OPERATION: pl.Series([a.name for a in catalog.APIS], dtype=pl.Utf8).gather(api),
            ocsf.SERVICE: pl.Series([a.source for a in catalog.APIS], dtype=pl.Utf8).gather(api),
            ocsf.SRC_IP: source,
            ocsf.USER_AGENT: pl.Series(org.user_agents, dtype=pl.Utf8).gather(pl.Series(events.ua)),
            ocsf.REGION: pl.Series(O.ALL_REGIONS, dtype=pl.Utf8).gather(pl.Series(events.region)),
            ocsf.ERROR: error,
            ocsf.STATUS: pl.Series(np.where(events.error > 0, "Failure", "Success")),
            ocsf.EVENT_UID: pl.Series(uuid4_bytes(rng, len(events))).cast(pl.Utf8),
            "is_attack": pl.Series(events.attack > 0),
            "attack": names.gather(pl.Series(events.attack)),
        }
    )
