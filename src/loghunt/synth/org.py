"""The synthetic organisation: accounts, regions, people, workloads and their habits.

Everything here is drawn once per seed. The event generators only sample from these habits, so
the same person keeps the same hours, addresses, agents and favourite APIs for the whole period
(with the small drifts real people show: travel, a new laptop, an aws-cli upgrade).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import numpy.typing as npt

from loghunt.synth import agents, catalog, network
from loghunt.synth.rng import HEX, UPPER_DIGITS, random_token, stream

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ROLES = ("developer", "data_engineer", "admin", "analyst", "security")
_ROLE_SHARE = (0.42, 0.15, 0.10, 0.18, 0.15)
_PERMISSION_SETS = {
    "developer": "DeveloperAccess",
    "data_engineer": "DataEngineerAccess",
    "admin": "AdministratorAccess",
    "analyst": "BillingAnalyst",
    "security": "SecurityAudit",
}

# Principal kinds, also the groups whose share of traffic is fixed (see GROUP_SHARE).
HUMAN, CI, LAMBDA, MONITOR, AUDIT, AUTOSCALING, AWS_SERVICE, HIDDEN = range(8)
GROUP_SHARE = {
    HUMAN: 0.60,
    CI: 0.08,
    LAMBDA: 0.15,
    MONITOR: 0.09,
    AUDIT: 0.02,
    AUTOSCALING: 0.02,
    AWS_SERVICE: 0.04,
}
# Where a person works from on a given day; how they call AWS.
OFFICE, HOME, VPN, MOBILE = range(4)
CONSOLE, CLI, SDK, SERVICE = range(4)
# How a principal picks its region: mostly home, always home, any used region, any region.
REGION_HOME, REGION_FIXED, REGION_USED, REGION_ANY = range(4)
# Authentication kinds (OCSF 3002 events).
SSO, VPN_LOGON, SSH = range(3)

ALL_REGIONS = (
    "us-east-1",
    "eu-west-1",
    "us-west-2",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
    "sa-east-1",
    "ca-central-1",
)
_TIMEZONES = (-5.0, -8.0, 0.0, 1.0, 5.5)
_TZ_SHARE = (0.55, 0.15, 0.10, 0.10, 0.10)
_TZ_ISP = {-5.0: "us", -8.0: "us", 0.0: "eu", 1.0: "eu", 5.5: "in"}
_OFFICES = {-5.0: network.pack(198, 51, 100, 0), 1.0: network.pack(203, 0, 113, 0)}
_VPN_EGRESS = network.pack(192, 0, 2, 0)
_FIRST = _words(
    "alice bob carol dave erin frank grace heidi ivan judy mallory niaj olivia peggy "
    "rupert sybil trent victor walter yara zoe liam noah emma ava mia lucas ethan sofia "
    "mateo chloe arjun priya rahul ananya wei jing hiro yuki lena jonas marta pierre "
    "camille luca giulia omar fatima kofi amara diego lucia nikolai irina sean aoife"
)
_LAST = _words(
    "smith jones garcia miller davis wilson taylor brown moore clark lewis walker hall "
    "young king wright scott green baker adams nelson hill campbell mitchell roberts "
    "carter phillips evans turner parker collins edwards stewart morris murphy cook rogers "
    "patel sharma kumar chen wang tanaka sato muller schmidt rossi bianchi dubois martin "
    "novak kowalski okafor mensah silva santos ivanov petrova kelly byrne"
)
_LAMBDAS = _words(
    "order-processor invoice-generator thumbnail-resizer user-sync metrics-exporter "
    "slack-notifier etl-trigger fraud-scorer report-builder session-cleaner "
    "webhook-handler audit-forwarder image-tagger price-updater email-sender "
    "cache-warmer token-rotator search-indexer backup-verifier geo-enricher"
)
_DECOYS = _words(
    "admin administrator test root guest support info backup oracle user1 jenkins "
    "deploy ubuntu ec2-user postgres ftp operator demo"
)
_BUCKETS = (
    ("app-assets", False),
    ("web-logs", False),
    ("data-lake-raw", False),
    ("data-lake-curated", True),
    ("ci-artifacts", False),
    ("terraform-state", True),
    ("ml-training-data", False),
    ("finance-reports", True),
    ("hr-payroll-exports", True),
    ("customer-exports", True),
    ("db-backups", True),
    ("cloudtrail-logs", True),
)
_ROLE_BUCKETS = {
    "developer": ("app-assets", "web-logs", "ci-artifacts"),
    "data_engineer": ("data-lake-raw", "data-lake-curated", "ml-training-data", "web-logs"),
    "admin": ("terraform-state", "db-backups", "cloudtrail-logs", "app-assets"),
    "analyst": ("finance-reports", "data-lake-curated"),
    "security": ("cloudtrail-logs", "web-logs"),
    "ci": ("ci-artifacts", "terraform-state", "app-assets"),
}
_SSH_HOSTS = {
    "developer": (
        "bastion-1.prod.acme.internal",
        "build-01.ci.acme.internal",
        "app-dev-01.dev.acme.internal",
        "app-dev-02.dev.acme.internal",
    ),
    "data_engineer": (
        "etl-worker-01.data.acme.internal",
        "etl-worker-02.data.acme.internal",
        "analytics-01.data.acme.internal",
        "bastion-1.prod.acme.internal",
    ),
    "admin": (
        "bastion-1.prod.acme.internal",
        "bastion-2.prod.acme.internal",
        "db-admin-01.prod.acme.internal",
        "k8s-admin-01.prod.acme.internal",
    ),
    "security": ("bastion-1.prod.acme.internal", "siem-01.sec.acme.internal"),
    "analyst": (),
}
IDP_HOST = "acme.okta.com"
BASTION = "bastion-1.prod.acme.internal"
VPN_HOSTS = ("vpn-us.acme.com", "vpn-eu.acme.com")
SLOTS = 32  # most addresses or agents one principal chooses among in one place


@dataclass(frozen=True, slots=True)
class Principal:
    """Who makes calls: a person, a workload role, or an AWS service, with its identifiers.

    ``identity_type`` is the CloudTrail ``userIdentity.type``; ``arn``, ``principal_id``,
    ``access_key`` and the ``role_*`` fields are what records carry for it.

    Examples
    --------
    >>> who = make_org(seed=0, n_users=10, days=2).principals[0]
    >>> who.kind == HUMAN and who.account.isdigit()
    True
    """

    index: int
    kind: int
    name: str
    identity_type: str
    role: str
    account: str
    arn: str = ""
    principal_id: str = ""
    access_key: str = ""
    role_name: str = ""
    role_arn: str = ""
    role_id: str = ""
    invoked_by: str = ""
    home_region: int = 0
    mfa: bool = False

    @property
    def display_name(self) -> str:
        """The name the loghunt normaliser gives this principal (``actor.user.name``)."""
        if self.identity_type == "AWSService":
            return self.invoked_by
        return self.role_name if self.identity_type == "AssumedRole" else self.name


@dataclass(frozen=True, slots=True)
class Bucket:
    """An S3 bucket; ``sensitive`` ones are what exfiltration goes after."""

    name: str
    account: str
    sensitive: bool


@dataclass(eq=False)
class Habits:
    """One principal's behaviour: when, from where, with what, and which APIs."""

    tz: float = 0.0
    start: float = 0.0
    end: float = 24.0
    activity: float = 1.0
    weekend: float = 1.0
    evening: float = 0.0
    chan_p: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)
    burst: float = 1e9
    spread: float = 0.0
    region_mode: int = REGION_FIXED
    err_p: float = 0.003
    deny_share: float = 0.6
    office_worker: bool = False
    ips: list[list[int]] = field(default_factory=lambda: [[], [], [], []])
    uas: list[list[int]] = field(default_factory=lambda: [[], [], [], []])
    upgrade_day: int = 1_000_000
    vocab_ids: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    vocab_p: F64 = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    buckets: list[int] = field(default_factory=list)
    schedule_hour: int = -1


