"""OCSF column names loghunt produces (flattened with dots), so modules agree on them."""

from __future__ import annotations

TIME = "time"  # Datetime (UTC, ms)
CLASS_UID = "class_uid"  # 6003 API Activity, 3002 Authentication, ...
EVENT_UID = "metadata.uid"  # the source's own event id (CloudTrail eventID)
PRODUCT = "metadata.product.name"  # "CloudTrail", ...
USER_NAME = "actor.user.name"
USER_TYPE = "actor.user.type"  # IAMUser, AssumedRole, Root, AWSService, ...
USER_UID = "actor.user.uid"  # ARN
ACCOUNT_UID = "actor.user.account.uid"
CREDENTIAL_UID = "actor.user.credential_uid"  # access key id
SESSION_ISSUER = "actor.session.issuer"  # role ARN for assumed roles
SESSION_MFA = "actor.session.is_mfa"  # Boolean
OPERATION = "api.operation"  # eventName
SERVICE = "api.service.name"  # eventSource
ERROR = "api.response.error"  # errorCode, null on success
ERROR_MESSAGE = "api.response.message"
REQUEST_DATA = "api.request.data"  # requestParameters as a JSON string
SRC_IP = "src_endpoint.ip"
SRC_DOMAIN = "src_endpoint.domain"  # CloudTrail sourceIPAddress when it is a service name
INVOKED_BY = "actor.invoked_by"  # the AWS service acting, for AWSService principals
USER_AGENT = "http_request.user_agent"
REGION = "cloud.region"
RESOURCES = "resources"  # JSON string: list of {uid, type, account}
STATUS = "status"  # "Success" / "Failure"
STATUS_ID = "status_id"  # 1 success, 2 failure
# Authentication (3002) specifics
AUTH_USER = "user.name"
AUTH_PROTOCOL = "auth_protocol"
LOGON_TYPE = "logon_type"
DST_HOST = "dst_endpoint.hostname"

# Columns loghunt adds to every event so findings join back to the raw record.
EVENT_ID = "event_id"  # stable id: the source's id or a hash of file+line
SOURCE_FILE = "_source_file"
SOURCE_LINE = "_source_line"
