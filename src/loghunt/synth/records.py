"""Turn event batches into records: CloudTrail JSON as AWS writes it, OCSF 3002 logons.

Records are rendered in time order so that sessions (temporary ``ASIA`` keys and their
``creationDate``) follow from the calls before them, as they do in real trails.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from loghunt.synth import batch as B
from loghunt.synth import catalog
from loghunt.synth import org as O
from loghunt.synth.catalog import Api
from loghunt.synth.normal import AUTH_DETAILS
from loghunt.synth.params import ParamMaker
from loghunt.synth.rng import MS_PER_HOUR, ip_strings, iso_one, iso_seconds, uuid4_strings

JSON = dict[str, Any]

_SESSION_MS = {
    O.CONSOLE: 12 * MS_PER_HOUR,
    O.CLI: 8 * MS_PER_HOUR,
    O.SDK: 8 * MS_PER_HOUR,
    O.SERVICE: MS_PER_HOUR,
}
_TLS = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"}
_NOT_FOUND = {
    "ec2": "Client.InvalidInstanceID.NotFound",
    "iam": "NoSuchEntityException",
    "s3": "NoSuchKey",
    "ssm": "ParameterNotFound",
    "cloudformation": "ValidationError",
}
_QUERY_PROTOCOL = frozenset(
    {
        "iam",
        "s3",
        "sts",
        "cloudfront",
        "route53",
        "signin",
        "rds",
        "autoscaling",
        "elasticloadbalancing",
        "sns",
        "sqs",
        "redshift",
        "elasticache",
        "monitoring",
        "cloudformation",
    }
)
_IAM_PREFIX = {
    "monitoring": "cloudwatch",
    "elasticloadbalancing": "elasticloadbalancing",
    "elasticmapreduce": "elasticmapreduce",
}
_DATED = re.compile(r"\d{8}(v\d)?$")


class CloudTrailRenderer:
    """Renders a time-ordered :class:`~loghunt.synth.batch.CtBatch` into CloudTrail records."""

    def __init__(self, org: O.Organisation, rng: np.random.Generator) -> None:
        self.org = org
        self.rng = rng
        self.params = ParamMaker(org, rng)
        # (principal, channel) -> (session start, its creationDate text, temporary key id)
        self.sessions: dict[tuple[int, int], tuple[int, str, str]] = {}

    def render(self, events: B.CtBatch) -> tuple[list[JSON], list[str]]:
        """Records and their eventIDs, in the batch's order."""
        n = len(events)
        event_ids = uuid4_strings(self.rng, n)
        request_ids = uuid4_strings(self.rng, n)
        times = iso_seconds(events.time)
        ips = ip_strings(events.ip)
        cols = [
            events.time.tolist(),
            events.actor.tolist(),
            events.api.tolist(),
            events.region.tolist(),
            events.ip.tolist(),
            events.ua.tolist(),
            events.error.tolist(),
            events.channel.tolist(),
            events.bucket.tolist(),
            events.nbytes.tolist(),
            events.attack.tolist(),
            list(events.extra),
        ]
        records = []
        for i, row in enumerate(zip(*cols, strict=True)):
            ids = (event_ids[i], request_ids[i])
            records.append(self._record(row, times[i], ips[i] if row[4] else "", ids))
        return records, event_ids

    def _record(
        self, row: tuple[Any, ...], time_text: str, ip_text: str, ids: tuple[str, str]
    ) -> JSON:
        """One record, keys in the order CloudTrail writes them."""
        t, actor, api_i, region_i, _, ua, error, channel, bucket, nbytes, attack, extra = row
        who = self.org.principals[actor]
        api = catalog.APIS[api_i]
        region = O.ALL_REGIONS[region_i]
        source_ip = ip_text or who.invoked_by
        agent = self.org.user_agents[ua]
        if api_i == catalog.CONSOLE_LOGIN:
            return self._console_login(who, t, time_text, source_ip, agent, error, attack, ids[0])
        rec: JSON = {
            "eventVersion": "1.10" if api.data_event else "1.09",
            "userIdentity": self._identity(who, channel, t),
            "eventTime": time_text,
            "eventSource": api.source,
            "eventName": api.name,
            "awsRegion": region,
            "sourceIPAddress": source_ip,
            "userAgent": agent,
        }
        request = (extra or {}).get("request") or self.params.request(api, who, bucket, region)
        if error:
            rec["errorCode"], rec["errorMessage"] = error_fields(api, error, who)
        rec["requestParameters"] = request
        rec["responseElements"] = None if error else self.params.response(api, who, request, t)
        if api.data_event:
            rec["additionalEventData"] = _s3_extra(api, nbytes)
            rec["requestID"] = ids[1].replace("-", "")[:16].upper()  # S3's short request ids
        else:
            rec["requestID"] = ids[1]
        rec["eventID"] = ids[0]
        rec["readOnly"] = api.read_only
        resources = self.params.resources(api, who, request, region)
        if resources:
            rec["resources"] = resources
        rec["eventType"] = "AwsApiCall"
        rec["managementEvent"] = not api.data_event
        rec["recipientAccountId"] = self._recipient(who, bucket)
        rec["eventCategory"] = "Data" if api.data_event else "Management"
        if ip_text:
            rec["tlsDetails"] = {**_TLS, "clientProvidedHostHeader": _host(api, region)}
        if channel == O.CONSOLE:
            rec["sessionCredentialFromConsole"] = "true"
        return rec

    def _recipient(self, who: O.Principal, bucket: int) -> str:
        return self.org.buckets[bucket].account if bucket >= 0 else who.account

    def _session(
        self, who: O.Principal, channel: int, t: int, fresh: bool = False
    ) -> tuple[int, str, str]:
        """The temporary credentials in use at ``t``: reused until they would have expired."""
        key = (who.index, channel)
        current = self.sessions.get(key)
        if fresh or current is None or t - current[0] > _SESSION_MS[channel]:
            start = t - (1 + self.params.draw.index(60)) * 1000
            current = (start, iso_one(start), self.params.token("ASIA"))
            self.sessions[key] = current
        return current

    def _identity(self, who: O.Principal, channel: int, t: int) -> JSON:
        if who.identity_type == "AWSService":
            return {"type": "AWSService", "invokedBy": who.invoked_by}
        base: JSON = {
            "type": who.identity_type,
            "principalId": who.principal_id,
            "arn": who.arn,
            "accountId": who.account,
        }
        if who.identity_type == "IAMUser" and channel != O.CONSOLE:
            return {**base, "accessKeyId": who.access_key, "userName": who.name}
        _, created, key = self._session(who, channel, t)
        attributes = {"creationDate": created, "mfaAuthenticated": "true" if who.mfa else "false"}
        if who.identity_type == "IAMUser":
            return {
                **base,
                "accessKeyId": key,
                "userName": who.name,
                "sessionContext": {
                    "sessionIssuer": {},
                    "webIdFederationData": {},
                    "attributes": attributes,
                },
            }
        issuer = {
            "type": "Role",
            "principalId": who.role_id,
            "arn": who.role_arn,
            "accountId": who.account,
            "userName": who.role_name,
        }
        out = {
            **base,
            "accessKeyId": key,
            "sessionContext": {
                "sessionIssuer": issuer,
                "webIdFederationData": {},
                "attributes": attributes,
            },
        }
        if who.invoked_by:
            out["invokedBy"] = who.invoked_by
        return out

    def _console_login(
        self,
        who: O.Principal,
        t: int,
        time_text: str,
        source_ip: str,
        agent: str,
        error: int,
        attack: int,
        event_id: str,
    ) -> JSON:
        failed = error == B.LOGIN_FAILED
        ident: JSON = {"type": "IAMUser", "principalId": who.principal_id}
        if who.kind != O.HIDDEN:
            ident["arn"] = who.arn
        ident.update({"accountId": who.account, "accessKeyId": "", "userName": who.name})
        if not failed and who.kind == O.HUMAN:
            self._session(who, O.CONSOLE, t, fresh=True)
        mfa = who.mfa and not failed and not attack
        rec: JSON = {
            "eventVersion": "1.09",
            "userIdentity": ident,
            "eventTime": time_text,
            "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin",
            "awsRegion": "us-east-1",
            "sourceIPAddress": source_ip,
            "userAgent": agent,
        }
        if failed:
            # AWS writes no errorCode for a failed sign-in, only this message.
            rec["errorMessage"] = "Failed authentication"
        extra: JSON = {
            "LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&"
            "isauthcode=true&state=hashArgsFromTB_us-east-1_" + self.params.token("", 16).lower(),
            "MobileVersion": "No",
        }
        if mfa:
            extra["MFAIdentifier"] = f"arn:aws:iam::{who.account}:mfa/{who.name}"
        extra["MFAUsed"] = "Yes" if mfa else "No"
        rec.update(
            {
                "requestParameters": None,
                "responseElements": {"ConsoleLogin": "Failure" if failed else "Success"},
                "additionalEventData": extra,
                "eventID": event_id,
                "readOnly": False,
                "eventType": "AwsConsoleSignIn",
                "managementEvent": True,
                "recipientAccountId": who.account,
                "eventCategory": "Management",
                "tlsDetails": {**_TLS, "clientProvidedHostHeader": "signin.aws.amazon.com"},
            }
        )
        return rec