@dataclass(eq=False)
class Organisation:
    """The whole synthetic organisation, built by :func:`make_org`.

    Attributes
    ----------
    principals : list of Principal
        People first (``n_humans`` of them), then workloads and AWS services; the last entry
        is the stand-in for unknown sign-in names.
    habits : list of Habits
        Behaviour of each principal, same order.
    accounts : tuple of str
        AWS account ids, the main one first.
    user_agents, buckets, auth_names, hosts : list
        Lookup tables that event batches index into.
    loc_day : numpy.ndarray
        Where each principal works from on each local day (office, home, VPN, mobile).

    Examples
    --------
    >>> org = make_org(seed=0, n_users=20, days=7)
    >>> len(org.humans()), org.principals[0].identity_type in ("IAMUser", "AssumedRole")
    (20, True)
    """

    seed: int
    days: int
    start: date
    accounts: tuple[str, ...]
    n_regions: int
    principals: list[Principal]
    habits: list[Habits]
    n_humans: int
    user_agents: list[str]
    buckets: list[Bucket]
    auth_names: list[str]
    hosts: list[str]
    resources: dict[str, tuple[str, ...]]
    loc_day: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros((0, 0), np.int8))
    mobile_ip: U32 = field(default_factory=lambda: np.zeros((0, 0), np.uint32))
    auth_habits: list[AuthHabits] = field(default_factory=list)

    @property
    def regions(self) -> tuple[str, ...]:
        """Regions the organisation uses, the dominant one first."""
        return ALL_REGIONS[: self.n_regions]

    def ua_index(self, agent: str) -> int:
        """Index of ``agent`` in :attr:`user_agents`, adding it when new."""
        try:
            return self.user_agents.index(agent)
        except ValueError:
            self.user_agents.append(agent)
            return len(self.user_agents) - 1

    def of_kind(self, kind: int) -> list[Principal]:
        """All principals of one kind."""
        return [p for p in self.principals if p.kind == kind]

    def humans(self, roles: tuple[str, ...] = ROLES, iam_only: bool = False) -> list[Principal]:
        """People with one of ``roles``; ``iam_only`` keeps IAM users (who own access keys)."""
        return [
            p
            for p in self.principals[: self.n_humans]
            if p.role in roles and (not iam_only or p.identity_type == "IAMUser")
        ]

    def hidden(self) -> Principal:
        """The stand-in CloudTrail uses for sign-in attempts with an unknown user name."""
        return self.principals[-1]


