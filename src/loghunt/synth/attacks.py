"""Labelled attacks, one function per attack type, mixed into benign activity.

Attacks are built to be caught mostly, not always: attackers often send ordinary agents, call
common APIs, work during the victim's hours, and the slow variants hide in normal rates from the
victim's own address. Nothing in a record marks it as an attack; the truth is only the label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from loghunt.synth import agents, catalog, network
from loghunt.synth import batch as B
from loghunt.synth import org as O
from loghunt.synth.normal import HabitArrays, clamp_times, habit_arrays
from loghunt.synth.rng import MS_PER_DAY, MS_PER_HOUR, epoch_ms, ip_strings, stream

I64 = npt.NDArray[np.int64]

ATTACK_TYPES: tuple[str, ...] = (
    "brute_force",
    "credential_stuffing",
    "new_network_key",
    "off_hours_admin",
    "enumeration_burst",
    "s3_exfiltration",
    "privilege_escalation",
    "offensive_user_agent",
    "slow_enumeration",
    "slow_exfiltration",
)


@dataclass(frozen=True)
class _Spec:
    weight: float  # share of the attack budget
    base: int  # events in one instance at full scale
    min_size: int  # fewest events that still make the attack what it is


_SPECS = {
    "brute_force": _Spec(1.0, 30, 4),
    "credential_stuffing": _Spec(1.0, 30, 4),
    "new_network_key": _Spec(1.0, 40, 5),
    "off_hours_admin": _Spec(0.6, 15, 4),
    "enumeration_burst": _Spec(1.4, 100, 12),
    "s3_exfiltration": _Spec(1.6, 150, 10),
    "privilege_escalation": _Spec(0.5, 8, 3),
    "offensive_user_agent": _Spec(0.8, 25, 4),
    "slow_enumeration": _Spec(0.9, 60, 8),
    "slow_exfiltration": _Spec(1.2, 100, 8),
}
_MIN_INSTANCES = 3
_MAX_INSTANCES = 25


@dataclass(frozen=True)
class Incident:
    """One injected attack instance (ground truth for reports and evaluation).

    Attributes
    ----------
    attack : str
        The attack type, one of :data:`ATTACK_TYPES`.
    principal : str
        The victim (user or workload name), or ``"<n> users"`` for credential stuffing.
    src_ip : str
        The attacker's (first) source address.
    start, end : datetime.datetime
        First and last event, UTC.
    n_events : int
        Labelled events of this instance.
    source : str
        ``"cloudtrail"`` or ``"auth"``.
    """

    attack: str
    principal: str
    src_ip: str
    start: datetime
    end: datetime
    n_events: int
    source: str


def plan_attacks(n_events: int, attack_rate: float, seed: int) -> list[tuple[str, int]]:
    """(attack type, events) per instance, about ``attack_rate * n_events`` events in all.

    Every type gets at least three instances when the budget allows, so each appears several
    times, at different times, against different victims. When a type's share of the budget is
    below one minimal instance (tiny scenarios), it appears with the matching probability.
    """
    budget = attack_rate * n_events
    if budget <= 0:
        return []
    rng = stream(seed, "attack-plan")
    total_weight = sum(s.weight for s in _SPECS.values())
    plan: list[tuple[str, int]] = []
    for name in ATTACK_TYPES:
        spec = _SPECS[name]
        share = budget * spec.weight / total_weight
        if share < spec.min_size:
            if rng.random() < share / spec.min_size:
                plan.append((name, spec.min_size))
            continue
        n = int(np.clip(round(share / spec.base), _MIN_INSTANCES, _MAX_INSTANCES))
        n = max(1, min(n, int(share // spec.min_size)))
        sizes = np.maximum(spec.min_size, np.round(rng.dirichlet([4.0] * n) * share))
        plan += [(name, int(s)) for s in sizes]
    return plan


@dataclass(eq=False)
class AttackContext:
    """What attack functions need: the organisation, its habits, and victim rotation."""

    org: O.Organisation
    seed: int
    cloudtrail_only: bool
    habits: HabitArrays = field(init=False)
    _pools: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.habits = habit_arrays(self.org)

    @property
    def start_ms(self) -> int:
        """The start of the period."""
        return epoch_ms(self.org.start)

    def victim(self, attack: str, pool: list[O.Principal], k: int) -> O.Principal:
        """The ``k``-th victim of ``attack``: a seeded rotation, so instances differ."""
        key = f"{attack}/{len(pool)}"
        if key not in self._pools:
            order = stream(self.seed, f"victims/{key}").permutation(len(pool))
            self._pools[key] = [pool[int(i)].index for i in order]
        return self.org.principals[self._pools[key][k % len(pool)]]


@dataclass(eq=False)
class AttackResult:
    """Events of one attack instance (CloudTrail and/or authentication) and its summary."""

    ct: B.CtBatch | None
    auth: B.AuthBatch | None
    incident: Incident


AttackFn = Callable[[AttackContext, int, int, np.random.Generator], AttackResult]


def inject_attacks(
    org: O.Organisation, plan: list[tuple[str, int]], seed: int, cloudtrail_only: bool = False
) -> list[AttackResult]:
    """Run the plan; every instance draws from its own stream so instances are independent."""
    ctx = AttackContext(org=org, seed=seed, cloudtrail_only=cloudtrail_only)
    done: dict[str, int] = {}
    results = []
    for name, size in plan:
        k = done.get(name, 0)
        done[name] = k + 1
        result = ATTACKS[name](ctx, size, k, stream(seed, f"attack/{name}/{k}"))
        # Slow variants that start late could run past the end of the period.
        for events in (result.ct, result.auth):
            if events is not None:
                events.time = clamp_times(org, events.time)
        results.append(result)
    return results


# -- shared helpers ------------------------------------------------------------------------------
def _code(attack: str) -> int:
    return ATTACK_TYPES.index(attack) + 1


def _when(
    ctx: AttackContext,
    who: O.Principal,
    rng: np.random.Generator,
    working: bool,
    day: int | None = None,
    local_hour: float | None = None,
) -> int:
    """A start time: in the victim's working hours or outside them, on a random day."""
    org = ctx.org
    h = org.habits[who.index]
    if day is None:
        day = int(rng.integers(1, org.days - 1)) if org.days >= 3 else int(rng.integers(org.days))
    if local_hour is None:
        length = (h.end - h.start) % 24 or 24.0
        if who.kind != O.HUMAN:
            local_hour = float(rng.uniform(0, 24))
        elif working:
            local_hour = h.start + float(rng.uniform(0.3, max(0.5, length - 1.5)))
        else:
            local_hour = h.end + 1 + float(rng.uniform(0, max(0.5, 24 - length - 2.5)))
    ms = ctx.start_ms + int((day * 24 + local_hour - h.tz) * MS_PER_HOUR)
    last = ctx.start_ms + org.days * MS_PER_DAY - 4 * MS_PER_HOUR
    return int(np.clip(ms, ctx.start_ms + MS_PER_HOUR, last)) // 1000 * 1000