def _host(api: Api, region: str) -> str:
    prefix = api.source.split(".", 1)[0]
    return f"{prefix}.amazonaws.com" if api.is_global else f"{prefix}.{region}.amazonaws.com"


def _s3_extra(api: Api, nbytes: int) -> JSON:
    sent = nbytes if api.name in ("GetObject", "CopyObject") else 0
    received = nbytes if api.name == "PutObject" else 0
    return {
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": received,
        "AuthenticationMethod": "AuthHeader",
        "bytesTransferredOut": sent,
    }


def error_fields(api: Api, kind: int, who: O.Principal) -> tuple[str, str]:
    svc = api.service
    action = f"{_IAM_PREFIX.get(svc, svc)}:{_DATED.sub('', api.name)}"
    if kind == B.DENIED:
        if svc == "ec2":
            return (
                "Client.UnauthorizedOperation",
                f"You are not authorized to perform this operation. User: {who.arn} is not "
                f"authorized to perform: {action}",
            )
        if svc == "s3":
            return "AccessDenied", "Access Denied"
        code = "AccessDenied" if svc in _QUERY_PROTOCOL else "AccessDeniedException"
        return code, (
            f"User: {who.arn} is not authorized to perform: {action} because no "
            f"identity-based policy allows the {action} action"
        )
    if kind == B.THROTTLED:
        if svc == "ec2":
            return "Client.RequestLimitExceeded", "Request limit exceeded."
        return ("Throttling" if svc in _QUERY_PROTOCOL else "ThrottlingException"), "Rate exceeded"
    code = _NOT_FOUND.get(svc, "ResourceNotFoundException")
    return code, "The specified resource does not exist."