@dataclass
class AuthHabits:
    """How a person authenticates (SSO, VPN, SSH) and from which machines."""

    kind_p: tuple[float, float, float]
    ssh_hosts: list[int]
    vpn_host: int
    browser: int
    vpn_client: int
    ssh_client: int
    lan_ip: int
    vpn_ip: int


def make_org(
    seed: int,
    n_users: int,
    days: int,
    *,
    n_accounts: int = 2,
    n_regions: int = 3,
    start: date = date(2026, 3, 2),
) -> Organisation:
    """Draw the organisation for ``seed``: ``n_users`` people plus the workloads they run."""
    rng = stream(seed, "org")
    accounts = tuple(str(rng.integers(10**11, 10**12)) for _ in range(max(1, n_accounts)))
    org = Organisation(
        seed=seed,
        days=days,
        start=start,
        accounts=accounts,
        n_regions=max(1, min(n_regions, 3)),
        principals=[],
        habits=[],
        n_humans=0,
        user_agents=[],
        buckets=_make_buckets(accounts),
        auth_names=[],
        hosts=[IDP_HOST, *VPN_HOSTS, BASTION],
        resources={},
    )
    _add_humans(org, rng, n_users)
    _add_workloads(org, rng, n_users)
    org.principals.append(
        Principal(
            index=len(org.principals),
            kind=HIDDEN,
            identity_type="IAMUser",
            name="HIDDEN_DUE_TO_SECURITY_REASONS",
            role="",
            account=accounts[0],
        )
    )
    org.habits.append(Habits(activity=0.0))
    _add_locations(org, rng)
    _add_auth(org, rng)
    org.resources = _make_resources(org, rng)
    return org


