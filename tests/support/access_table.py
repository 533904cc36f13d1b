"""Who may read and write what, computed from a synthesized template (docs/security.md, "What IAM
allows"): every principal (each team's producer policy, each role of the template, the CLI's managed
policies) evaluated against every key of every kind of launch data and every launch item, for
ordinary and adversarial ids, projects and domains; rendered as the Markdown table the doc holds.

``PYTHONPATH=lambdas:toolkit:. python tests/support/access_table.py`` synthesizes the dev deployment
and rewrites the table in docs/security.md and the Flyte connector's policy the Flyte tests check
its calls against (tests/fixtures/connector-policy.json)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from batchlane.common.executions import BY_TEAM_INDEX, launch_key, team_prefix
from batchlane.common.tenancy import CHILDREN, INPUTS, OUTPUTS, PARTS, LaunchData
from batchlane.deployment.contract import FLYTE_CONNECTOR_SOURCE
from batchlane.schema_docs import with_block
from iam_policy import allowed, listed, render, template_refs

ACCOUNT, REGION = "123456789012", "us-east-1"
BUCKET = "batchlane-data"
# Ids, projects and domains that imitate a fixed segment, a file, a typed segment or another tenant.
HOSTILE_IDS = ("L1", "outputs", "children", "inputs.jsonl", "outputs.json", "dev", "genomics", "t=genomics", "p=x")
DOMAINS = ("development", "dev", "prod")
EXTRA_PROJECTS = ("other", "dev", "outputs")
KINDS = (INPUTS, CHILDREN, OUTPUTS, PARTS)
SUFFIX = {INPUTS: "inputs.jsonl", CHILDREN: "0/outputs.json", OUTPUTS: "outputs.json", PARTS: "000000"}
ITEMS, ROUTING = "launch items", "routing items"
COLUMNS = (*KINDS, ITEMS, ROUTING)
READ, WRITE = "read", "write"
DATA_ACTIONS = {READ: ("s3:GetObject",), WRITE: ("s3:PutObject", "s3:DeleteObject")}
ITEM_ACTIONS = {
    READ: ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"),
    WRITE: ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"),
}
ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
# The Flyte connector's team's policy as the dev template has it (rendered with moto's account), for
# tests/flyte, whose venv cannot synthesize: they check the connector's calls against it.
CONNECTOR_POLICY = ROOT / "tests" / "fixtures" / "connector-policy.json"
BLOCK, GENERATOR = "access-table", "tests/support/access_table.py from the dev template"
REGENERATE = "PYTHONPATH=lambdas:toolkit:. python tests/support/access_table.py"

# A category of keys relative to a principal: (own team?, own project?), None where it has no such notion.
Category = tuple[bool | None, bool | None]


@dataclass
class Principal:
    kind: str  # team, job role, function, role, policy
    name: str  # as the table shows it, after its kind
    statements: list[dict]  # rendered: the ARNs of the deployment
    team: str | None = None
    projects: Callable[[str, str], bool] | None = None  # which project/domain pairs are its own
    _about: dict[str, list[dict]] = field(default_factory=dict)

    def about(self, action: str) -> list[dict]:
        """The statements naming ``action`` (the others cannot change the answer)."""
        if action not in self._about:
            self._about[action] = [
                s for s in self.statements if any(fnmatchcase(action, a) for a in listed(s["Action"]))
            ]
        return self._about[action]


@dataclass
class Reach:
    """For one principal, column and mode: each category's keys, and those allowed."""

    keys: dict[Category, int] = field(default_factory=dict)
    allowed: dict[Category, int] = field(default_factory=dict)

    def add(self, category: Category, ok: bool) -> None:
        self.keys[category] = self.keys.get(category, 0) + 1
        self.allowed[category] = self.allowed.get(category, 0) + ok

    @property
    def full(self) -> set[Category]:
        return {c for c, n in self.keys.items() if self.allowed[c] == n}

    @property
    def partial(self) -> set[Category]:
        return {c for c, n in self.keys.items() if 0 < self.allowed[c] < n}

    def only(self, *categories: Category) -> bool:
        """Whether exactly these categories are allowed, each for every key (every id)."""
        return not self.partial and self.full == set(categories) & set(self.keys)

    def __str__(self) -> str:
        if not self.full and not self.partial:
            return "—"
        if self.full == set(self.keys):
            return "all"
        text = _describe(self.full, set(self.keys))
        partial = [f"some keys of {_describe({c}, set(self.keys))}" for c in sorted(self.partial, key=str)]
        return ", ".join(filter(None, [text, *partial]))