# -- OCSF Authentication (3002) ----------------------------------------------------------------
_PRODUCTS = (
    {"name": "Okta", "vendor_name": "Okta"},
    {"name": "GlobalProtect", "vendor_name": "Palo Alto Networks"},
    {"name": "OpenSSH", "vendor_name": "OpenBSD"},
)
_PROTOCOLS = (("SAML", 5), ("RADIUS", 10), ("Other", 99))
_LOGON_TYPES = (("Interactive", 2), ("Network", 3), ("Remote Interactive", 10))


def render_auth(
    org: O.Organisation, events: B.AuthBatch, rng: np.random.Generator
) -> tuple[list[JSON], list[str]]:
    """OCSF Authentication objects and their ``metadata.uid``, in the batch's order."""
    ids = uuid4_strings(rng, len(events))
    ips = ip_strings(events.ip)
    cols = [
        events.time.tolist(),
        events.user.tolist(),
        events.kind.tolist(),
        events.host.tolist(),
        events.ua.tolist(),
        events.failed.tolist(),
        events.detail.tolist(),
    ]
    out = []
    for i, (t, user, kind, host, ua, failed, detail) in enumerate(zip(*cols, strict=True)):
        protocol, protocol_id = _PROTOCOLS[kind]
        logon, logon_id = _LOGON_TYPES[kind]
        rec: JSON = {
            "time": t,
            "class_uid": 3002,
            "class_name": "Authentication",
            "category_uid": 3,
            "category_name": "Identity & Access Management",
            "activity_id": 1,
            "activity_name": "Logon",
            "type_uid": 300201,
            "severity_id": 1,
            "status": "Failure" if failed else "Success",
            "status_id": 2 if failed else 1,
        }
        if failed:
            rec["status_detail"] = AUTH_DETAILS[detail]
        rec.update(
            {
                "metadata": {"uid": ids[i], "version": "1.3.0", "product": _PRODUCTS[kind]},
                "user": {"name": org.auth_names[user], "type": "User", "type_id": 1},
                "src_endpoint": {"ip": ips[i]},
                "dst_endpoint": {"hostname": org.hosts[host]},
                "auth_protocol": protocol,
                "auth_protocol_id": protocol_id,
                "logon_type": logon,
                "logon_type_id": logon_id,
                "is_mfa": kind == O.SSO and not failed,
                "http_request": {"user_agent": org.user_agents[ua]},
            }
        )
        out.append(rec)
    return out, ids
