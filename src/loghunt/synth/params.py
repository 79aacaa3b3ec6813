"""requestParameters, responseElements and resources for CloudTrail records.

CloudTrail logs parameters per operation; these are modelled for the operations that matter to
hunting (S3 objects, IAM changes, role assumption, KMS, security-group and instance changes)
and approximated by a resource-name rule for the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from loghunt.synth import org as O
from loghunt.synth.catalog import Api
from loghunt.synth.rng import HEX, UPPER_DIGITS, Draws

JSON = dict[str, Any]

# service -> (parameter name, resource pool in Organisation.resources)
_RESOURCE_PARAM: dict[str, tuple[str, str]] = {
    "ec2": ("instanceId", "instance"),
    "lambda": ("functionName", "function"),
    "dynamodb": ("tableName", "table"),
    "secretsmanager": ("secretId", "secret"),
    "ssm": ("name", "parameter"),
    "cloudformation": ("stackName", "stack"),
    "logs": ("logGroupName", "log_group"),
    "ecs": ("cluster", "cluster"),
    "eks": ("name", "cluster"),
    "ecr": ("repositoryName", "repository"),
    "kms": ("keyId", "key"),
    "sqs": ("queueUrl", "queue"),
    "sns": ("topicArn", "topic"),
    "iam": ("roleName", "role"),
    "states": ("stateMachineArn", "function"),
    "glue": ("databaseName", "table"),
    "athena": ("workGroup", "cluster"),
    "rds": ("dBInstanceIdentifier", "table"),
    "codebuild": ("projectName", "repository"),
}
_OBJECT_KINDS = {
    "assets": ("static/js/app", "js"),
    "logs": ("AWSLogs/elb", "log.gz"),
    "lake": ("events/dt=", "parquet"),
    "artifacts": ("builds/", "zip"),
    "state": ("env/prod/", "tfstate"),
    "training": ("datasets/v", "parquet"),
    "reports": ("monthly/", "xlsx"),
    "payroll": ("payroll/", "csv"),
    "exports": ("customers/export-", "csv.gz"),
    "backups": ("rds/snapshot-", "dump"),
    "cloudtrail": ("AWSLogs/", "json.gz"),
}


class ParamMaker:
    """Builds the per-operation parts of records, drawing names from the organisation."""

    def __init__(self, org: O.Organisation, rng: np.random.Generator) -> None:
        self.org = org
        self.draw = Draws(rng)

    def pick(self, pool: str) -> str:
        """A random name from one of the organisation's resource pools."""
        names = self.org.resources.get(pool) or ("default",)
        return names[self.draw.index(len(names))]

    def object_key(self, bucket: str) -> str:
        """A plausible object key for ``bucket`` (the kind of data decides the layout)."""
        prefix, ext = next((v for k, v in _OBJECT_KINDS.items() if k in bucket), ("data/", "bin"))
        day = 1 + self.draw.index(28)
        part = self.draw.index(5000)
        return f"{prefix}2026-02-{day:02d}/part-{part:05d}.{ext}"

    def request(self, api: Api, who: O.Principal, bucket: int, region: str) -> JSON | None:
        """requestParameters for one call."""
        if api.service == "s3":
            return self._s3(api, bucket, region)
        special = _SPECIAL.get(api.key)
        if special is not None:
            made: JSON | None = special(self, who, region)
            return made
        if api.service == "iam":
            return self._iam(api, who)
        param = _RESOURCE_PARAM.get(api.service)
        plural = api.name.startswith("List") or (
            api.name.startswith("Describe") and api.name.endswith("s")
        )
        if param is None or (plural and api.read_only):
            return None if self.draw.uniform() < 0.6 else {"maxResults": 100}
        return {param[0]: self.pick(param[1])}

    def _s3(self, api: Api, bucket: int, region: str) -> JSON:
        if bucket < 0:
            return {"Host": "s3.amazonaws.com"}
        name = self.org.buckets[bucket].name
        host = f"{name}.s3.{region}.amazonaws.com"
        if api.name == "ListObjects":
            return {
                "bucketName": name,
                "Host": host,
                "list-type": "2",
                "prefix": self.object_key(name).rsplit("/", 1)[0] + "/",
                "max-keys": "1000",
            }
        if api.data_event:
            return {"bucketName": name, "Host": host, "key": self.object_key(name)}
        return {"bucketName": name, "Host": host, api.name[len("GetBucket") :].lower(): ""}

    def _iam(self, api: Api, who: O.Principal) -> JSON | None:
        if api.read_only and (
            api.name.startswith("List")
            and "For" not in api.name
            and not api.name.startswith("ListAttached")
        ):
            return None
        if any(w in api.name for w in ("User", "AccessKey", "LoginProfile", "MFA")):
            return {"userName": who.name if who.kind == O.HUMAN else self.pick("role")}
        if "Policy" in api.name and "Role" not in api.name:
            return {"policyArn": f"arn:aws:iam::{who.account}:policy/{self.pick('role')}-policy"}
        return {"roleName": self.pick("role")}

    def response(
        self, api: Api, who: O.Principal, request: JSON | None, time_ms: int
    ) -> JSON | None:
        """responseElements for a successful call (most reads log none)."""
        maker = _RESPONSES.get(api.key)
        return maker(self, who, request or {}, time_ms) if maker else None

    def resources(
        self, api: Api, who: O.Principal, request: JSON | None, region: str
    ) -> list[JSON] | None:
        """The ``resources`` list CloudTrail adds for data events, roles and keys."""
        req = request or {}
        if api.data_event and "bucketName" in req:
            bucket = f"arn:aws:s3:::{req['bucketName']}"
            out: list[JSON] = []
            if "key" in req:
                out.append({"type": "AWS::S3::Object", "ARN": f"{bucket}/{req['key']}"})
            out.append({"accountId": who.account, "type": "AWS::S3::Bucket", "ARN": bucket})
            return out
        if api.key == "sts:AssumeRole" and "roleArn" in req:
            return [{"accountId": who.account, "type": "AWS::IAM::Role", "ARN": req["roleArn"]}]
        if api.service == "kms":
            key = req.get("keyId") or self.pick("key")
            arn = (
                key if key.startswith("arn:") else (f"arn:aws:kms:{region}:{who.account}:key/{key}")
            )
            return [{"accountId": who.account, "type": "AWS::KMS::Key", "ARN": arn}]
        return None

    def token(self, prefix: str, n: int = 16) -> str:
        """A random AWS-style identifier (``AKIA...``, ``ASIA...``, ``AIDA...``)."""
        return prefix + self.draw.token(n, UPPER_DIGITS)


