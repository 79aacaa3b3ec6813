"""Benign activity: how many events each principal makes each hour, and what they look like.

The model is vectorised: an hourly intensity per principal (working hours, weekends, schedules,
on-call nights), one multinomial draw of the event budget over (principal, hour) cells, then
sessions ("bursts") inside each hour that share a channel, an address and an agent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loghunt.synth import batch as B
from loghunt.synth import catalog
from loghunt.synth import org as O
from loghunt.synth.rng import MS_PER_HOUR, epoch_ms

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
MAX_BURSTS = 8
_AWS_INTERNAL_SHARE = 0.2  # console calls CloudTrail attributes to "AWS Internal"


@dataclass(eq=False)
class HabitArrays:
    """Per-principal habits stacked into arrays for vectorised sampling."""

    tz: F64
    burst: F64
    spread: F64
    chan_cum: F64
    ip: npt.NDArray[np.uint32]
    n_ip: I64
    ua: I64
    n_ua: I64
    upgrade: I64
    region_mode: I64
    home_region: I64
    err_p: F64
    deny_share: F64


def habit_arrays(org: O.Organisation) -> HabitArrays:
    """Stack the habits of every principal (addresses and agents padded to fixed slots)."""
    n = len(org.principals)
    ip = np.zeros((n, 4, O.SLOTS), dtype=np.uint32)
    n_ip = np.ones((n, 4), dtype=np.int64)
    ua = np.zeros((n, 4, 4), dtype=np.int64)
    n_ua = np.ones((n, 4), dtype=np.int64)
    for i, h in enumerate(org.habits):
        for loc in range(4):
            ips = h.ips[loc] or h.ips[O.HOME] or h.ips[O.OFFICE] or [0]
            ip[i, loc, : len(ips)] = ips[: O.SLOTS]
            n_ip[i, loc] = min(len(ips), O.SLOTS)
            agents = h.uas[loc] or h.uas[O.SERVICE] or h.uas[O.CONSOLE] or [0]
            ua[i, loc, : len(agents)] = agents[:4]
            n_ua[i, loc] = min(len(agents), 4)
    hs = org.habits
    return HabitArrays(
        tz=np.array([h.tz for h in hs]),
        burst=np.array([h.burst for h in hs]),
        spread=np.array([h.spread for h in hs]),
        chan_cum=np.cumsum(np.array([h.chan_p for h in hs]), axis=1),
        ip=ip,
        n_ip=n_ip,
        ua=ua,
        n_ua=n_ua,
        upgrade=np.array([h.upgrade_day for h in hs], dtype=np.int64),
        region_mode=np.array([h.region_mode for h in hs], dtype=np.int64),
        home_region=np.array([p.home_region for p in org.principals], dtype=np.int64),
        err_p=np.array([h.err_p for h in hs]),
        deny_share=np.array([h.deny_share for h in hs]),
    )


# -- how busy each principal is, hour by hour ---------------------------------------------------
def hourly_weights(org: O.Organisation, rng: np.random.Generator) -> F64:
    """Relative event intensity per (principal, UTC hour); each group sums to its share."""
    hours = np.arange(org.days * 24, dtype=np.float64)
    w = np.zeros((len(org.principals), len(hours)))
    w[: org.n_humans] = _human_weights(org, rng, hours)
    weekday = _weekday(org, np.floor(hours / 24))
    for i, who in enumerate(org.principals):
        if who.kind != O.HUMAN:
            w[i] = _workload_weights(who.kind, org.habits[i], hours, weekday, rng)
    kinds = np.array([p.kind for p in org.principals])
    for kind, share in O.GROUP_SHARE.items():
        rows = kinds == kind
        total = w[rows].sum()
        if total > 0:
            w[rows] *= share / total
    return w


def _weekday(org: O.Organisation, day: F64) -> npt.NDArray[np.bool_]:
    return ((day.astype(np.int64) + org.start.weekday()) % 7) < 5


def _in_window(hour: F64, start: F64, end: F64) -> npt.NDArray[np.bool_]:
    plain = (hour >= start) & (hour < end)
    wrapped = (hour >= start) | (hour < end)
    return np.where(start <= end, plain, wrapped)


def _human_weights(org: O.Organisation, rng: np.random.Generator, hours: F64) -> F64:
    hs = org.habits[: org.n_humans]
    n = len(hs)

    def col(name: str) -> F64:
        return np.array([getattr(h, name) for h in hs], dtype=np.float64)[:, None]

    local = hours[None, :] + col("tz")
    lday = np.floor(local / 24)
    lhour = local - 24 * lday
    on = _in_window(lhour, col("start"), col("end"))
    profile = np.where(on, 1.0, col("evening"))
    day_shift = col("start") < col("end")
    profile = np.where(day_shift & (lhour >= 12) & (lhour < 13), 0.6 * profile, profile)
    day_factor = _day_factors(org, rng, n, col("weekend")[:, 0])
    w = col("activity") * profile * day_factor[np.arange(n)[:, None], lday.astype(np.int64) + 1]
    _add_on_call(org, rng, w, col("tz")[:, 0], col("activity")[:, 0])
    return w


def _day_factors(org: O.Organisation, rng: np.random.Generator, n: int, weekend_p: F64) -> F64:
    """Per person and local day: normal busyness, days off, and whether they work the weekend."""
    days = np.arange(-1, org.days + 1, dtype=np.float64)
    weekday = _weekday(org, days)[None, :]
    busy = rng.gamma(4.0, 0.25, size=(n, len(days)))
    busy[rng.random((n, len(days))) < 0.05] = 0.02
    works_weekend = rng.random((n, len(days))) < weekend_p[:, None]
    weekend = np.where(works_weekend, 0.35 * busy, 0.01)
    return np.where(weekday, busy, weekend)


def _add_on_call(
    org: O.Organisation, rng: np.random.Generator, w: F64, tz: F64, activity: F64
) -> None:
    """Benign night work: an engineer paged at 2am looks much like an intruder at 2am."""
    roles = np.array([p.role for p in org.principals[: org.n_humans]])
    eligible = np.isin(roles, ("admin", "developer", "data_engineer"))
    n_hours = w.shape[1]
    for i in np.flatnonzero(eligible):
        nights = np.flatnonzero(rng.random(org.days) < 0.03)
        for d in nights:
            local_hour = float(rng.uniform(0, 5))
            h = int(d * 24 + local_hour - tz[i])
            if 0 <= h < n_hours:
                w[i, h] += 1.5 * activity[i] * float(rng.uniform(0.5, 1.5))


def _workload_weights(
    kind: int,
    habits: O.Habits,
    hours: F64,
    weekday: npt.NDArray[np.bool_],
    rng: np.random.Generator,
) -> F64:
    hod = hours % 24
    diurnal = 1.0 + 0.6 * np.sin(2 * np.pi * (hod - 9) / 24)
    if kind == O.CI:
        local = (hod + habits.tz) % 24
        pushes = _in_window(local, np.array(habits.start), np.array(habits.end)) & weekday
        bursty = rng.gamma(0.5, 2.0, size=len(hours))
        ci: F64 = (pushes * bursty + 1.5 * (hod == habits.schedule_hour)) * habits.activity
        return ci
    if kind == O.AUDIT:
        scheduled: F64 = (hod == habits.schedule_hour).astype(np.float64)
        return scheduled
    if kind == O.MONITOR:
        return np.ones(len(hours), dtype=np.float64)
    noise = rng.gamma(20.0, 1 / 20.0, size=len(hours))
    weekend = np.where(weekday, 1.0, 0.8)
    return diurnal * noise * weekend * habits.activity


# -- sampling events --------------------------------------------------------------------------
@dataclass(eq=False)
class _Cells:
    """The non-empty (principal, hour) cells and, per event, its cell and burst."""

    actor: I64
    hour: I64
    of_event: I64
    burst: I64
    n_bursts: I64


def _expand(counts: I64, n_hours: int, habits: HabitArrays, rng: np.random.Generator) -> _Cells:
    cells = np.flatnonzero(counts)
    per_cell = counts[cells]
    actor = cells // n_hours
    of_event = np.repeat(np.arange(len(cells)), per_cell)
    n_bursts = np.clip(1 + per_cell // habits.burst[actor], 1, MAX_BURSTS).astype(np.int64)
    burst = np.floor(rng.random(len(of_event)) * n_bursts[of_event]).astype(np.int64)
    return _Cells(
        actor=actor, hour=cells % n_hours, of_event=of_event, burst=burst, n_bursts=n_bursts
    )


def sample_cloudtrail(
    org: O.Organisation, weights: F64, n: int, rng: np.random.Generator
) -> B.CtBatch:
    """``n`` benign CloudTrail events (API calls and console sign-ins), unsorted."""
    if n <= 0:
        return B.concat_ct([])
    habits = habit_arrays(org)
    calls = _api_calls(org, habits, weights, n, rng)
    logins = _console_logins(org, calls, rng)
    if len(logins) > n // 4:
        logins = logins.take(np.sort(rng.choice(len(logins), n // 4, replace=False)))
    keep = np.sort(rng.choice(n, n - len(logins), replace=False))
    out = B.concat_ct([calls.take(keep), logins])
    out.time = clamp_times(org, out.time)
    return out


def clamp_times(org: O.Organisation, time: I64) -> I64:
    """Keep times inside the period (sign-ins and retries are placed before their anchors)."""
    start = epoch_ms(org.start)
    return np.clip(time, start, start + org.days * 24 * MS_PER_HOUR - 1000)


def _api_calls(
    org: O.Organisation, habits: HabitArrays, weights: F64, n: int, rng: np.random.Generator
) -> B.CtBatch:
    n_hours = weights.shape[1]
    counts = rng.multinomial(n, (weights / weights.sum()).ravel())
    cells = _expand(counts, n_hours, habits, rng)
    actor = cells.actor[cells.of_event]
    time_s = _times(cells, habits, actor, rng)
    lday = np.floor((time_s / 3600 + habits.tz[actor]) / 24).astype(np.int64) + 1
    lday = np.clip(lday, 0, org.days + 1)
    bursts = (len(cells.actor), MAX_BURSTS)
    channel = _per_burst_channel(cells, habits, rng, bursts)
    ip = _addresses(org, habits, cells, actor, lday, rng, bursts)
    ua = _agents(org, habits, cells, actor, channel, lday, rng, bursts)
    api, bucket, nbytes = _operations(org, actor, rng)
    region = _regions(org, habits, actor, api, rng)
    error = _errors(habits, actor, api, rng)
    start = epoch_ms(org.start)
    return B.ct_batch(
        start + time_s.astype(np.int64) * 1000,
        actor=actor,
        api=api,
        region=region,
        ip=ip,
        ua=ua,
        channel=channel,
        error=error,
        bucket=bucket,
        nbytes=nbytes,
    )


def _times(cells: _Cells, habits: HabitArrays, actor: I64, rng: np.random.Generator) -> F64:
    """Seconds since the start of the period: clustered around burst starts for people."""
    starts = rng.uniform(0, 3600, size=(len(cells.actor), MAX_BURSTS))
    spread = habits.spread[actor]
    clustered = starts[cells.of_event, cells.burst] + rng.exponential(np.maximum(spread, 1.0))
    uniform = rng.uniform(0, 3600, size=len(actor))
    offset = np.where(spread > 0, clustered % 3600, uniform)
    seconds: F64 = np.floor(cells.hour[cells.of_event] * 3600.0 + offset)
    return seconds


def _per_burst_channel(
    cells: _Cells, habits: HabitArrays, rng: np.random.Generator, shape: tuple[int, int]
) -> I64:
    draws = rng.random(shape)
    cum = habits.chan_cum[cells.actor]
    table: I64 = (draws[:, :, None] >= cum[:, None, :] * 0.999999).sum(axis=2).clip(0, 3)
    return table[cells.of_event, cells.burst].astype(np.int64)


def _addresses(
    org: O.Organisation,
    habits: HabitArrays,
    cells: _Cells,
    actor: I64,
    lday: I64,
    rng: np.random.Generator,
    shape: tuple[int, int],
) -> npt.NDArray[np.uint32]:
    loc = org.loc_day[actor, lday].astype(np.int64)
    per_burst = rng.random(shape)[cells.of_event, cells.burst]
    per_event = rng.random(len(actor))
    draw = np.where(habits.spread[actor] > 0, per_burst, per_event)
    slot = np.floor(draw * habits.n_ip[actor, loc]).astype(np.int64)
    ip = habits.ip[actor, loc, slot]
    mobile = loc == O.MOBILE
    ip[mobile] = org.mobile_ip[actor[mobile], lday[mobile]]
    return ip


def _agents(
    org: O.Organisation,
    habits: HabitArrays,
    cells: _Cells,
    actor: I64,
    channel: I64,
    lday: I64,
    rng: np.random.Generator,
    shape: tuple[int, int],
) -> I64:
    draw = rng.random(shape)[cells.of_event, cells.burst]
    slot = np.floor(draw * habits.n_ua[actor, channel]).astype(np.int64)
    upgraded = (channel == O.CLI) & (habits.n_ua[actor, channel] > 1)
    slot = np.where(upgraded, (lday - 1 >= habits.upgrade[actor]).astype(np.int64), slot)
    ua = habits.ua[actor, channel, slot]
    internal = (channel == O.CONSOLE) & (rng.random(len(actor)) < _AWS_INTERNAL_SHARE)
    ua[internal] = org.ua_index("AWS Internal")
    return ua


def _operations(org: O.Organisation, actor: I64, rng: np.random.Generator) -> tuple[I64, I64, I64]:
    """API, bucket and bytes per event; events of one principal are contiguous in ``actor``."""
    api = np.zeros(len(actor), dtype=np.int64)
    bucket = np.full(len(actor), -1, dtype=np.int64)
    bounds = np.searchsorted(actor, np.arange(len(org.principals) + 1))
    n_buckets = len(org.buckets)
    for i, habits in enumerate(org.habits):
        lo, hi = int(bounds[i]), int(bounds[i + 1])
        if hi == lo or len(habits.vocab_ids) == 0:
            continue
        api[lo:hi] = rng.choice(habits.vocab_ids, size=hi - lo, p=habits.vocab_p)
        usual = np.array(habits.buckets or [0], dtype=np.int64)
        picks = usual[rng.integers(0, len(usual), size=hi - lo)]
        stray = rng.random(hi - lo) < 0.03  # the odd look at another team's bucket
        picks[stray] = rng.integers(0, n_buckets, size=int(stray.sum()))
        bucket[lo:hi] = picks
    bucket[~catalog.API_NEEDS_BUCKET[api]] = -1
    nbytes = np.where(bucket >= 0, rng.lognormal(11.5, 1.6, size=len(actor)), 0).astype(np.int64)
    return api, bucket, nbytes


def _regions(
    org: O.Organisation, habits: HabitArrays, actor: I64, api: I64, rng: np.random.Generator
) -> I64:
    mode = habits.region_mode[actor]
    home = habits.home_region[actor]
    used = rng.integers(0, org.n_regions, size=len(actor))
    anywhere = rng.integers(0, len(O.ALL_REGIONS), size=len(actor))
    away = rng.random(len(actor)) < 0.12
    region = np.where(mode == O.REGION_HOME, np.where(away, used, home), home)
    region = np.where(mode == O.REGION_USED, used, region)
    region = np.where(mode == O.REGION_ANY, anywhere, region)
    return np.where(catalog.API_IS_GLOBAL[api], 0, region).astype(np.int64)


def _errors(habits: HabitArrays, actor: I64, api: I64, rng: np.random.Generator) -> I64:
    p = habits.err_p[actor] * np.where(catalog.API_READ_ONLY[api], 1.0, 3.0)
    failed = rng.random(len(actor)) < p
    kind = np.where(
        rng.random(len(actor)) < habits.deny_share[actor],
        B.DENIED,
        np.where(rng.random(len(actor)) < 0.5, B.THROTTLED, B.NOT_FOUND),
    )
    return np.where(failed, kind, B.OK).astype(np.int64)


def _console_logins(org: O.Organisation, calls: B.CtBatch, rng: np.random.Generator) -> B.CtBatch:
    """A ConsoleLogin before each IAM user's first console call of the day, some after typos."""
    iam = np.array([p.kind == O.HUMAN and p.identity_type == "IAMUser" for p in org.principals])
    idx = np.flatnonzero((calls.channel == O.CONSOLE) & iam[calls.actor])
    if len(idx) == 0:
        return B.concat_ct([])
    day = calls.time[idx] // (24 * MS_PER_HOUR)
    key = calls.actor[idx] * (org.days + 10) + day
    order = np.lexsort((calls.time[idx], key))
    _, first = np.unique(key[order], return_index=True)
    src = calls.take(idx[order][first])
    n = len(src)
    login_time = src.time - rng.integers(20, 400, size=n) * 1000
    browsers = np.array([org.habits[a].uas[O.CONSOLE][0] for a in src.actor], dtype=np.int64)
    ok = B.ct_batch(
        login_time,
        actor=src.actor,
        api=catalog.CONSOLE_LOGIN,
        region=0,
        ip=src.ip,
        ua=browsers,
        channel=O.CONSOLE,
    )
    typo = np.flatnonzero(rng.random(n) < 0.04)
    fails = B.ct_batch(
        login_time[typo] - rng.integers(8, 60, size=len(typo)) * 1000,
        actor=src.actor[typo],
        api=catalog.CONSOLE_LOGIN,
        region=0,
        ip=src.ip[typo],
        ua=browsers[typo],
        channel=O.CONSOLE,
        error=B.LOGIN_FAILED,
    )
    return B.concat_ct([ok, fails])


