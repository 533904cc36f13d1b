"""An IAM policy evaluator over synthesized templates (tests only): intrinsics rendered to the ARNs
a deployment would have, statements evaluated with resources and conditions as IAM does for one
policy (an explicit deny wins, then an allow); and the IAM action and resource each AWS call needs."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any


def render(value: Any, refs: dict[str, str], *, account: str, region: str, partition: str = "aws") -> Any:
    """A template value with its intrinsics resolved: pseudo parameters, Refs and GetAtt as ``refs``
    (or a placeholder ARN of realistic length), Fn::Join joined."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            pseudo = {"AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": partition}
            return pseudo.get(arg, refs.get(arg, f"arn:aws:placeholder:{region}:{account}:{arg}"))
        if key == "Fn::GetAtt":
            return refs.get(".".join(arg), f"arn:aws:placeholder:{region}:{account}:{'/'.join(arg)}")
        if key == "Fn::Join":
            return arg[0].join(str(render(part, refs, account=account, region=region)) for part in arg[1])
    if isinstance(value, dict):
        return {k: render(v, refs, account=account, region=region) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, refs, account=account, region=region) for v in value]
    return value


def listed(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _value_holds(operator: str, actual: str, wanted: list[str]) -> bool:
    if operator in ("StringEquals", "Bool"):
        return actual in wanted
    if operator in ("ArnLike", "StringLike"):
        return any(fnmatchcase(actual, pattern) for pattern in wanted)
    raise AssertionError(f"the evaluator does not know {operator}")


def _condition_holds(operator: str, key_values: dict[str, Any], context: dict[str, Any]) -> bool:
    """One condition operator. A multivalued key (``ForAllValues:``, e.g. dynamodb:LeadingKeys) holds
    when every value of the request matches, and, as in IAM, when the request has no such key."""
    qualifier, _, base = operator.rpartition(":")
    for key, expected in key_values.items():
        actual = context.get(key)
        wanted = [str(v).lower() if base == "Bool" else str(v) for v in listed(expected)]
        if qualifier == "ForAllValues":
            ok = actual is None or all(_value_holds(base, v, wanted) for v in listed(actual))
        elif qualifier == "ForAnyValue":
            ok = actual is not None and any(_value_holds(base, v, wanted) for v in listed(actual))
        elif qualifier:
            raise AssertionError(f"the evaluator does not know {operator}")
        else:
            ok = actual is not None and _value_holds(base, actual, wanted)
        if not ok:
            return False
    return True


def allowed(
    statements: list[dict], *, service: str | None, action: str, resource: str, context: dict[str, Any]
) -> bool:
    """A policy's answer: a resource policy's for a service principal, an identity policy's for its
    role (``service`` None)."""

    def matches(statement: dict) -> bool:
        principal = statement.get("Principal", {})
        services = listed(principal.get("Service", [])) if isinstance(principal, dict) else []
        if service is not None and principal != "*" and principal != {"AWS": "*"} and service not in services:
            return False
        if not any(fnmatchcase(action, a) for a in listed(statement["Action"])):
            return False
        if not any(fnmatchcase(resource, r) for r in listed(statement["Resource"])):
            return False
        conditions = statement.get("Condition", {})
        return all(_condition_holds(op, kv, context) for op, kv in conditions.items())

    matching = [s for s in statements if matches(s)]
    return not any(s["Effect"] == "Deny" for s in matching) and any(s["Effect"] == "Allow" for s in matching)


def template_refs(resources: dict[str, dict], *, account: str, region: str) -> dict[str, str]:
    """The ARNs of a template's named tables, buses, job queues and roles, keyed as ``render`` looks
    them up (``<logical id>.Arn``, or the logical id for a Ref that is an ARN)."""
    refs = {}
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::DynamoDB::Table":
            refs[f"{logical_id}.Arn"] = f"arn:aws:dynamodb:{region}:{account}:table/{props['TableName']}"
        elif resource["Type"] == "AWS::Events::EventBus":
            refs[f"{logical_id}.Arn"] = f"arn:aws:events:{region}:{account}:event-bus/{props['Name']}"
        elif resource["Type"] == "AWS::Batch::JobQueue":
            arn = f"arn:aws:batch:{region}:{account}:job-queue/{props['JobQueueName']}"
            refs[logical_id] = refs[f"{logical_id}.JobQueueArn"] = arn
        elif resource["Type"] == "AWS::IAM::Role" and "RoleName" in props:
            refs[f"{logical_id}.Arn"] = f"arn:aws:iam::{account}:role/{props['RoleName']}"
    return refs