def _aws_date(time_ms: int) -> str:
    # IAM responses use this human-readable date form.
    dt = datetime.fromtimestamp(time_ms / 1000, UTC)
    return f"{dt:%b} {dt.day}, {dt.year}, {dt.hour % 12 or 12}:{dt:%M:%S %p}"


def _assume_role(m: ParamMaker, who: O.Principal, region: str) -> JSON:
    if who.invoked_by == "lambda.amazonaws.com":
        roles = m.org.of_kind(O.LAMBDA)
        target = roles[m.draw.index(len(roles))]
        return {"roleArn": target.role_arn, "roleSessionName": target.name, "durationSeconds": 3600}
    # People and pipelines hop into the other account through a few well-known roles.
    account = m.org.accounts[m.draw.index(len(m.org.accounts))]
    role = _CROSS_ACCOUNT_ROLES[m.draw.index(len(_CROSS_ACCOUNT_ROLES))]
    session = who.name if who.kind == O.HUMAN else f"{who.name}-{m.draw.token(8, HEX)}"
    return {
        "roleArn": f"arn:aws:iam::{account}:role/{role}",
        "roleSessionName": session,
        "durationSeconds": 3600,
    }


_CROSS_ACCOUNT_ROLES = ("OrganizationAccountAccessRole", "terraform-deploy", "ReadOnlyAccess")


def _security_group(m: ParamMaker, who: O.Principal, region: str) -> JSON:
    port = (22, 443, 3389, 5432, 8080)[m.draw.index(5)]
    cidr = "0.0.0.0/0" if m.draw.uniform() < 0.3 else f"10.{m.draw.index(255)}.0.0/16"
    return {
        "groupId": m.pick("security_group"),
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": "tcp",
                    "fromPort": port,
                    "toPort": port,
                    "ipRanges": {"items": [{"cidrIp": cidr}]},
                }
            ]
        },
    }