# -- authentication ------------------------------------------------------------------------------
AUTH_DETAILS = (
    "",
    "Invalid credentials",
    "MFA challenge failed",
    "Unknown user",
    "Authentication failure",
    "Account locked",
)


def sample_auth(org: O.Organisation, weights: F64, n: int, rng: np.random.Generator) -> B.AuthBatch:
    """``n`` benign SSO / VPN / SSH logons by people, about 3% failed attempts among them."""
    if n <= 0:
        return B.concat_auth([])
    n_fail = round(0.03 * n)
    human = weights[: org.n_humans] ** 0.7
    counts = rng.multinomial(n - n_fail, (human / human.sum()).ravel())
    cells = np.flatnonzero(counts)
    user = np.repeat(cells // weights.shape[1], counts[cells])
    hour = np.repeat(cells % weights.shape[1], counts[cells])
    time = epoch_ms(org.start) + hour * MS_PER_HOUR + rng.integers(0, MS_PER_HOUR, len(user))
    time -= time % 1000
    tz = np.array([h.tz for h in org.habits[: org.n_humans]])
    lday = np.clip(np.floor((hour + tz[user]) / 24).astype(np.int64) + 1, 0, org.days + 1)
    loc = org.loc_day[user, lday].astype(np.int64)
    kind = _auth_kinds(org, user, loc, rng)
    ok = _auth_fields(org, time, user, kind, loc, lday, rng)
    out = B.concat_auth([ok, _auth_failures(ok, n_fail, rng)])
    out.time = clamp_times(org, out.time)
    return out


def _auth_kinds(org: O.Organisation, user: I64, loc: I64, rng: np.random.Generator) -> I64:
    cum = np.cumsum(np.array([a.kind_p for a in org.auth_habits]), axis=1)[user]
    kind = (rng.random(len(user))[:, None] >= cum * 0.999999).sum(axis=1).clip(0, 2)
    # Nobody starts the VPN client from the office LAN.
    return np.where((kind == O.VPN_LOGON) & (loc == O.OFFICE), O.SSO, kind).astype(np.int64)


def _auth_fields(
    org: O.Organisation,
    time: I64,
    user: I64,
    kind: I64,
    loc: I64,
    lday: I64,
    rng: np.random.Generator,
) -> B.AuthBatch:
    ah = org.auth_habits
    habits = habit_arrays(org)
    public = habits.ip[user, loc, 0]
    mobile = loc == O.MOBILE
    public[mobile] = org.mobile_ip[user[mobile], lday[mobile]]
    home = np.where(mobile, public, habits.ip[user, O.HOME, 0])
    lan = np.array([a.lan_ip for a in ah], dtype=np.uint32)[user]
    vpn = np.array([a.vpn_ip for a in ah], dtype=np.uint32)[user]
    internal_ip = np.where(loc == O.OFFICE, lan, vpn)
    ip = np.select([kind == O.SSO, kind == O.VPN_LOGON], [public, home], internal_ip)
    ssh_host = np.array(
        [_pick_host(a.ssh_hosts, rng) for a in (ah[u] for u in user)], dtype=np.int64
    )
    vpn_host = np.array([a.vpn_host for a in ah], dtype=np.int64)[user]
    host = np.select([kind == O.SSO, kind == O.VPN_LOGON], [0, vpn_host], ssh_host)
    ua_table = np.array([[a.browser, a.vpn_client, a.ssh_client] for a in ah], dtype=np.int64)
    return B.auth_batch(
        time, user=user, kind=kind, ip=ip.astype(np.uint32), host=host, ua=ua_table[user, kind]
    )


def _pick_host(hosts: list[int], rng: np.random.Generator) -> int:
    return hosts[int(rng.integers(len(hosts)))] if hosts else 0


def _auth_failures(ok: B.AuthBatch, n_fail: int, rng: np.random.Generator) -> B.AuthBatch:
    """Mistyped passwords and missed MFA prompts, each shortly before a successful retry."""
    if n_fail == 0 or len(ok) == 0:
        return B.concat_auth([])
    pick = rng.choice(len(ok), size=min(n_fail, len(ok)), replace=False)
    fails = ok.take(np.sort(pick))
    fails.time = fails.time - rng.integers(8, 90, size=len(fails)) * 1000
    fails.failed = np.ones(len(fails), dtype=bool)
    fails.detail = np.where(fails.kind == O.SSH, 4, rng.integers(1, 3, size=len(fails)))
    return fails