def _describe(categories: set[Category], universe: set[Category]) -> str:
    """``own team``, ``other projects``...: a dimension all of whose values (in ``universe``) are
    taken is left out; categories that are no rectangle are listed one by one."""
    if not categories:
        return ""
    teams, projects = {c[0] for c in categories}, {c[1] for c in categories}
    rectangle = {c for c in universe if c[0] in teams and c[1] in projects}
    if rectangle != categories:
        return " + ".join(_describe({c}, universe) for c in sorted(categories, key=str))
    words = []
    if teams != {c[0] for c in universe}:
        words.append("own team" if teams == {True} else "other teams")
    if projects != {c[1] for c in universe}:
        words.append("own projects" if projects == {True} else "other projects")
    return " × ".join(words) or "all"


def _refs(synth) -> dict[str, str]:
    refs = template_refs(synth.json["Resources"], account=ACCOUNT, region=REGION)
    refs[f"{synth.logical_id(synth.stack.state.bucket)}.Arn"] = f"arn:aws:s3:::{BUCKET}"
    return refs


def _arn(synth, value) -> str:
    return render(synth.resolve(value), _refs(synth), account=ACCOUNT, region=REGION)


def _statements(refs: dict[str, str], documents: list[dict]) -> list[dict]:
    return [s for doc in documents for s in render(doc["Statement"], refs, account=ACCOUNT, region=REGION)]


def _role_documents(synth, logical_id: str) -> list[dict]:
    """Every policy document of the role: inline, AWS::IAM::Policy and template managed policies.
    Managed policies from outside the template are not evaluated (the name says so)."""
    ref = {"Ref": logical_id}
    role = synth.json["Resources"][logical_id]["Properties"]
    documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
    for resource_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        documents += [
            p["Properties"]["PolicyDocument"]
            for p in synth.resources(resource_type).values()
            if ref in p["Properties"].get("Roles", [])
        ]
    return documents


def principals(synth) -> list[Principal]:
    """Each team's producer policy, every role of the template, the CLI's managed policies."""
    config, stack, refs = synth.config, synth.stack, _refs(synth)
    managed = {
        p["Properties"]["ManagedPolicyName"]: p["Properties"]["PolicyDocument"]
        for p in synth.resources("AWS::IAM::ManagedPolicy").values()
    }
    out = [
        Principal(
            "team",
            f"`{t.name}` (`producer-{t.name}`)",
            _statements(refs, [managed[config.producer_policy_name(t.name)]]),
            team=t.name,
            projects=t.may_launch,
        )
        for t in config.teams
    ]
    job_roles = {synth.logical_id(stack.compute.job_roles[r.name]): r for r in config.job_roles}
    functions = {synth.logical_id(f.role): n for n, f in _functions(stack).items()}
    for role in _template_roles(stack):
        logical_id = synth.logical_id(role)
        statements = _statements(refs, _role_documents(synth, logical_id))
        if logical_id in job_roles:
            out.append(_job_role(job_roles[logical_id], statements, default=config.default_role))
        elif logical_id in functions:
            out.append(Principal("function", f"`{functions[logical_id]}`", statements))
        else:
            out.append(Principal("role", f"`{role.node.path.split('/', 1)[1].removesuffix('/Resource')}`", statements))
        if synth.json["Resources"][logical_id]["Properties"].get("ManagedPolicyArns"):
            out[-1].name += " (+ AWS managed policies, not evaluated)"
    out += [
        Principal("policy", f"`{name}`", _statements(refs, [managed[config.account_wide_name(name)]]))
        for name in ("operator-read", "router-editor")
    ]
    return out


def _job_role(role, statements: list[dict], default: str | None) -> Principal:
    """A job role's own projects are those it serves (any domain)."""
    patterns = tuple(role.projects)
    name = f"`{role.name}` (projects {', '.join(f'`{p}`' for p in patterns)})"
    return Principal(
        "job role",
        name + ("; the default role" if role.name == default else ""),
        statements,
        projects=lambda project, _domain: any(fnmatchcase(project, p) for p in patterns),
    )


def _functions(stack) -> dict:
    return {
        "launcher": stack.launch.function,
        "aggregator": stack.status.function,
        "reconciler": stack.status.reconciler,
    }


def _template_roles(stack) -> list:
    from aws_cdk import aws_iam as iam

    return [c for c in stack.node.find_all() if isinstance(c, iam.CfnRole)]


def _data_keys(synth) -> Iterator[tuple[str, str, str, str, str]]:
    """(kind, team, project, domain, key): the config's teams and projects, adversarial ones."""
    teams = [t.name for t in synth.config.teams] or ["_"]
    literal = {p for r in synth.config.job_roles for p in r.projects if "*" not in p}
    projects = sorted(literal | set(EXTRA_PROJECTS))
    for team, project, domain, launch_id in itertools.product(teams, projects, DOMAINS, HOSTILE_IDS):
        data = LaunchData(team, project, domain, launch_id)
        for kind in KINDS:
            yield kind, team, project, domain, f"{data.prefix(kind)}{SUFFIX[kind]}"