_SPECIAL: dict[str, Any] = {
    "sts:GetCallerIdentity": lambda m, who, region: None,
    "sts:AssumeRole": _assume_role,
    "ec2:DescribeInstances": lambda m, who, region: {"instancesSet": {}, "filterSet": {}},
    "ec2:RunInstances": lambda m, who, region: {
        "instancesSet": {
            "items": [{"imageId": "ami-0" + m.draw.token(16, HEX), "minCount": 1, "maxCount": 1}]
        },
        "instanceType": ("t3.medium", "m5.large", "c6i.xlarge")[m.draw.index(3)],
    },
    "ec2:AuthorizeSecurityGroupIngress": _security_group,
    "kms:Decrypt": lambda m, who, region: {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
    "kms:GenerateDataKey": lambda m, who, region: {
        "keyId": f"arn:aws:kms:{region}:{who.account}:key/{m.pick('key')}",
        "keySpec": "AES_256",
    },
    "cloudtrail:LookupEvents": lambda m, who, region: {"maxResults": 50},
    "cloudtrail:StopLogging": lambda m, who, region: {
        "name": f"arn:aws:cloudtrail:us-east-1:{who.account}:trail/org-trail"
    },
    "secretsmanager:GetSecretValue": lambda m, who, region: {"secretId": m.pick("secret")},
    "ce:GetCostAndUsage": lambda m, who, region: {
        "timePeriod": {"start": "2026-02-01", "end": "2026-03-01"},
        "granularity": "DAILY",
        "metrics": ["UnblendedCost"],
    },
}


def _create_access_key(m: ParamMaker, who: O.Principal, req: JSON, time_ms: int) -> JSON:
    return {
        "accessKey": {
            "accessKeyId": m.token("AKIA"),
            "status": "Active",
            "userName": req.get("userName", who.name),
            "createDate": _aws_date(time_ms),
        }
    }


def _create_user(m: ParamMaker, who: O.Principal, req: JSON, time_ms: int) -> JSON:
    name = req.get("userName", "svc-user")
    return {
        "user": {
            "path": "/",
            "userName": name,
            "userId": m.token("AIDA", 17),
            "arn": f"arn:aws:iam::{who.account}:user/{name}",
            "createDate": _aws_date(time_ms),
        }
    }


def _assume_role_response(m: ParamMaker, who: O.Principal, req: JSON, time_ms: int) -> JSON:
    session = req.get("roleSessionName", "session")
    role_arn = str(req.get("roleArn", ""))
    expires = _aws_date(time_ms + 3_600_000)
    return {
        "credentials": {
            "accessKeyId": m.token("ASIA"),
            "sessionToken": "IQoJb3JpZ2luX2Vj" + m.draw.token(24, UPPER_DIGITS),
            "expiration": expires,
        },
        "assumedRoleUser": {
            "assumedRoleId": m.token("AROA", 17) + f":{session}",
            "arn": role_arn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/")
            + f"/{session}",
        },
    }


def _run_instances(m: ParamMaker, who: O.Principal, req: JSON, time_ms: int) -> JSON:
    return {
        "requestId": "",
        "reservationId": "r-0" + m.draw.token(16, HEX),
        "ownerId": who.account,
        "instancesSet": {
            "items": [
                {
                    "instanceId": "i-0" + m.draw.token(16, HEX),
                    "instanceState": {"code": 0, "name": "pending"},
                }
            ]
        },
    }


def _login_profile(m: ParamMaker, who: O.Principal, req: JSON, time_ms: int) -> JSON:
    return {
        "loginProfile": {
            "userName": req.get("userName", who.name),
            "createDate": _aws_date(time_ms),
            "passwordResetRequired": False,
        }
    }


_RESPONSES: dict[str, Any] = {
    "iam:CreateAccessKey": _create_access_key,
    "iam:CreateUser": _create_user,
    "iam:CreateLoginProfile": _login_profile,
    "sts:AssumeRole": _assume_role_response,
    "ec2:RunInstances": _run_instances,
}