def _make_buckets(accounts: tuple[str, ...]) -> list[Bucket]:
    out = [Bucket(f"acme-prod-{name}", accounts[0], sensitive) for name, sensitive in _BUCKETS]
    if len(accounts) > 1:
        out += [
            Bucket(f"acme-dev-{name}", accounts[1], False)
            for name in ("app-assets", "ci-artifacts", "data-lake-raw")
        ]
    return out


def _bucket_ids(org: Organisation, names: tuple[str, ...]) -> list[int]:
    return [i for i, b in enumerate(org.buckets) if b.name.split("-", 2)[2] in names]


def _user_names(rng: np.random.Generator, n: int) -> list[str]:
    combos = [f"{f}.{last}" for f in _FIRST for last in _LAST]
    picks = rng.choice(len(combos), size=min(n + 40, len(combos)), replace=False)
    return [combos[i] for i in picks]


def _roles(rng: np.random.Generator, n: int) -> list[str]:
    counts = np.maximum(1, np.floor(np.array(_ROLE_SHARE) * n)).astype(int)
    counts[0] += n - counts.sum()
    roles = [r for r, c in zip(ROLES, counts, strict=True) for _ in range(max(int(c), 0))]
    return [roles[i] for i in rng.permutation(len(roles))][:n]


def _add_humans(org: Organisation, rng: np.random.Generator, n_users: int) -> None:
    names = _user_names(rng, n_users)
    org.auth_names = names[:n_users]
    decoys = [n for n in names[n_users:] if n not in org.auth_names]
    roles = _roles(rng, n_users)
    sso_roles: dict[tuple[str, str], tuple[str, str]] = {}
    for i, (name, role) in enumerate(zip(names[:n_users], roles, strict=True)):
        account = org.accounts[0] if rng.random() < 0.75 else org.accounts[-1]
        sso = rng.random() < 0.25
        key = (role, account)
        if sso and key not in sso_roles:
            sso_roles[key] = (
                f"AWSReservedSSO_{_PERMISSION_SETS[role]}_{random_token(rng, 16, HEX)}",
                "AROA" + random_token(rng, 17, UPPER_DIGITS),
            )
        org.principals.append(
            _human(i, name, role, account, sso_roles.get(key) if sso else None, rng)
        )
        org.habits.append(_human_habits(org, org.principals[-1], rng))
    org.n_humans = n_users
    org.auth_names += [*_DECOYS, *decoys]


