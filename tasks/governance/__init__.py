"""Data governance beyond the paper (issue 18): secrets/PII redaction, licence detection and policy, opt-out.

Pure functions the stages call; see README.md beside this file for what each module does and how the
stages wire them.
"""
from tasks.governance.config import GovernanceConfig, PiiConfig, RedactConfig, ScanConfig, config_from_params
from tasks.governance.findings import EMAIL, IP_ADDRESS, KEY, PASSWORD, TYPES, Finding
from tasks.governance.license_policy import CATEGORIES, Decision, LicensePolicy, classify, license_policy_from_params
from tasks.governance.licenses import LicenseResult, detect_repo_license, normalize_expression, same_license
from tasks.governance.optout import OptOutList, optout_from_params
from tasks.governance.redact import redact
from tasks.governance.scan import ScanError, scan

__all__ = [
    "CATEGORIES", "EMAIL", "IP_ADDRESS", "KEY", "PASSWORD", "TYPES", "Decision", "Finding", "GovernanceConfig",
    "LicensePolicy", "LicenseResult", "OptOutList", "PiiConfig", "RedactConfig", "ScanConfig", "ScanError",
    "classify", "config_from_params", "detect_repo_license", "license_policy_from_params", "normalize_expression",
    "optout_from_params", "redact", "same_license", "scan",
]