def _can(p: Principal, actions: tuple[str, ...], resource: str, context: dict | None = None) -> bool:
    return any(
        allowed(about, service=None, action=a, resource=resource, context=context or {})
        for a in actions
        if (about := p.about(a))
    )


Cells = dict[tuple[str, str], Reach]  # (column, mode) -> what a principal reaches


@dataclass(frozen=True)
class Universe:
    """What every principal is evaluated against: the deployment's keys, items and tables."""

    keys: list[tuple[str, str, str, str, str]]  # (kind, team, project, domain, key)
    teams: list[str]
    table_arn: str
    routing_arn: str

    @classmethod
    def of(cls, synth) -> Universe:
        state = synth.stack.state
        teams = [t.name for t in synth.config.teams] or ["_"]
        return cls(
            list(_data_keys(synth)), teams, _arn(synth, state.executions_table.table_arn),
            _arn(synth, state.routing_table.table_arn),
        )  # fmt: skip

    def reach(self, p: Principal) -> Cells:
        """What ``p`` reads and writes, for every column."""
        cells = {(c, m): Reach() for c in COLUMNS for m in (READ, WRITE)}
        for mode, actions in DATA_ACTIONS.items():
            for kind, team, project, domain, key in self.keys:
                own = (
                    None if p.team is None else team == p.team,
                    None if p.projects is None else p.projects(project, domain),
                )
                cells[kind, mode].add(own, _can(p, actions, f"arn:aws:s3:::{BUCKET}/{key}"))
        for mode, actions in ITEM_ACTIONS.items():
            # Through an index or a scan: any team's items (no partition key of a team in the request).
            scan = ("dynamodb:Scan",) if mode == READ else ()
            anyone = _can(p, actions + scan, f"{self.table_arn}/index/byJobId") or _can(p, scan, self.table_arn)
            for team, launch_id in itertools.product(self.teams, HOSTILE_IDS):
                context = {"dynamodb:LeadingKeys": launch_key(team, launch_id)}
                ok = anyone or _can(p, actions, self.table_arn, context) or (mode == READ and self.lists(p, team))
                cells[ITEMS, mode].add((None if p.team is None else team == p.team, None), ok)
            cells[ROUTING, mode].add((None, None), _can(p, actions, self.routing_arn))
        return cells

    def lists(self, p: Principal, team: str) -> bool:
        """Whether ``p`` lists ``team``'s launch items (`batchlane launches`: the index's key is the team's prefix)."""
        listing = f"{self.table_arn}/index/{BY_TEAM_INDEX}"
        return _can(p, ("dynamodb:Query",), listing, {"dynamodb:LeadingKeys": team_prefix(team)})


def reach(synth) -> list[tuple[Principal, Cells]]:
    """Every principal, and what it reads and writes, for every column."""
    universe = Universe.of(synth)
    return [(p, universe.reach(p)) for p in principals(synth)]


def _cell(read: Reach, write: Reach) -> str:
    r, w = str(read), str(write)
    if r == w:
        return "—" if r == "—" else f"read, write: {r}"
    return "; ".join(f"{mode}: {text}" for mode, text in ((READ, r), (WRITE, w)) if text != "—")


def markdown(reached: list[tuple[Principal, Cells]]) -> str:
    lines = ["| principal | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for p, cells in reached:
        row = [f"{p.kind} {p.name}", *(_cell(cells[c, READ], cells[c, WRITE]) for c in COLUMNS)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def documented(table: str) -> str:
    """docs/security.md with ``table`` as its access table."""
    return with_block(DOC.read_text(), BLOCK, table, GENERATOR)


def connector_policy(synth) -> str:
    """The statements of the Flyte connector's team's policy, rendered, as JSON."""
    [team] = [t for t in synth.config.teams if set(t.sources) == {FLYTE_CONNECTOR_SOURCE}]
    [document] = [
        p["Properties"]["PolicyDocument"]
        for p in synth.resources("AWS::IAM::ManagedPolicy").values()
        if p["Properties"]["ManagedPolicyName"] == synth.config.producer_policy_name(team.name)
    ]
    return json.dumps(_statements(_refs(synth), [document]), indent=2, sort_keys=True) + "\n"


def main() -> None:
    from tests.infrastructure.conftest import synthesize

    dev = synthesize("dev")
    DOC.write_text(documented(markdown(reach(dev))))
    CONNECTOR_POLICY.write_text(connector_policy(dev))
    print(DOC, CONNECTOR_POLICY)


if __name__ == "__main__":
    main()