def _human(
    index: int,
    name: str,
    role: str,
    account: str,
    sso: tuple[str, str] | None,
    rng: np.random.Generator,
) -> Principal:
    mfa = role in ("admin", "security") or rng.random() < 0.8
    if sso is None:
        return Principal(
            index=index,
            kind=HUMAN,
            name=name,
            identity_type="IAMUser",
            role=role,
            account=account,
            arn=f"arn:aws:iam::{account}:user/{name}",
            principal_id="AIDA" + random_token(rng, 17, UPPER_DIGITS),
            access_key="AKIA" + random_token(rng, 16, UPPER_DIGITS),
            mfa=mfa,
        )
    role_name, role_id = sso
    return Principal(
        index=index,
        kind=HUMAN,
        name=name,
        identity_type="AssumedRole",
        role=role,
        account=account,
        arn=f"arn:aws:sts::{account}:assumed-role/{role_name}/{name}",
        principal_id=f"{role_id}:{name}",
        role_name=role_name,
        role_id=role_id,
        role_arn=(f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/{role_name}"),
        mfa=True,
    )


_CHANNELS = {
    "developer": (0.35, 0.5, 0.15),
    "data_engineer": (0.25, 0.35, 0.4),
    "admin": (0.5, 0.45, 0.05),
    "analyst": (0.9, 0.1, 0.0),
    "security": (0.6, 0.35, 0.05),
}
_ACTIVITY = {"developer": 1.0, "data_engineer": 1.1, "admin": 1.2, "analyst": 0.45, "security": 0.8}


def _human_habits(org: Organisation, who: Principal, rng: np.random.Generator) -> Habits:
    tz = float(rng.choice(_TIMEZONES, p=_TZ_SHARE))
    night = (who.role == "security" and rng.random() < 0.35) or (
        who.role == "admin" and rng.random() < 0.1
    )
    start = float(rng.uniform(21, 23)) if night else float(np.clip(rng.normal(8.7, 0.9), 6, 11))
    length = float(np.clip(rng.normal(8.8, 0.7), 7, 10.5))
    console, cli, sdk = _CHANNELS[who.role]
    if who.role == "analyst" and rng.random() < 0.7:
        cli = 0.0
    habits = Habits(
        tz=tz,
        start=start,
        end=(start + length) % 24,
        activity=_ACTIVITY[who.role] * float(rng.lognormal(0.0, 0.6)),
        weekend=0.3 if night else float(rng.uniform(0.03, 0.2)),
        evening=float(rng.uniform(0.005, 0.05)),
        chan_p=_norm4(console, cli, sdk, 0.0),
        burst=12.0,
        spread=150.0,
        region_mode=REGION_HOME,
        err_p=0.012,
        deny_share=0.6,
        office_worker=tz in _OFFICES and rng.random() < 0.65,
    )
    _human_addresses(habits, rng, tz)
    _human_agents(org, habits, who, rng)
    habits.vocab_ids, habits.vocab_p = role_vocab(who.role, rng)
    role_buckets = _bucket_ids(org, _ROLE_BUCKETS[who.role])
    keep = rng.random(len(role_buckets)) < 0.7
    habits.buckets = [b for b, k in zip(role_buckets, keep, strict=True) if k] or role_buckets[:1]
    return habits


def _norm4(a: float, b: float, c: float, d: float) -> tuple[float, float, float, float]:
    total = a + b + c + d
    return (a / total, b / total, c / total, d / total)


def _human_addresses(habits: Habits, rng: np.random.Generator, tz: float) -> None:
    office = _OFFICES.get(tz, _OFFICES[-5.0])
    habits.ips[OFFICE] = [office | int(h) for h in rng.integers(10, 14, size=2)]
    isp = network.HOME_ISPS[_TZ_ISP[tz]]
    block = isp[int(rng.integers(len(isp)))]
    home = network.sample(rng, (block,), 1 + int(rng.random() < 0.4))
    habits.ips[HOME] = [int(x) for x in home]
    habits.ips[VPN] = [_VPN_EGRESS | h for h in (10, 11, 12)]


def _human_agents(
    org: Organisation, habits: Habits, who: Principal, rng: np.random.Generator
) -> None:
    browsers = rng.choice(len(agents.BROWSERS), size=2, replace=False)
    habits.uas[CONSOLE] = [org.ua_index(agents.BROWSERS[int(browsers[0])])]
    if rng.random() < 0.25:
        habits.uas[CONSOLE].append(org.ua_index(agents.BROWSERS[int(browsers[1])]))
    cli = agents.aws_cli(rng)
    habits.uas[CLI] = [org.ua_index(cli)]
    if agents.next_cli_version(cli) and rng.random() < 0.35:
        habits.uas[CLI].append(org.ua_index(agents.upgraded_cli(cli)))
        habits.upgrade_day = int(rng.integers(1, max(2, org.days)))
    sdk = (
        agents.TERRAFORM[int(rng.integers(2))]
        if (who.role in ("developer", "admin") and rng.random() < 0.5)
        else agents.boto3(rng)
    )
    habits.uas[SDK] = [org.ua_index(sdk)]


def role_vocab(role: str, rng: np.random.Generator | None) -> tuple[I64, F64]:
    """API ids and probabilities for ``role``; with ``rng``, personalised (favourite services)."""
    ids: list[int] = []
    weights: list[float] = []
    write_factor = catalog.ROLE_WRITE_FACTOR[role]
    data_weight = catalog.ROLE_DATA_WEIGHT[role]
    for service, service_weight in catalog.ROLE_SERVICES[role].items():
        mult = 1.0
        if rng is not None:
            mult = float(rng.gamma(1.2, 1 / 1.2))
            if service_weight < 1.5 and rng.random() < 0.25:
                continue
        for api in catalog.service_of(service):
            kind_weight = (
                data_weight if api.data_event else (1.0 if api.read_only else write_factor)
            )
            ids.append(api.index)
            weights.append(service_weight * mult * kind_weight / (api.rank + 1) ** 1.2)
    w = np.array(weights)
    if rng is not None:
        w *= rng.lognormal(0.0, 0.4, size=len(w))
    return np.array(ids, dtype=np.int64), w / w.sum()


def _zipf_vocab(keys: str, rng: np.random.Generator, exponent: float) -> tuple[I64, F64]:
    ids = catalog.api_ids(keys)
    w = 1.0 / np.arange(1, len(ids) + 1) ** exponent * rng.lognormal(0.0, 0.3, size=len(ids))
    return ids, w / w.sum()


def _add_workloads(org: Organisation, rng: np.random.Generator, n_users: int) -> None:
    for account in org.accounts:
        _add_ci(org, rng, account)
        _add_monitor(org, rng, account)
        _add_audit(org, rng, account)
    names = list(_LAMBDAS)
    n_lambdas = int(np.clip(n_users // 12, 3, 40))
    while len(names) < n_lambdas:
        names.append(f"{_LAMBDAS[len(names) % 20]}-{len(names) // 20 + 1}")
    for name in names[:n_lambdas]:
        account = org.accounts[0] if rng.random() < 0.8 else org.accounts[-1]
        _add_lambda(org, rng, account, name)
    _add_autoscaling(org, rng)
    for host, keys in catalog.AWS_SERVICE_APIS.items():
        _add_aws_service(org, rng, host, keys)


def _role_principal(
    org: Organisation,
    rng: np.random.Generator,
    kind: int,
    account: str,
    role_name: str,
    session: str,
    role_path: str = "",
) -> Principal:
    role_id = "AROA" + random_token(rng, 17, UPPER_DIGITS)
    return Principal(
        index=len(org.principals),
        kind=kind,
        name=session,
        identity_type="AssumedRole",
        role=role_name,
        account=account,
        arn=f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}",
        principal_id=f"{role_id}:{session}",
        role_name=role_name,
        role_arn=f"arn:aws:iam::{account}:role/{role_path}{role_name}",
        role_id=role_id,
    )


def _push(org: Organisation, who: Principal, habits: Habits) -> None:
    org.principals.append(who)
    org.habits.append(habits)


def _add_ci(org: Organisation, rng: np.random.Generator, account: str) -> None:
    who = _role_principal(org, rng, CI, account, "github-actions-deploy", "GitHubActions")
    ids, p = role_vocab("ci", rng)
    habits = Habits(
        tz=-5.0,
        start=8.0,
        end=19.0,
        activity=1.0,
        burst=40.0,
        spread=240.0,
        region_mode=REGION_HOME,
        err_p=0.01,
        vocab_ids=ids,
        vocab_p=p,
        buckets=_bucket_ids(org, _ROLE_BUCKETS["ci"]),
        schedule_hour=2,
    )
    habits.ips[OFFICE] = [int(x) for x in network.sample(rng, network.GITHUB_RUNNERS, SLOTS)]
    habits.uas[SERVICE] = [org.ua_index(a) for a in agents.CI_AGENTS]
    _push(org, who, habits)


def _add_monitor(org: Organisation, rng: np.random.Generator, account: str) -> None:
    who = _role_principal(
        org, rng, MONITOR, account, "DatadogIntegrationRole", "DatadogAWSIntegration"
    )
    ids, p = _zipf_vocab(catalog.MONITOR_APIS, rng, 0.6)
    habits = Habits(region_mode=REGION_USED, err_p=0.01, deny_share=0.9, vocab_ids=ids, vocab_p=p)
    habits.ips[OFFICE] = [int(x) for x in network.sample(rng, network.MONITOR_VENDOR, 6)]
    habits.uas[SERVICE] = [org.ua_index(agents.MONITOR_AGENT)]
    _push(org, who, habits)


def _add_audit(org: Organisation, rng: np.random.Generator, account: str) -> None:
    who = _role_principal(org, rng, AUDIT, account, "SecurityAuditRole", "prowler-scan")
    reads = catalog.read_apis()
    ids = np.array([a.index for a in reads], dtype=np.int64)
    habits = Habits(
        region_mode=REGION_ANY,
        err_p=0.06,
        deny_share=0.95,
        vocab_ids=ids,
        vocab_p=np.full(len(ids), 1.0 / len(ids)),
        burst=1e9,
        spread=400.0,
        schedule_hour=3,
    )
    habits.ips[OFFICE] = [int(x) for x in network.sample(rng, network.AWS, 2)]
    habits.uas[SERVICE] = [org.ua_index(agents.AUDIT_AGENT)]
    _push(org, who, habits)


def _add_lambda(org: Organisation, rng: np.random.Generator, account: str, name: str) -> None:
    who = _role_principal(org, rng, LAMBDA, account, f"{name}-role", name)
    pool = catalog.LAMBDA_POOL.split()
    picks = rng.choice(len(pool), size=int(rng.integers(3, 7)), replace=False)
    ids, p = _zipf_vocab(" ".join(pool[int(i)] for i in picks), rng, 1.0)
    region = 0 if rng.random() < 0.8 or org.n_regions == 1 else int(rng.integers(1, org.n_regions))
    habits = Habits(
        activity=float(rng.lognormal(0, 0.8)),
        region_mode=REGION_FIXED,
        err_p=0.002,
        vocab_ids=ids,
        vocab_p=p,
    )
    buckets = [i for i, b in enumerate(org.buckets) if b.account == account]
    habits.buckets = [int(b) for b in rng.choice(buckets, size=2, replace=False)]
    habits.ips[OFFICE] = [int(x) for x in network.sample(rng, network.AWS, SLOTS)]
    habits.uas[SERVICE] = [org.ua_index(agents.LAMBDA_AGENTS[int(rng.integers(3))])]
    _push(org, _with_region(who, region), habits)


def _with_region(who: Principal, region: int) -> Principal:
    return replace(who, home_region=region)


def _add_autoscaling(org: Organisation, rng: np.random.Generator) -> None:
    host = "autoscaling.amazonaws.com"
    who = _role_principal(
        org,
        rng,
        AUTOSCALING,
        org.accounts[0],
        "AWSServiceRoleForAutoScaling",
        "AutoScaling",
        f"aws-service-role/{host}/",
    )
    ids, p = _zipf_vocab(catalog.AUTOSCALING_APIS, rng, 1.0)
    habits = Habits(region_mode=REGION_HOME, vocab_ids=ids, vocab_p=p, err_p=0.002)
    habits.ips[OFFICE] = [0]
    habits.uas[SERVICE] = [org.ua_index(host)]
    _push(org, replace(who, invoked_by=host), habits)


def _add_aws_service(org: Organisation, rng: np.random.Generator, host: str, keys: str) -> None:
    who = Principal(
        index=len(org.principals),
        kind=AWS_SERVICE,
        name=host,
        identity_type="AWSService",
        role=host,
        account=org.accounts[0],
        invoked_by=host,
    )
    ids, p = _zipf_vocab(keys, rng, 1.0)
    habits = Habits(region_mode=REGION_HOME, vocab_ids=ids, vocab_p=p, err_p=0.001)
    habits.ips[OFFICE] = [0]
    habits.uas[SERVICE] = [org.ua_index(host)]
    _push(org, who, habits)


_OFFICE_DAY = (0.62, 0.28, 0.07, 0.03)
_REMOTE_DAY = (0.0, 0.72, 0.22, 0.06)
_WEEKEND_DAY = (0.0, 0.80, 0.12, 0.08)


def _add_locations(org: Organisation, rng: np.random.Generator) -> None:
    """Where each person works from on each local day (index 0 is the day before the start)."""
    n_days = org.days + 2
    loc = np.zeros((len(org.principals), n_days), dtype=np.int8)
    weekday = (np.arange(-1, org.days + 1) + org.start.weekday()) % 7 < 5
    for i in range(org.n_humans):
        day_p = _OFFICE_DAY if org.habits[i].office_worker else _REMOTE_DAY
        draws = rng.random(n_days)
        loc[i] = np.where(weekday, _pick(draws, day_p), _pick(draws, _WEEKEND_DAY))
        if rng.random() < 0.15:  # a business trip: hotel and phone networks for a few days
            first = int(rng.integers(0, n_days))
            loc[i, first : first + int(rng.integers(2, 5))] = MOBILE
    org.loc_day = loc
    blocks = network.MOBILE + network.HOME_ISPS["eu"] + network.HOME_ISPS["us"]
    org.mobile_ip = network.sample(rng, blocks, len(org.principals) * n_days).reshape(
        len(org.principals), n_days
    )


def _pick(draws: F64, p: tuple[float, ...]) -> npt.NDArray[np.int64]:
    return np.searchsorted(np.cumsum(p), draws * sum(p), side="right").clip(0, len(p) - 1)


def _add_auth(org: Organisation, rng: np.random.Generator) -> None:
    host_index: dict[str, int] = {h: i for i, h in enumerate(org.hosts)}
    for who, habits in zip(org.principals[: org.n_humans], org.habits, strict=False):
        choices = _SSH_HOSTS[who.role]
        n_picks = min(len(choices), int(rng.integers(1, 4)))
        picks: list[int] = (
            [int(j) for j in rng.choice(len(choices), size=n_picks, replace=False)]
            if choices
            else []
        )
        ssh_hosts = []
        for j in picks:
            host = choices[int(j)]
            if host not in host_index:
                host_index[host] = len(org.hosts)
                org.hosts.append(host)
            ssh_hosts.append(host_index[host])
        ssh = 0.25 if ssh_hosts else 0.0
        vpn = 0.1 if habits.office_worker else 0.3
        kind_p = (1.0 - ssh - vpn, vpn, ssh)
        org.auth_habits.append(
            AuthHabits(
                kind_p=kind_p,
                ssh_hosts=ssh_hosts,
                vpn_host=1 + int(habits.tz >= 0),
                browser=habits.uas[CONSOLE][0],
                vpn_client=org.ua_index(
                    agents.VPN_CLIENTS[int(rng.integers(len(agents.VPN_CLIENTS)))]
                ),
                ssh_client=org.ua_index(
                    agents.SSH_CLIENTS[int(rng.integers(len(agents.SSH_CLIENTS)))]
                ),
                lan_ip=int(network.private(rng, 1 + int(habits.tz >= 0), 1)[0]),
                vpn_ip=int(network.private(rng, 8, 1)[0]),
            )
        )


def _make_resources(org: Organisation, rng: np.random.Generator) -> dict[str, tuple[str, ...]]:
    def ids(prefix: str, n: int, width: int = 17) -> tuple[str, ...]:
        return tuple(f"{prefix}{random_token(rng, width, HEX)}" for _ in range(n))

    lambdas = tuple(p.name for p in org.of_kind(LAMBDA))
    roles = tuple(p.role_name for p in org.principals if p.role_name and p.kind != HUMAN)
    return {
        "instance": ids("i-0", 24, 16),
        "security_group": ids("sg-0", 10, 16),
        "vpc": ids("vpc-0", 3, 16),
        "volume": ids("vol-0", 12, 16),
        "snapshot": ids("snap-0", 8, 16),
        "function": lambdas,
        "role": roles,
        "table": ("orders", "sessions", "customers", "feature-flags", "inventory"),
        "secret": (
            "prod/db/postgres",
            "prod/api/stripe",
            "prod/slack/webhook",
            "dev/db/postgres",
            "ci/github/token",
        ),
        "parameter": (
            "/app/prod/db_host",
            "/app/prod/feature_flags",
            "/app/dev/db_host",
            "/ci/deploy/target",
        ),
        "stack": ("network-prod", "app-prod", "data-pipeline", "monitoring", "app-dev"),
        "log_group": (*(f"/aws/lambda/{n}" for n in lambdas[:6]), "/ecs/api", "/ecs/web"),
        "cluster": ("prod-api", "prod-workers", "dev"),
        "repository": ("api", "web", "worker", "etl"),
        "key": tuple(_uuid_like(h) for h in ids("", 4, 32)),
        "queue": ("orders-queue", "emails-queue", "dead-letter"),
        "topic": ("alerts", "deployments", "billing"),
    }


def _uuid_like(hex32: str) -> str:
    h = hex32
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