def _pace(t0: int, n: int, mean_gap_s: float, rng: np.random.Generator) -> I64:
    gaps = np.maximum(1.0, rng.exponential(mean_gap_s, size=n))
    gaps[0] = 0.0
    return t0 + (np.cumsum(gaps).astype(np.int64) * 1000)


def _usual_ip(ctx: AttackContext, who: O.Principal, t_ms: int) -> int:
    """The address the principal itself would use at ``t_ms`` (its office, home, VPN, ...)."""
    h = ctx.habits
    lday = int(np.clip((t_ms - ctx.start_ms) / MS_PER_HOUR + h.tz[who.index], 0, None) // 24) + 1
    lday = min(lday, ctx.org.days + 1)
    loc = int(ctx.org.loc_day[who.index, lday]) if who.kind == O.HUMAN else O.OFFICE
    if loc == O.MOBILE:
        return int(ctx.org.mobile_ip[who.index, lday])
    return int(h.ip[who.index, loc, 0])


def _new_ip(rng: np.random.Generator, blocks: network.Blocks) -> int:
    return int(network.sample(rng, blocks, 1)[0])


def _origin(
    ctx: AttackContext,
    who: O.Principal,
    t0: int,
    rng: np.random.Generator,
    p_insider: float,
    channel: int = O.CLI,
) -> tuple[int, int]:
    """(address, agent) of whoever holds the credentials.

    An insider, or malware on the victim's own machine, uses the victim's address and client;
    an outsider uses rented infrastructure and stock tooling, rarely the victim's exact client.
    """
    if rng.random() < p_insider:
        return _usual_ip(ctx, who, t0), _usual_ua(ctx, who, channel)
    ua = (
        _usual_ua(ctx, who, channel)
        if rng.random() < 0.2
        else _ua(ctx, _pick(rng, agents.GENERIC_ATTACKER))
    )
    return _new_ip(rng, network.HOSTING + network.CLOUD_ATTACKER), ua


def _usual_ua(ctx: AttackContext, who: O.Principal, channel: int) -> int:
    options = ctx.org.habits[who.index].uas
    for ch in (channel, O.SERVICE, O.CLI, O.SDK, O.CONSOLE):
        if options[ch]:
            return options[ch][-1]
    return 0


def _ua(ctx: AttackContext, agent: str) -> int:
    return ctx.org.ua_index(agent)


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _regions(
    ctx: AttackContext, who: O.Principal, api: I64, rng: np.random.Generator, sweep: float = 0.0
) -> I64:
    """Home region, except global services (us-east-1) and a ``sweep`` share of any region."""
    home = np.full(len(api), who.home_region, dtype=np.int64)
    anywhere = rng.integers(0, len(O.ALL_REGIONS), size=len(api))
    region = np.where(rng.random(len(api)) < sweep, anywhere, home)
    return np.where(catalog.API_IS_GLOBAL[api], 0, region).astype(np.int64)


def _channel(who: O.Principal) -> int:
    return O.CLI if who.kind == O.HUMAN else O.SERVICE


def _denied(rng: np.random.Generator, n: int, p: float | npt.NDArray[np.float64]) -> I64:
    return np.where(rng.random(n) < p, B.DENIED, B.OK).astype(np.int64)


def _incident(
    ctx: AttackContext, attack: str, who: str, ip: int, time: I64, source: str
) -> Incident:
    def dt(ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, UTC)

    ip_text = ip_strings(np.array([ip], dtype=np.uint32))[0] if ip else "aws-internal"
    return Incident(
        attack=attack,
        principal=who,
        src_ip=ip_text,
        start=dt(int(time.min())),
        end=dt(int(time.max())),
        n_events=len(time),
        source=source,
    )


def _api_calls(
    ctx: AttackContext,
    attack: str,
    who: O.Principal,
    time: I64,
    api: I64,
    ip: Any,
    ua: Any,
    rng: np.random.Generator,
    *,
    error: Any = B.OK,
    sweep: float = 0.0,
    bucket: Any = -1,
    nbytes: Any = 0,
    channel: int | None = None,
    extra: list[dict[str, Any] | None] | None = None,
) -> AttackResult:
    """A CloudTrail attack result from the columns of its calls."""
    batch = B.ct_batch(
        time,
        actor=who.index,
        api=api,
        region=_regions(ctx, who, api, rng, sweep),
        ip=ip,
        ua=ua,
        channel=_channel(who) if channel is None else channel,
        error=error,
        bucket=bucket,
        nbytes=nbytes,
        attack=_code(attack),
        extra=extra,
    )
    first_ip = int(np.asarray(ip, dtype=np.uint32).ravel()[0])
    return AttackResult(
        batch, None, _incident(ctx, attack, who.name, first_ip, batch.time, "cloudtrail")
    )


def _ids(keys: str) -> I64:
    return catalog.api_ids(keys)


def _choose(rng: np.random.Generator, ids: I64, n: int) -> I64:
    return ids[rng.integers(0, len(ids), size=n)]


def _with_cli(ctx: AttackContext) -> list[O.Principal]:
    """IAM users who own an access key and use it (the keys an attacker can steal)."""
    return [
        p for p in ctx.org.humans(iam_only=True) if sum(ctx.org.habits[p.index].chan_p[1:3]) > 0
    ] or ctx.org.humans()


# -- credential attacks ------------------------------------------------------------------------
_CONSOLE_RECON = _ids(
    "s3:ListBuckets ec2:DescribeInstances iam:ListUsers iam:GetAccountSummary "
    "ec2:DescribeRegions secretsmanager:ListSecrets iam:ListRoles "
    "ce:GetCostAndUsage"
)
_TOOL_SSH = ("SSH-2.0-libssh2_1.10.0", "SSH-2.0-Go", "SSH-2.0-PUTTY", "SSH-2.0-libssh_0.9.6")


def brute_force(ctx: AttackContext, size: int, k: int, rng: np.random.Generator) -> AttackResult:
    """Many failed logons for one user from one foreign address, then a success."""
    console = ctx.cloudtrail_only or rng.random() < 0.5
    pool = ctx.org.humans(iam_only=True) if console else ctx.org.humans()
    who = ctx.victim("brute_force" + ("/console" if console else "/auth"), pool, k)
    ip = _new_ip(rng, network.HOSTING + network.FOREIGN_RESIDENTIAL)
    t0 = _when(ctx, who, rng, working=rng.random() < 0.4)
    gap = float(rng.choice([3.0, 8.0, 45.0]))
    if console:
        return _console_brute_force(ctx, who, size, ip, t0, gap, rng)
    n_fail = size - 1
    time = _pace(t0, size, gap, rng)
    kind = int(rng.choice([O.SSO, O.VPN_LOGON, O.SSH], p=[0.5, 0.3, 0.2]))
    ah = ctx.org.auth_habits[who.index]
    host = (0, ah.vpn_host, ctx.org.hosts.index(O.BASTION))[kind]
    ua = (_ua(ctx, _pick(rng, agents.BROWSERS)), ah.vpn_client, _ua(ctx, _pick(rng, _TOOL_SSH)))[
        kind
    ]
    failed = np.arange(size) < n_fail
    auth = B.auth_batch(
        time,
        user=who.index,
        kind=kind,
        ip=ip,
        host=host,
        ua=ua,
        failed=failed,
        detail=np.where(failed, 4 if kind == O.SSH else 1, 0),
        attack=_code("brute_force"),
    )
    return AttackResult(None, auth, _incident(ctx, "brute_force", who.name, ip, time, "auth"))


def _console_brute_force(
    ctx: AttackContext,
    who: O.Principal,
    size: int,
    ip: int,
    t0: int,
    gap: float,
    rng: np.random.Generator,
) -> AttackResult:
    n_follow = min(6, size // 4)
    n_fail = size - 1 - n_follow
    time = np.concatenate([_pace(t0, n_fail + 1, gap, rng), np.zeros(n_follow, dtype=np.int64)])
    if n_follow:
        time[n_fail + 1 :] = _pace(int(time[n_fail]) + 30_000, n_follow, 40.0, rng)
    api = np.concatenate(
        [np.full(n_fail + 1, catalog.CONSOLE_LOGIN), _choose(rng, _CONSOLE_RECON, n_follow)]
    )
    error = np.where(np.arange(size) < n_fail, B.LOGIN_FAILED, B.OK)
    ua = _ua(ctx, _pick(rng, agents.BROWSERS))
    return _api_calls(
        ctx, "brute_force", who, time, api, ip, ua, rng, error=error, channel=O.CONSOLE
    )


def credential_stuffing(
    ctx: AttackContext, size: int, k: int, rng: np.random.Generator
) -> AttackResult:
    """One address tries leaked passwords for many users, a few tries each; rarely one works."""
    org = ctx.org
    n_users = int(np.clip(size // 2, 2, 40))
    tries = 1 + rng.multinomial(size - n_users, np.full(n_users, 1 / n_users))
    real = rng.random(n_users) < 0.6
    humans = rng.choice(org.n_humans, size=n_users, replace=n_users > org.n_humans)
    decoys = org.n_humans + rng.integers(0, len(org.auth_names) - org.n_humans, size=n_users)
    users = np.repeat(np.where(real, humans, decoys), tries)
    blocks = network.FOREIGN_RESIDENTIAL + network.HOME_ISPS["us"] + network.HOME_ISPS["eu"]
    ip = _new_ip(rng, blocks)
    anchor = org.principals[int(humans[0])]
    time = _pace(_when(ctx, anchor, rng, working=rng.random() < 0.5), size, 5.0, rng)
    browsers = np.array([_ua(ctx, b) for b in agents.BROWSERS], dtype=np.int64)
    ua = np.repeat(browsers[rng.integers(0, len(browsers), size=n_users)], tries)
    failed = np.ones(size, dtype=bool)
    if rng.random() < 0.3 and real.any():
        failed[np.flatnonzero(users < org.n_humans)[-1]] = False
    name = f"{n_users} users"
    if ctx.cloudtrail_only or rng.random() < 0.35:
        iam = np.array([p.identity_type == "IAMUser" for p in org.principals])
        known = (users < org.n_humans) & iam[np.minimum(users, len(iam) - 1)]
        actor = np.where(known, users, org.hidden().index)
        failed |= ~known  # only a real IAM user can get in
        batch = B.ct_batch(
            time,
            actor=actor,
            api=catalog.CONSOLE_LOGIN,
            region=0,
            ip=ip,
            ua=ua,
            channel=O.CONSOLE,
            error=np.where(failed, B.LOGIN_FAILED, B.OK),
            attack=_code("credential_stuffing"),
        )
        return AttackResult(
            batch, None, _incident(ctx, "credential_stuffing", name, ip, time, "cloudtrail")
        )
    auth = B.auth_batch(
        time,
        user=users,
        kind=O.SSO,
        ip=ip,
        host=0,
        ua=ua,
        failed=failed,
        detail=np.where(failed, np.where(users < org.n_humans, 1, 3), 0),
        attack=_code("credential_stuffing"),
    )
    return AttackResult(None, auth, _incident(ctx, "credential_stuffing", name, ip, time, "auth"))


def new_network_key(
    ctx: AttackContext, size: int, k: int, rng: np.random.Generator
) -> AttackResult:
    """A real user's access key used from a network the organisation has never seen."""
    who = ctx.victim("new_network_key", _with_cli(ctx), k)
    base = _new_ip(rng, network.HOSTING + network.FOREIGN_RESIDENTIAL + network.CLOUD_ATTACKER)
    ip = network.same_subnet(rng, base, 2)[rng.integers(0, 2, size=size)]
    ua = (
        _usual_ua(ctx, who, O.CLI)
        if rng.random() < 0.35
        else _ua(ctx, _pick(rng, agents.GENERIC_ATTACKER))
    )
    t0 = _when(ctx, who, rng, working=rng.random() < 0.5)
    time = _pace(t0, size, float(rng.uniform(30, 180)), rng)
    h = ctx.org.habits[who.index]
    api = rng.choice(h.vocab_ids, size=size, p=h.vocab_p)
    api[0] = catalog.api_id("sts:GetCallerIdentity")
    bucket = np.where(catalog.API_NEEDS_BUCKET[api], (h.buckets or [0])[0], -1)
    return _api_calls(
        ctx,
        "new_network_key",
        who,
        time,
        api,
        ip,
        ua,
        rng,
        error=_denied(rng, size, 0.04),
        bucket=bucket,
        nbytes=np.where(bucket >= 0, rng.lognormal(12, 1.5, size), 0),
    )


# -- privileged and noisy activity ---------------------------------------------------------------
_ADMIN_WRITES = _ids(
    "iam:CreateUser iam:CreateAccessKey iam:AttachUserPolicy iam:PutUserPolicy iam:CreateRole "
    "iam:AttachRolePolicy iam:UpdateAssumeRolePolicy ec2:AuthorizeSecurityGroupIngress "
    "ec2:ModifyInstanceAttribute s3:PutBucketPolicy cloudtrail:StopLogging ec2:DeleteFlowLogs "
    "iam:CreateLoginProfile ec2:ModifySnapshotAttribute kms:PutKeyPolicy "
    "rds:ModifyDBSnapshotAttribute guardduty:UpdateDetector"
)
_ADMIN_READS = _ids(
    "iam:ListUsers iam:GetUser iam:ListRoles ec2:DescribeInstances s3:ListBuckets "
    "ec2:DescribeSecurityGroups iam:ListAttachedUserPolicies"
)


def off_hours_admin(
    ctx: AttackContext, size: int, k: int, rng: np.random.Generator
) -> AttackResult:
    """An administrator's own credentials at 1-5am local time, making administrative changes."""
    pool = ctx.org.humans(("admin",))
    if len(pool) < 3:
        pool += ctx.org.humans(("security",))
    who = ctx.victim("off_hours_admin", pool, k)
    t0 = _when(ctx, who, rng, working=False, local_hour=float(rng.uniform(1.0, 4.5)))
    console = rng.random() < 0.3
    channel = O.CONSOLE if console else O.CLI
    ip, ua = _origin(ctx, who, t0, rng, 0.5, channel)
    time = _pace(t0, size, float(rng.uniform(20, 90)), rng)
    writes = rng.random(size) < 0.6
    api = np.where(writes, _choose(rng, _ADMIN_WRITES, size), _choose(rng, _ADMIN_READS, size))
    if console and who.identity_type == "IAMUser":
        api[0] = catalog.CONSOLE_LOGIN
    extra = [_iam_target(ctx, int(a), rng) for a in api]
    return _api_calls(
        ctx,
        "off_hours_admin",
        who,
        time,
        api,
        ip,
        ua,
        rng,
        channel=channel,
        error=_denied(rng, size, 0.03),
        extra=extra,
    )


_RECON_SERVICES = {
    "iam": 3.0,
    "s3": 3.0,
    "ec2": 3.0,
    "sts": 1.0,
    "lambda": 2.0,
    "secretsmanager": 2.0,
    "ssm": 2.0,
    "rds": 1.5,
    "dynamodb": 1.5,
    "kms": 1.5,
    "cloudtrail": 1.5,
    "guardduty": 1.0,
    "organizations": 1.5,
    "ecs": 1.0,
    "eks": 1.0,
    "ecr": 1.0,
    "sns": 1.0,
    "sqs": 1.0,
    "logs": 1.0,
}


def _recon_apis(rng: np.random.Generator, n: int, avoid: I64 | None = None) -> I64:
    """``n`` reconnaissance reads across services, grouped by service as tools iterate them."""
    reads = catalog.read_apis()
    if avoid is not None:
        reads = [a for a in reads if a.index not in set(avoid.tolist())] or catalog.read_apis()
    w = np.array([_RECON_SERVICES.get(a.service, 0.3) / (1 + 0.1 * a.rank) for a in reads])
    picks = rng.choice(len(reads), size=n, replace=n > len(reads), p=w / w.sum())
    chosen = [reads[int(i)] for i in picks]
    chosen.sort(key=lambda a: (catalog.SERVICES.index(a.service), a.rank))
    return np.array([a.index for a in chosen], dtype=np.int64)


def enumeration_burst(
    ctx: AttackContext, size: int, k: int, rng: np.random.Generator
) -> AttackResult:
    """Hundreds of List/Describe/Get calls across many services within minutes."""
    service_victim = rng.random() < 0.3
    pool = (ctx.org.of_kind(O.LAMBDA) + ctx.org.of_kind(O.CI)) if service_victim else _with_cli(ctx)
    who = ctx.victim("enumeration_burst" + ("/svc" if service_victim else ""), pool, k)
    ip = _new_ip(rng, network.HOSTING + network.CLOUD_ATTACKER)
    ua = (
        _usual_ua(ctx, who, O.CLI)
        if rng.random() < 0.2
        else _ua(ctx, _pick(rng, agents.GENERIC_ATTACKER))
    )
    time = _pace(
        _when(ctx, who, rng, working=rng.random() < 0.4), size, float(rng.uniform(1.5, 5.0)), rng
    )
    api = _recon_apis(rng, size)
    api[0] = catalog.api_id("sts:GetCallerIdentity")
    usual = np.isin(api, ctx.org.habits[who.index].vocab_ids)
    error = _denied(rng, size, np.where(usual, 0.05, 0.35))
    return _api_calls(ctx, "enumeration_burst", who, time, api, ip, ua, rng, error=error, sweep=0.3)


_PRIVESC = _ids(
    "iam:CreateAccessKey iam:AttachUserPolicy iam:PutUserPolicy iam:CreateLoginProfile "
    "iam:UpdateAssumeRolePolicy iam:AttachRolePolicy iam:CreatePolicyVersion "
    "iam:AddUserToGroup iam:UpdateLoginProfile iam:PutRolePolicy"
)
_PRIVESC_RECON = _ids(
    "sts:GetCallerIdentity iam:GetUser iam:ListAttachedUserPolicies "
    "iam:ListUserPolicies iam:ListPolicies iam:GetPolicyVersion iam:ListRoles"
)


def privilege_escalation(
    ctx: AttackContext, size: int, k: int, rng: np.random.Generator
) -> AttackResult:
    """IAM changes that grant more power (new keys, admin policies) by an unusual principal."""
    service_victim = rng.random() < 0.3
    pool = (
        (ctx.org.of_kind(O.LAMBDA) + ctx.org.of_kind(O.CI))
        if service_victim
        else (ctx.org.humans(("developer", "analyst", "data_engineer")))
    )
    who = ctx.victim("privilege_escalation" + ("/svc" if service_victim else ""), pool, k)
    t0 = _when(ctx, who, rng, working=rng.random() < 0.5)
    ip, ua = _origin(ctx, who, t0, rng, 0.5)
    n_recon = max(1, size // 3)
    api = np.concatenate(
        [_choose(rng, _PRIVESC_RECON, n_recon), _choose(rng, _PRIVESC, size - n_recon)]
    )
    error = np.where(np.arange(size) >= n_recon, _denied(rng, size, 0.3), B.OK)
    time = _pace(t0, size, float(rng.uniform(10, 60)), rng)
    extra = [_iam_target(ctx, int(a), rng) for a in api]
    return _api_calls(
        ctx, "privilege_escalation", who, time, api, ip, ua, rng, error=error, extra=extra
    )


def _iam_target(ctx: AttackContext, api: int, rng: np.random.Generator) -> dict[str, Any] | None:
    """Request parameters that make an IAM change name a victim and a powerful policy."""
    name = catalog.APIS[api].name
    admins = ctx.org.humans(("admin",)) or ctx.org.humans()
    target = admins[int(rng.integers(len(admins)))].name
    roles = ctx.org.resources["role"]
    admin_policy = "arn:aws:iam::aws:policy/AdministratorAccess"
    if name in (
        "CreateAccessKey",
        "CreateLoginProfile",
        "UpdateLoginProfile",
        "GetUser",
        "ListAttachedUserPolicies",
        "ListUserPolicies",
    ):
        return {"request": {"userName": target}}
    if name == "AttachUserPolicy":
        return {"request": {"userName": target, "policyArn": admin_policy}}
    if name == "PutUserPolicy":
        return {
            "request": {
                "userName": target,
                "policyName": "ops-maintenance",
                "policyDocument": '{"Version":"2012-10-17","Statement":[{"Effect":'
                '"Allow","Action":"*","Resource":"*"}]}',
            }
        }
    if name in ("AttachRolePolicy", "UpdateAssumeRolePolicy", "PutRolePolicy"):
        role = roles[int(rng.integers(len(roles)))] if roles else "ops-role"
        return {"request": {"roleName": role, "policyArn": admin_policy}}
    if name == "AddUserToGroup":
        return {"request": {"groupName": "Administrators", "userName": target}}
    if name == "CreateUser":
        return {"request": {"userName": _pick(rng, ("svc-backup", "support-tmp", "ci-runner2"))}}
    return None


def offensive_user_agent(
    ctx: AttackContext, size: int, k: int, rng: np.random.Generator
) -> AttackResult:
    """Ordinary reconnaissance calls sent by an offensive toolkit (Pacu, Kali, ScoutSuite, ...)."""
    who = ctx.victim("offensive_user_agent", _with_cli(ctx), k)
    t0 = _when(ctx, who, rng, working=rng.random() < 0.5)
    ip = _usual_ip(ctx, who, t0) if rng.random() < 0.4 else _new_ip(rng, network.HOSTING)
    ua = _ua(ctx, _pick(rng, agents.OFFENSIVE))
    h = ctx.org.habits[who.index]
    own = rng.random(size) < 0.3
    api = np.where(
        own, rng.choice(h.vocab_ids, size=size, p=h.vocab_p), _choose(rng, _CONSOLE_RECON, size)
    )
    api = np.where(
        catalog.API_NEEDS_BUCKET[api] & ~np.isin(api, _CONSOLE_RECON),
        catalog.api_id("s3:ListBuckets"),
        api,
    )
    api[0] = catalog.api_id("sts:GetCallerIdentity")
    time = _pace(t0, size, float(rng.uniform(2, 10)), rng)
    return _api_calls(
        ctx, "offensive_user_agent", who, time, api, ip, ua, rng, error=_denied(rng, size, 0.2)
    )


# -- data theft --------------------------------------------------------------------------------
def _rare_buckets(ctx: AttackContext, who: O.Principal, rng: np.random.Generator) -> I64:
    usual = set(ctx.org.habits[who.index].buckets)
    sensitive = [i for i, b in enumerate(ctx.org.buckets) if b.sensitive and i not in usual]
    if not sensitive:
        sensitive = [i for i in range(len(ctx.org.buckets)) if i not in usual] or [0]
    n = min(len(sensitive), 1 + int(rng.random() < 0.4))
    return rng.choice(np.array(sensitive, dtype=np.int64), size=n, replace=False)


def _exfil_calls(
    size: int, buckets: I64, rng: np.random.Generator, list_share: float
) -> tuple[I64, I64]:
    get, lst = catalog.api_id("s3:GetObject"), catalog.api_id("s3:ListObjects")
    api = np.where(rng.random(size) < list_share, lst, get)
    bucket = buckets[rng.integers(0, len(buckets), size=size)]
    return api, bucket


def s3_exfiltration(
    ctx: AttackContext, size: int, k: int, rng: np.random.Generator
) -> AttackResult:
    """A burst of GetObject/ListObjects on buckets the principal rarely reads."""
    service_victim = rng.random() < 0.2
    # Data engineers read buckets all day; a burst from them is the slow variant's territory.
    pool = (
        ctx.org.of_kind(O.CI)
        if service_victim
        else ctx.org.humans(("developer", "analyst", "admin", "security"))
    )
    who = ctx.victim("s3_exfiltration" + ("/svc" if service_victim else ""), pool, k)
    t0 = _when(ctx, who, rng, working=rng.random() < 0.5)
    ip, ua = _origin(ctx, who, t0, rng, 0.35)
    api, bucket = _exfil_calls(size, _rare_buckets(ctx, who, rng), rng, 0.1)
    api[0] = catalog.api_id("s3:ListBuckets")
    bucket[0] = -1
    time = _pace(t0, size, float(rng.uniform(0.5, 4.0)), rng)
    nbytes = np.where(bucket >= 0, rng.lognormal(14.5, 1.2, size), 0)
    return _api_calls(
        ctx,
        "s3_exfiltration",
        who,
        time,
        api,
        ip,
        ua,
        rng,
        bucket=bucket,
        nbytes=nbytes,
        error=_denied(rng, size, 0.01),
    )


# -- slow and low ------------------------------------------------------------------------------
def _slow_times(
    ctx: AttackContext, who: O.Principal, size: int, mean_gap_s: float, rng: np.random.Generator
) -> I64:
    """``size`` events spread over 3-7 days, inside the victim's working hours each day."""
    span = min(ctx.org.days, int(rng.integers(3, 8)))
    first = int(rng.integers(0, ctx.org.days - span + 1))
    per_day = rng.multinomial(size, np.full(span, 1 / span))
    chunks = [
        _pace(_when(ctx, who, rng, working=True, day=first + d), int(c), mean_gap_s, rng)
        for d, c in enumerate(per_day)
        if c
    ]
    return np.concatenate(chunks)


def slow_enumeration(
    ctx: AttackContext, size: int, k: int, rng: np.random.Generator
) -> AttackResult:
    """Reconnaissance spread over days at normal rates, from the victim's own address and agent."""
    who = ctx.victim("slow_enumeration", _with_cli(ctx), k)
    time = _slow_times(ctx, who, size, float(rng.uniform(300, 1500)), rng)
    ip = np.array([_usual_ip(ctx, who, int(t)) for t in time], dtype=np.uint32)
    api = _recon_apis(rng, size, avoid=ctx.org.habits[who.index].vocab_ids)
    api = api[rng.permutation(size)]
    return _api_calls(
        ctx,
        "slow_enumeration",
        who,
        time,
        api,
        ip,
        _usual_ua(ctx, who, O.CLI),
        rng,
        error=_denied(rng, size, 0.2),
    )


def slow_exfiltration(
    ctx: AttackContext, size: int, k: int, rng: np.random.Generator
) -> AttackResult:
    """A few object reads a day from a rarely-read bucket, over days, looking like normal work."""
    pool = [p for p in _with_cli(ctx) if p.role in ("developer", "data_engineer", "admin")]
    who = ctx.victim("slow_exfiltration", pool or _with_cli(ctx), k)
    time = _slow_times(ctx, who, size, float(rng.uniform(60, 400)), rng)
    ip = np.array([_usual_ip(ctx, who, int(t)) for t in time], dtype=np.uint32)
    api, bucket = _exfil_calls(size, _rare_buckets(ctx, who, rng)[:1], rng, 0.15)
    nbytes = rng.lognormal(13.0, 1.0, size)
    return _api_calls(
        ctx,
        "slow_exfiltration",
        who,
        time,
        api,
        ip,
        _usual_ua(ctx, who, O.CLI),
        rng,
        bucket=bucket,
        nbytes=nbytes,
    )


ATTACKS: dict[str, AttackFn] = {
    "brute_force": brute_force,
    "credential_stuffing": credential_stuffing,
    "new_network_key": new_network_key,
    "off_hours_admin": off_hours_admin,
    "enumeration_burst": enumeration_burst,
    "s3_exfiltration": s3_exfiltration,
    "privilege_escalation": privilege_escalation,
    "offensive_user_agent": offensive_user_agent,
    "slow_enumeration": slow_enumeration,
    "slow_exfiltration": slow_exfiltration,
}
