"""Scenarios: the configuration, and the generator that puts organisation, activity and
attacks together into CloudTrail records, OCSF logons and labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from loghunt.errors import ConfigError
from loghunt.synth import batch as B
from loghunt.synth.attacks import ATTACK_TYPES, Incident, inject_attacks, plan_attacks
from loghunt.synth.normal import hourly_weights, sample_auth, sample_cloudtrail
from loghunt.synth.org import Organisation, make_org
from loghunt.synth.records import CloudTrailRenderer, render_auth
from loghunt.synth.rng import stream


@dataclass(frozen=True)
class ScenarioConfig:
    """What to generate; every field has a sensible default.

    Parameters
    ----------
    n_events : int
        Total events, CloudTrail and authentication together, attacks included (exact).
    days : int
        Length of the period, starting at ``start`` (midnight UTC).
    n_users : int
        People in the organisation (at least 5); workloads scale with it.
    seed : int
        The only source of randomness: the same seed gives byte-identical output.
    attack_rate : float
        Share of events that belong to attacks (0 for a clean baseline). Each attack type gets
        at least three instances when the budget allows, so very small scenarios run higher.
    auth_fraction : float
        Share of events that are authentication (SSO, VPN, SSH logons).
    n_accounts, n_regions : int
        AWS accounts (1 or 2) and regions in use (1 to 3, the first dominant).
    start : datetime.date
        First day of the period.

    Examples
    --------
    >>> from loghunt.synth import ScenarioConfig, generate_scenario
    >>> scenario = generate_scenario(ScenarioConfig(n_events=3_000, days=7, n_users=20))
    >>> len(scenario.cloudtrail) + len(scenario.auth)
    3000
    """

    n_events: int = 40_000
    days: int = 14
    n_users: int = 60
    seed: int = 0
    attack_rate: float = 0.015
    auth_fraction: float = 0.15
    n_accounts: int = 2
    n_regions: int = 3
    start: date = field(default=date(2026, 3, 2))

    def __post_init__(self) -> None:
        checks = [
            (self.n_events >= 100, f"n_events must be at least 100, got {self.n_events}"),
            (self.days >= 1, f"days must be at least 1, got {self.days}"),
            (5 <= self.n_users <= 3000, f"n_users must be in [5, 3000], got {self.n_users}"),
            (self.seed >= 0, f"seed must be non-negative, got {self.seed}"),
            (
                0 <= self.attack_rate <= 0.2,
                f"attack_rate must be in [0, 0.2], got {self.attack_rate}",
            ),
            (
                0 <= self.auth_fraction <= 0.8,
                f"auth_fraction must be in [0, 0.8], got {self.auth_fraction}",
            ),
            (self.n_accounts in (1, 2), f"n_accounts must be 1 or 2, got {self.n_accounts}"),
            (1 <= self.n_regions <= 3, f"n_regions must be in [1, 3], got {self.n_regions}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


@dataclass(frozen=True, eq=False)
class Scenario:
    """A generated scenario: raw records of both sources, labels, and what was injected.

    Attributes
    ----------
    config : ScenarioConfig
        What was asked for.
    cloudtrail : list of dict
        CloudTrail records exactly as AWS writes them, in time order.
    auth : list of dict
        OCSF Authentication (class 3002) events, in time order.
    labels : polars.DataFrame
        ``event_id`` (CloudTrail ``eventID`` or OCSF ``metadata.uid``), ``attack`` (the type, ""
        when normal) and ``is_attack``; CloudTrail rows first, then authentication rows.
    incidents : tuple of Incident
        One entry per injected attack instance.
    org : Organisation
        The synthetic organisation behind the events.

    Examples
    --------
    >>> from loghunt.synth import ScenarioConfig, generate_scenario
    >>> scenario = generate_scenario(ScenarioConfig(n_events=5_000, days=7, n_users=20))
    >>> scenario.cloudtrail[0]["eventVersion"], scenario.auth[0]["class_uid"]
    ('1.09', 3002)
    """

    config: ScenarioConfig
    cloudtrail: list[dict[str, Any]]
    auth: list[dict[str, Any]]
    labels: pl.DataFrame
    incidents: tuple[Incident, ...]
    org: Organisation = field(repr=False)

    @property
    def accounts(self) -> tuple[str, ...]:
        """The AWS account ids in the scenario."""
        return self.org.accounts


def generate_scenario(config: ScenarioConfig | None = None) -> Scenario:
    """Generate a scenario in memory; the same ``config`` always gives the same scenario.

    Attacks are planned first; benign CloudTrail and authentication activity fills the rest of
    ``config.n_events``. Write it to disk with :func:`~loghunt.synth.write_scenario`.
    """
    cfg = config or ScenarioConfig()
    org = make_org(
        cfg.seed,
        cfg.n_users,
        cfg.days,
        n_accounts=cfg.n_accounts,
        n_regions=cfg.n_regions,
        start=cfg.start,
    )
    results = inject_attacks(org, plan_attacks(cfg.n_events, cfg.attack_rate, cfg.seed), cfg.seed)
    attack_ct = [r.ct for r in results if r.ct is not None]
    attack_auth = [r.auth for r in results if r.auth is not None]
    n_attack_ct = sum(len(b) for b in attack_ct)
    n_attack_auth = sum(len(b) for b in attack_auth)
    n_auth = max(0, round(cfg.auth_fraction * cfg.n_events) - n_attack_auth)
    n_ct = max(0, cfg.n_events - n_attack_ct - n_attack_auth - n_auth)
    weights = hourly_weights(org, stream(cfg.seed, "weights"))
    ct = B.concat_ct(
        [sample_cloudtrail(org, weights, n_ct, stream(cfg.seed, "cloudtrail")), *attack_ct]
    )
    auth = B.concat_auth(
        [sample_auth(org, weights, n_auth, stream(cfg.seed, "auth")), *attack_auth]
    )
    ct = ct.take(B.time_order(ct.time))
    auth = auth.take(B.time_order(auth.time))
    records, ct_ids = CloudTrailRenderer(org, stream(cfg.seed, "render")).render(ct)
    logons, auth_ids = render_auth(org, auth, stream(cfg.seed, "render-auth"))
    labels = make_labels(ct_ids + auth_ids, np.concatenate([ct.attack, auth.attack]))
    return Scenario(
        config=cfg,
        cloudtrail=records,
        auth=logons,
        labels=labels,
        incidents=tuple(r.incident for r in results),
        org=org,
    )


def make_labels(event_ids: list[str], attack: np.ndarray[Any, Any]) -> pl.DataFrame:
    """The label table: ``event_id``, ``attack`` (type name, "" when normal), ``is_attack``."""
    names = pl.Series("attack", ["", *ATTACK_TYPES], dtype=pl.Utf8)
    codes = pl.Series(np.asarray(attack, dtype=np.int64))
    return pl.DataFrame(
        {
            "event_id": pl.Series(event_ids, dtype=pl.Utf8),
            "attack": names.gather(codes),
            "is_attack": codes > 0,
        }
    )
