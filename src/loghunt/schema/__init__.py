"""Map source formats to OCSF-shaped columns and find each column's security role."""

from loghunt.schema.normalize import is_cloudtrail, normalize
from loghunt.schema.roles import FieldRoles, failure_mask, infer_roles

__all__ = ["FieldRoles", "failure_mask", "infer_roles", "is_cloudtrail", "normalize"]
