"""Grants of exactly the calls batchlane's functions make.

aws-cdk-lib's helpers grant families: ``grant_put`` adds legal hold, retention and tagging,
``grant_read`` adds ``s3:GetBucket*`` and ``s3:List*``, ``Table.grant`` adds every action to the
table's indexes too. These give each action to the resources it is called on, nothing more.
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

LAUNCH_DATA = "launches/*"


def grant_objects(bucket: s3.IBucket, grantee: iam.IGrantable, *actions: str, prefix: str = LAUNCH_DATA) -> None:
    """``actions`` on the objects under ``prefix`` of ``bucket``."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=list(actions), resources=[bucket.arn_for_objects(prefix)])
    )


def grant_missing_as_absent(bucket: s3.IBucket, grantee: iam.IGrantable) -> None:
    """``s3:ListBucket`` on ``bucket``: without it S3 answers a GetObject of a missing key with 403
    AccessDenied rather than 404 NoSuchKey, and a child without outputs would read as a failure.
    Not conditioned on ``s3:prefix``: that key is absent from the GetObject a 404 is decided for."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
    )


def grant_items(
    table: dynamodb.ITable, grantee: iam.IGrantable, *actions: str, on_indexes: tuple[str, ...] = ()
) -> None:
    """``actions`` on ``table``; ``on_indexes`` (e.g. Query) on its secondary indexes too."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(actions=list(actions), resources=[table.table_arn])
    )
    if on_indexes:
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=list(on_indexes), resources=[f"{table.table_arn}/index/*"])
        )
