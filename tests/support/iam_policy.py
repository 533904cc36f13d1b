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


def _condition_holds(operator: str, key_values: dict[str, Any], context: dict[str, str]) -> bool:
    for key, expected in key_values.items():
        actual = context.get(key)
        if actual is None:
            return False
        wanted = [str(v).lower() if operator == "Bool" else str(v) for v in listed(expected)]
        if operator in ("StringEquals", "Bool"):
            ok = actual in wanted
        elif operator in ("ArnLike", "StringLike"):
            ok = any(fnmatchcase(actual, pattern) for pattern in wanted)
        else:
            raise AssertionError(f"the evaluator does not know {operator}")
        if not ok:
            return False
    return True


def allowed(
    statements: list[dict], *, service: str | None, action: str, resource: str, context: dict[str, str]
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
