"""The AWS API catalogue the generators draw from: services, operations, and who calls what.

Operations are listed in rough order of popularity inside each service, so a rank-based weight
gives the skew real CloudTrail shows (a few Describe/List/Get calls make up most of the volume).
Names are CloudTrail ``eventName`` values, including Lambda's dated ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# service key -> (eventSource, scope, operations in popularity order). "global" services are
# logged in us-east-1 whatever region the caller uses.
_SERVICES: dict[str, tuple[str, str, str]] = {
    "ec2": (
        "ec2.amazonaws.com",
        "regional",
        "DescribeInstances DescribeSecurityGroups DescribeVpcs DescribeSubnets DescribeVolumes "
        "DescribeInstanceStatus DescribeNetworkInterfaces DescribeImages DescribeTags "
        "DescribeSnapshots DescribeRouteTables DescribeKeyPairs DescribeAvailabilityZones "
        "DescribeRegions DescribeAddresses DescribeLaunchTemplates DescribeInstanceTypes "
        "DescribeVpcEndpoints DescribeNatGateways DescribeFlowLogs GetConsoleOutput "
        "GetPasswordData CreateTags StartInstances StopInstances RunInstances "
        "TerminateInstances AuthorizeSecurityGroupIngress CreateSecurityGroup "
        "RevokeSecurityGroupIngress CreateSnapshot CreateVolume AttachVolume "
        "ModifyInstanceAttribute CreateKeyPair ImportKeyPair ModifySnapshotAttribute "
        "DeleteFlowLogs",
    ),
    "s3": (
        "s3.amazonaws.com",
        "regional",
        "GetObject ListObjects HeadObject PutObject ListBuckets GetBucketLocation "
        "GetBucketPolicy GetBucketAcl GetBucketVersioning GetBucketEncryption GetBucketTagging "
        "GetBucketLogging GetBucketPublicAccessBlock GetBucketCors GetBucketLifecycle "
        "GetBucketReplication DeleteObject CopyObject PutBucketTagging CreateBucket "
        "PutBucketPolicy PutBucketAcl DeleteBucketPolicy PutBucketPublicAccessBlock",
    ),
    "iam": (
        "iam.amazonaws.com",
        "global",
        "GetUser GetRole ListRoles ListUsers ListAttachedRolePolicies GetPolicy "
        "GetPolicyVersion ListRolePolicies ListAttachedUserPolicies ListPolicies "
        "ListAccessKeys ListMFADevices ListGroupsForUser GetAccountSummary ListGroups "
        "ListUserPolicies GetLoginProfile ListInstanceProfiles GetAccountPasswordPolicy "
        "GetAccountAuthorizationDetails GetCredentialReport ListServerCertificates "
        "ListVirtualMFADevices GenerateCredentialReport TagRole CreateRole CreatePolicy "
        "AttachRolePolicy PutRolePolicy CreateUser CreateAccessKey UpdateAccessKey "
        "DeleteAccessKey AttachUserPolicy DetachUserPolicy PutUserPolicy AddUserToGroup "
        "CreateLoginProfile UpdateLoginProfile UpdateAssumeRolePolicy CreatePolicyVersion "
        "SetDefaultPolicyVersion CreateServiceLinkedRole DeleteRole DeleteUser",
    ),
    "sts": (
        "sts.amazonaws.com",
        "regional",
        "GetCallerIdentity AssumeRole GetSessionToken AssumeRoleWithWebIdentity "
        "AssumeRoleWithSAML DecodeAuthorizationMessage GetFederationToken",
    ),
    "lambda": (
        "lambda.amazonaws.com",
        "regional",
        "ListFunctions20150331 GetFunction20150331v2 GetFunctionConfiguration20150331v2 "
        "ListEventSourceMappings20150331 ListAliases20150331 GetPolicy20150331v2 "
        "ListVersionsByFunction20150331 ListLayers20181031 UpdateFunctionCode20150331v2 "
        "UpdateFunctionConfiguration20150331v2 PublishVersion20150331 "
        "AddPermission20150331v2 CreateFunction20150331 DeleteFunction20150331",
    ),
    "cloudformation": (
        "cloudformation.amazonaws.com",
        "regional",
        "DescribeStacks DescribeStackEvents ListStacks DescribeStackResources "
        "GetTemplate ListStackResources DescribeChangeSet ValidateTemplate "
        "CreateChangeSet ExecuteChangeSet UpdateStack CreateStack DeleteStack",
    ),
    "monitoring": (
        "monitoring.amazonaws.com",
        "regional",
        "GetMetricData DescribeAlarms ListMetrics GetDashboard ListDashboards "
        "DescribeAlarmHistory PutMetricAlarm PutDashboard DeleteAlarms",
    ),
    "logs": (
        "logs.amazonaws.com",
        "regional",
        "DescribeLogGroups FilterLogEvents DescribeLogStreams GetLogEvents StartQuery "
        "GetQueryResults DescribeSubscriptionFilters CreateLogStream CreateLogGroup "
        "PutRetentionPolicy DeleteLogGroup",
    ),
    "rds": (
        "rds.amazonaws.com",
        "regional",
        "DescribeDBInstances DescribeDBClusters DescribeDBSnapshots DescribeEvents "
        "DescribeDBParameterGroups DescribeDBSubnetGroups CreateDBSnapshot ModifyDBInstance "
        "RebootDBInstance CopyDBSnapshot ModifyDBSnapshotAttribute",
    ),
    "dynamodb": (
        "dynamodb.amazonaws.com",
        "regional",
        "DescribeTable ListTables DescribeContinuousBackups DescribeTimeToLive "
        "ListTagsOfResource UpdateTable CreateBackup CreateTable DeleteTable",
    ),
    "ecs": (
        "ecs.amazonaws.com",
        "regional",
        "DescribeServices ListServices DescribeTasks ListTasks DescribeClusters ListClusters "
        "DescribeTaskDefinition ListTaskDefinitions RegisterTaskDefinition UpdateService "
        "RunTask ExecuteCommand",
    ),
    "ecr": (
        "ecr.amazonaws.com",
        "regional",
        "GetAuthorizationToken BatchGetImage GetDownloadUrlForLayer DescribeImages "
        "DescribeRepositories ListImages BatchCheckLayerAvailability InitiateLayerUpload "
        "PutImage CreateRepository SetRepositoryPolicy",
    ),
    "eks": (
        "eks.amazonaws.com",
        "regional",
        "DescribeCluster ListClusters ListNodegroups DescribeNodegroup ListAddons "
        "UpdateClusterConfig CreateAccessEntry",
    ),
    "kms": (
        "kms.amazonaws.com",
        "regional",
        "Decrypt GenerateDataKey DescribeKey Encrypt ListAliases ListKeys GetKeyPolicy "
        "GetKeyRotationStatus CreateGrant PutKeyPolicy DisableKey ScheduleKeyDeletion",
    ),
    "secretsmanager": (
        "secretsmanager.amazonaws.com",
        "regional",
        "GetSecretValue DescribeSecret ListSecrets GetResourcePolicy "
        "PutSecretValue UpdateSecret CreateSecret DeleteSecret",
    ),
    "ssm": (
        "ssm.amazonaws.com",
        "regional",
        "GetParameter GetParameters GetParametersByPath DescribeInstanceInformation "
        "DescribeParameters ListCommands ListAssociations GetInventory StartSession "
        "SendCommand PutParameter",
    ),
    "sns": (
        "sns.amazonaws.com",
        "regional",
        "ListTopics GetTopicAttributes ListSubscriptions SetTopicAttributes Subscribe CreateTopic",
    ),
    "sqs": (
        "sqs.amazonaws.com",
        "regional",
        "GetQueueAttributes ListQueues SetQueueAttributes CreateQueue PurgeQueue DeleteQueue",
    ),
    "cloudtrail": (
        "cloudtrail.amazonaws.com",
        "regional",
        "LookupEvents DescribeTrails GetTrailStatus ListTrails GetEventSelectors "
        "UpdateTrail PutEventSelectors StartLogging StopLogging DeleteTrail",
    ),
    "config": (
        "config.amazonaws.com",
        "regional",
        "DescribeConfigRules DescribeComplianceByConfigRule "
        "GetComplianceDetailsByConfigRule DescribeConfigurationRecorders "
        "DescribeConfigurationRecorderStatus PutConfigRule StopConfigurationRecorder",
    ),
    "guardduty": (
        "guardduty.amazonaws.com",
        "regional",
        "ListFindings GetFindings ListDetectors GetDetector GetFindingsStatistics "
        "ArchiveFindings CreateFilter UpdateDetector DeleteDetector",
    ),
    "securityhub": (
        "securityhub.amazonaws.com",
        "regional",
        "GetFindings DescribeHub GetEnabledStandards DescribeStandardsControls BatchUpdateFindings",
    ),
    "organizations": (
        "organizations.amazonaws.com",
        "global",
        "DescribeOrganization ListAccounts DescribeAccount ListRoots "
        "ListOrganizationalUnitsForParent ListAccountsForParent ListPolicies "
        "DescribePolicy LeaveOrganization",
    ),
    "route53": (
        "route53.amazonaws.com",
        "global",
        "ListHostedZones ListResourceRecordSets GetHostedZone GetChange ChangeResourceRecordSets",
    ),
    "elasticloadbalancing": (
        "elasticloadbalancing.amazonaws.com",
        "regional",
        "DescribeTargetHealth DescribeLoadBalancers DescribeTargetGroups "
        "DescribeListeners RegisterTargets DeregisterTargets ModifyListener",
    ),
    "autoscaling": (
        "autoscaling.amazonaws.com",
        "regional",
        "DescribeAutoScalingGroups DescribeScalingActivities "
        "DescribeLaunchConfigurations SetDesiredCapacity UpdateAutoScalingGroup",
    ),
    "acm": (
        "acm.amazonaws.com",
        "regional",
        "ListCertificates DescribeCertificate RequestCertificate",
    ),
    "apigateway": (
        "apigateway.amazonaws.com",
        "regional",
        "GetRestApis GetStages GetResources CreateDeployment UpdateStage",
    ),
    "cloudfront": (
        "cloudfront.amazonaws.com",
        "global",
        "ListDistributions GetDistribution GetDistributionConfig CreateInvalidation "
        "UpdateDistribution",
    ),
    "athena": (
        "athena.amazonaws.com",
        "regional",
        "GetQueryExecution StartQueryExecution GetQueryResults ListWorkGroups GetWorkGroup "
        "ListDatabases ListTableMetadata",
    ),
    "glue": (
        "glue.amazonaws.com",
        "regional",
        "GetTable GetTables GetPartitions GetDatabases GetJobRun GetJobRuns GetJobs "
        "GetCrawlers StartJobRun StartCrawler UpdateTable CreateTable",
    ),
    "kinesis": (
        "kinesis.amazonaws.com",
        "regional",
        "DescribeStreamSummary ListStreams DescribeStream CreateStream",
    ),
    "firehose": (
        "firehose.amazonaws.com",
        "regional",
        "DescribeDeliveryStream ListDeliveryStreams UpdateDestination",
    ),
    "redshift": (
        "redshift.amazonaws.com",
        "regional",
        "DescribeClusters GetClusterCredentials DescribeClusterSnapshots ModifyCluster",
    ),
    "elasticache": (
        "elasticache.amazonaws.com",
        "regional",
        "DescribeCacheClusters DescribeReplicationGroups",
    ),
    "es": ("es.amazonaws.com", "regional", "DescribeDomain ListDomainNames"),
    "states": (
        "states.amazonaws.com",
        "regional",
        "DescribeExecution ListExecutions ListStateMachines DescribeStateMachine StartExecution",
    ),
    "events": ("events.amazonaws.com", "regional", "ListRules DescribeRule PutRule PutTargets"),
    "backup": (
        "backup.amazonaws.com",
        "regional",
        "ListBackupPlans ListBackupVaults ListRecoveryPointsByBackupVault StartBackupJob",
    ),
    "ce": (
        "ce.amazonaws.com",
        "global",
        "GetCostAndUsage GetCostForecast GetDimensionValues GetReservationUtilization "
        "GetSavingsPlansUtilization",
    ),
    "budgets": ("budgets.amazonaws.com", "global", "DescribeBudgets DescribeBudget"),
    "sso": (
        "sso.amazonaws.com",
        "regional",
        "ListPermissionSets DescribePermissionSet ListAccountAssignments ListInstances "
        "CreateAccountAssignment",
    ),
    "signin": ("signin.amazonaws.com", "global", "ConsoleLogin"),
    "access-analyzer": (
        "access-analyzer.amazonaws.com",
        "regional",
        "ListFindings ListAnalyzers GetFinding",
    ),
    "inspector2": (
        "inspector2.amazonaws.com",
        "regional",
        "ListFindings ListCoverage BatchGetAccountStatus",
    ),
    "wafv2": (
        "wafv2.amazonaws.com",
        "regional",
        "GetWebACL ListWebACLs GetSampledRequests UpdateWebACL",
    ),
    "codebuild": (
        "codebuild.amazonaws.com",
        "regional",
        "BatchGetBuilds BatchGetProjects ListProjects StartBuild",
    ),
    "codepipeline": (
        "codepipeline.amazonaws.com",
        "regional",
        "GetPipelineState GetPipeline ListPipelines StartPipelineExecution",
    ),
    "sagemaker": (
        "sagemaker.amazonaws.com",
        "regional",
        "ListTrainingJobs DescribeTrainingJob ListNotebookInstances "
        "CreatePresignedNotebookInstanceUrl",
    ),
    "health": ("health.amazonaws.com", "global", "DescribeEvents DescribeEventAggregates"),
    "tagging": ("tagging.amazonaws.com", "regional", "GetResources GetTagKeys"),
    "servicequotas": (
        "servicequotas.amazonaws.com",
        "regional",
        "GetServiceQuota ListServiceQuotas",
    ),
    "elasticmapreduce": (
        "elasticmapreduce.amazonaws.com",
        "regional",
        "DescribeCluster ListSteps ListClusters AddJobFlowSteps",
    ),
}

_READ_PREFIXES = (
    "Describe",
    "List",
    "Get",
    "Head",
    "Lookup",
    "BatchGet",
    "BatchCheck",
    "View",
    "AssumeRole",
    "Validate",
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "Filter",
    "Decode",
)
_DATA_EVENTS = frozenset(
    {
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListObjects",
        "s3:HeadObject",
        "s3:DeleteObject",
        "s3:CopyObject",
    }
)
# Operations whose request names a bucket (data events and bucket-level management calls).
_BUCKET_PREFIXES = ("GetBucket", "PutBucket", "DeleteBucket", "CreateBucket")


@dataclass(frozen=True, slots=True)
class Api:
    """One CloudTrail operation: ``service`` key, ``name`` (eventName) and how it is logged."""

    index: int
    service: str
    name: str
    source: str
    rank: int
    read_only: bool
    data_event: bool
    is_global: bool
    needs_bucket: bool
    key: str  # "service:Name", unique across the catalogue (names alone repeat)


def _build() -> tuple[Api, ...]:
    apis: list[Api] = []
    for service, (source, scope, names) in _SERVICES.items():
        for rank, name in enumerate(names.split()):
            key = f"{service}:{name}"
            apis.append(
                Api(
                    index=len(apis),
                    service=service,
                    name=name,
                    source=source,
                    rank=rank,
                    read_only=name.startswith(_READ_PREFIXES),
                    data_event=key in _DATA_EVENTS,
                    is_global=scope == "global",
                    needs_bucket=service == "s3"
                    and (key in _DATA_EVENTS or name.startswith(_BUCKET_PREFIXES)),
                    key=key,
                )
            )
    return tuple(apis)


APIS: tuple[Api, ...] = _build()
SERVICES: tuple[str, ...] = tuple(_SERVICES)
_BY_KEY = {api.key: api.index for api in APIS}


def api_id(key: str) -> int:
    """Index of ``"service:Name"`` in :data:`APIS` (KeyError names the bad key)."""
    return _BY_KEY[key]


def api_ids(keys: str) -> npt.NDArray[np.int64]:
    """Indices of several space-separated ``service:Name`` keys."""
    return np.array([_BY_KEY[k] for k in keys.split()], dtype=np.int64)


def service_of(service: str) -> list[Api]:
    """The operations of one service, most popular first."""
    return [api for api in APIS if api.service == service]


def read_apis(exclude_data: bool = True) -> list[Api]:
    """Every read-only operation (the reconnaissance vocabulary)."""
    return [
        a
        for a in APIS
        if a.read_only and not (exclude_data and a.data_event) and a.service != "signin"
    ]


CONSOLE_LOGIN = api_id("signin:ConsoleLogin")
API_SERVICE_INDEX: npt.NDArray[np.int64] = np.array(
    [SERVICES.index(a.service) for a in APIS], dtype=np.int64
)
API_IS_GLOBAL: npt.NDArray[np.bool_] = np.array([a.is_global for a in APIS], dtype=bool)
API_READ_ONLY: npt.NDArray[np.bool_] = np.array([a.read_only for a in APIS], dtype=bool)
API_NEEDS_BUCKET: npt.NDArray[np.bool_] = np.array([a.needs_bucket for a in APIS], dtype=bool)

# Per human role: service weights, how often writes happen relative to reads, and the weight of
# S3 object reads/writes (data events) for people who work with data.
ROLE_SERVICES: dict[str, dict[str, float]] = {
    "developer": {
        "ec2": 3,
        "lambda": 3,
        "logs": 3,
        "cloudformation": 2,
        "monitoring": 2,
        "s3": 2,
        "ecs": 1.5,
        "dynamodb": 1.5,
        "ecr": 1,
        "ssm": 1,
        "sts": 1,
        "sqs": 0.7,
        "apigateway": 0.6,
        "secretsmanager": 0.6,
        "sns": 0.5,
        "rds": 0.5,
        "elasticloadbalancing": 0.5,
        "states": 0.4,
        "kms": 0.4,
        "events": 0.4,
        "codebuild": 0.4,
        "codepipeline": 0.4,
    },
    "data_engineer": {
        "s3": 4,
        "glue": 3,
        "athena": 3,
        "logs": 1.5,
        "redshift": 1,
        "elasticmapreduce": 1,
        "lambda": 1,
        "kinesis": 0.8,
        "sts": 0.8,
        "dynamodb": 0.6,
        "states": 0.6,
        "firehose": 0.5,
        "sagemaker": 0.5,
        "monitoring": 0.5,
        "kms": 0.3,
    },
    "admin": {
        "iam": 4,
        "ec2": 3,
        "s3": 1.5,
        "organizations": 1,
        "sso": 1,
        "rds": 1,
        "eks": 1,
        "logs": 1,
        "monitoring": 1,
        "ssm": 1,
        "cloudtrail": 0.8,
        "route53": 0.8,
        "elasticloadbalancing": 0.8,
        "kms": 0.7,
        "autoscaling": 0.6,
        "config": 0.5,
        "backup": 0.5,
        "sts": 0.5,
        "acm": 0.4,
        "cloudfront": 0.4,
        "servicequotas": 0.3,
        "wafv2": 0.3,
        "health": 0.3,
    },
    "analyst": {
        "ce": 4,
        "athena": 2,
        "budgets": 1.5,
        "s3": 1.5,
        "organizations": 0.6,
        "tagging": 0.5,
        "glue": 0.4,
        "monitoring": 0.3,
        "sts": 0.2,
        "servicequotas": 0.2,
    },
    "security": {
        "guardduty": 3,
        "securityhub": 3,
        "cloudtrail": 2.5,
        "iam": 2,
        "config": 1.5,
        "logs": 1.5,
        "access-analyzer": 1,
        "inspector2": 1,
        "ec2": 1,
        "s3": 1,
        "athena": 1,
        "kms": 0.5,
        "wafv2": 0.5,
        "organizations": 0.5,
        "sts": 0.5,
    },
    "ci": {
        "ecr": 2,
        "s3": 2,
        "ec2": 2,
        "ecs": 1.5,
        "lambda": 1.5,
        "cloudformation": 1.5,
        "iam": 1.5,
        "sts": 1,
        "logs": 0.5,
        "elasticloadbalancing": 0.5,
        "kms": 0.4,
        "route53": 0.3,
        "secretsmanager": 0.3,
        "ssm": 0.3,
        "acm": 0.2,
    },
}
ROLE_WRITE_FACTOR: dict[str, float] = {
    "developer": 0.08,
    "data_engineer": 0.07,
    "admin": 0.12,
    "analyst": 0.02,
    "security": 0.03,
    "ci": 0.2,
}
ROLE_DATA_WEIGHT: dict[str, float] = {
    "developer": 0.5,
    "data_engineer": 4.0,
    "admin": 0.2,
    "analyst": 1.0,
    "security": 0.3,
    "ci": 2.0,
}

# Narrow vocabularies of workload identities.
LAMBDA_POOL = (
    "kms:Decrypt secretsmanager:GetSecretValue s3:GetObject s3:PutObject "
    "ssm:GetParameter dynamodb:DescribeTable sqs:GetQueueAttributes "
    "kms:GenerateDataKey lambda:GetFunctionConfiguration20150331v2 "
    "athena:StartQueryExecution athena:GetQueryExecution glue:GetTable "
    "states:StartExecution sns:GetTopicAttributes ssm:GetParametersByPath"
)
MONITOR_APIS = (
    "monitoring:GetMetricData monitoring:ListMetrics monitoring:DescribeAlarms "
    "ec2:DescribeInstances ec2:DescribeVolumes ec2:DescribeInstanceStatus "
    "rds:DescribeDBInstances rds:DescribeDBClusters "
    "elasticloadbalancing:DescribeLoadBalancers "
    "elasticloadbalancing:DescribeTargetGroups "
    "elasticloadbalancing:DescribeTargetHealth lambda:ListFunctions20150331 "
    "dynamodb:ListTables dynamodb:DescribeTable s3:ListBuckets s3:GetBucketTagging "
    "s3:GetBucketLocation ecs:ListClusters ecs:DescribeClusters ecs:ListServices "
    "ecs:DescribeServices sqs:ListQueues sqs:GetQueueAttributes tagging:GetResources "
    "autoscaling:DescribeAutoScalingGroups elasticache:DescribeCacheClusters "
    "es:ListDomainNames kinesis:ListStreams cloudfront:ListDistributions "
    "health:DescribeEvents sns:ListTopics apigateway:GetRestApis"
)
AUTOSCALING_APIS = (
    "ec2:DescribeInstances ec2:DescribeInstanceStatus ec2:RunInstances "
    "ec2:TerminateInstances ec2:CreateTags ec2:DescribeLaunchTemplates "
    "elasticloadbalancing:RegisterTargets elasticloadbalancing:DeregisterTargets"
)
AWS_SERVICE_APIS: dict[str, str] = {
    "lambda.amazonaws.com": "sts:AssumeRole",
    "ec2.amazonaws.com": "sts:AssumeRole",
    "cloudtrail.amazonaws.com": "kms:GenerateDataKey kms:DescribeKey",
}
