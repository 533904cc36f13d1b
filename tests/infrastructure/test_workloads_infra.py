"""Issue 28 in the synthesized template: a secretsAllowed grant's execution role reads its own
secrets; the deployment's execution role reads none; the launcher may pass both."""

from __future__ import annotations

from test_tenancy_iam import role_allows

from stacks.nag import flatten_cfn_reference

PARAMETER = "arn:<AWS::Partition>:ssm:{region}:<AWS::AccountId>:parameter/"


def _reads(synth, role, name: str) -> bool:
    """Whether the role's policies allow ssm:GetParameters on the parameter ``/name``."""
    arn = PARAMETER.format(region=synth.config.region) + name
    return role_allows(synth, role, "ssm:GetParameters", arn, flatten_cfn_reference)


def test_only_the_grants_execution_role_reads_the_grants_parameters(dev):
    compute = dev.stack.compute
    granted = compute.secrets_execution_roles["genomics"]
    assert _reads(dev, granted, "batchlane-dev/genomics/db-password")
    assert not _reads(dev, granted, "batchlane-dev/vision/db-password")
    assert not _reads(dev, granted, "batchlane/dev/limits")  # batchlane's own settings
    assert not _reads(dev, compute.execution_role, "batchlane-dev/genomics/db-password")
    passable = [dev.resolve(arn) for arn in compute.passable_role_arns]
    assert dev.resolve(granted.role_arn) in passable


def _statements(synth, role):
    ref = {"Ref": synth.logical_id(role)}
    for policy in synth.resources("AWS::IAM::Policy").values():
        if ref in policy["Properties"]["Roles"]:
            yield from policy["Properties"]["PolicyDocument"]["Statement"]


def test_declared_volumes_are_mounted_by_their_projects_job_roles_only(dev):
    def mounts(role_name):
        role = dev.stack.compute.job_roles[role_name]
        return [
            (s["Action"], flatten_cfn_reference(s["Resource"]), dev.stack.resolve(s.get("Condition")))
            for s in _statements(dev, role)
            if "elasticfilesystem" in str(s["Action"])
        ]

    arn = f"arn:<AWS::Partition>:elasticfilesystem:{dev.config.region}:<AWS::AccountId>:"
    reference = ("elasticfilesystem:ClientMount", arn + "file-system/fs-0123456789abcdef0", None)  # read-only
    scratch = (
        ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
        arn + "file-system/fs-00000000aaaaaaaa1",
        {"StringEquals": {"elasticfilesystem:AccessPointArn": "<through the access point>"}},
    )
    found = mounts("genomics")
    assert found[0] == reference and found[1][:2] == scratch[:2]
    [access_point] = found[1][2]["StringEquals"].values()
    assert flatten_cfn_reference(access_point) == arn + "access-point/fsap-0123456789abcdef0"
    assert mounts("default") == found  # projects "*": genomics' launches may run as it
    assert mounts("flytesnacks") == []
