"""The environment variables a launch may not set, and why (pure): the table the launch contract
checks ``container.environment`` against (docs/launch-event.md#reserved-environment-variables)."""

from __future__ import annotations

# Environment variables a launch may not set (docs/launch-event.md#reserved-environment-variables):
# what would change the job's credentials or where its AWS calls go, or what batchlane, AWS Batch and
# the ECS agent tell the container: batchlane's own guarantees. How the image loads its programs
# (PATH, LD_LIBRARY_PATH for CUDA images) is the image's business. Compared in upper case.
_CREDENTIALS = "sets or finds AWS credentials: a job's credentials come from its job role only"
_ENDPOINTS = "changes where AWS SDK calls go or how they are verified"
RESERVED_ENV_NAMES: dict[str, str] = {
    **dict.fromkeys(
        (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_CREDENTIAL_EXPIRATION",
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN",
            "AWS_ROLE_SESSION_NAME",
            "AWS_CREDENTIAL_FILE",
        ),
        _CREDENTIALS,
    ),
    **dict.fromkeys(
        (
            "AWS_CA_BUNDLE",
            "AWS_USE_FIPS_ENDPOINT",
            "AWS_USE_DUALSTACK_ENDPOINT",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            "AWS_STS_REGIONAL_ENDPOINTS",
            "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT",
        ),
        _ENDPOINTS,
    ),
    # Set by batchlane on every job for Flyte (docs/launch-event.md).
    "BATCH_JOB_ARRAY_INDEX_VAR_NAME": "is set by batchlane: it names the variable holding the array index",
    "FLYTE_FAIL_ON_ERROR": "is set by batchlane for Flyte tasks",
    "BATCH_JOB_ARRAY_INDEX_OFFSET": "is set by batchlane: a chunk's first index (docs/chunked-maps.md)",
}
RESERVED_ENV_PREFIXES: dict[str, str] = {
    "AWS_CONTAINER_": _CREDENTIALS,  # the ECS credentials endpoint and its token
    "AWS_EC2_METADATA_": _CREDENTIALS,  # instance metadata, where SDKs look for credentials
    "AWS_ENDPOINT_URL": _ENDPOINTS,  # AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>
    "AWS_BATCH_": "set by AWS Batch (the array index, the job id, ...)",
    "ECS_": "read by the ECS agent and set by ECS",
    "BATCHLANE_": "set by batchlane (the launch id, inputs and outputs locations)",
}
ENV_NAME_RE = r"[A-Za-z_][A-Za-z0-9_]{0,254}"


def reserved_env_problem(name: str) -> str | None:
    """Why a launch may not set this environment variable, or None (pure)."""
    upper = name.upper()
    why = RESERVED_ENV_NAMES.get(upper) or next(
        (reason for prefix, reason in RESERVED_ENV_PREFIXES.items() if upper.startswith(prefix)), None
    )
    return f"{name} is reserved: it {why} (docs/launch-event.md#reserved-environment-variables)" if why else None
