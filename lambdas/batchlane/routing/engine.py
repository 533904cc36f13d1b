"""The one routing function, shared by the launcher, the CLI and the sandbox.

Semantics (the seed guide's documented behaviour, not Flyte's code path):

* A rule names any of project, domain and workflow, and applies when every field it names
  matches the launch. A rule that names nothing applies to every launch.
* The most specific applicable rule wins: naming the workflow beats naming the project,
  which beats naming the domain (compared in that order, so {project, domain} beats
  {project}, and {workflow} beats {project, domain}). Two applicable rules can only tie when
  they name the same fields with the same values; the one whose id sorts first wins (imported
  FlyteAdmin rules get ids in file order, so the earlier one in the file wins).
* The winning rule's tags are tried in order; the first tag carried by at least one enabled
  queue with a weight above zero wins. The most specific rule is final: there is no fallback
  to a less specific rule (a disabled queue is a visible rejection, not a silent reroute).
* Several queues carrying that tag share launches in proportion to their weights. The choice
  is deterministic per launch id (weighted rendezvous hashing), so a redelivered launch picks
  the same queue and adding a queue moves only its share of the launches.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Queue:
    name: str  # the AWS Batch job queue name (what SubmitJob receives)
    attributes: tuple[str, ...]
    weight: int = 1
    enabled: bool = True

    @property
    def eligible(self) -> bool:
        return self.enabled and self.weight > 0


@dataclass(frozen=True)
class Rule:
    id: str
    tags: tuple[str, ...]
    project: str | None = None
    domain: str | None = None
    workflow: str | None = None

    def applies_to(self, project: str, domain: str, workflow: str) -> bool:
        return (
            (self.project is None or self.project == project)
            and (self.domain is None or self.domain == domain)
            and (self.workflow is None or self.workflow == workflow)
        )

    @property
    def specificity(self) -> tuple[bool, bool, bool]:
        return (self.workflow is not None, self.project is not None, self.domain is not None)

    def describe(self) -> str:
        named = [f"{k}={v}" for k, v in (("project", self.project), ("domain", self.domain), ("workflow", self.workflow)) if v is not None]
        return f"rule {self.id} ({', '.join(named) or 'matches everything'}) -> tags [{', '.join(self.tags)}]"


@dataclass(frozen=True)
class RoutingTable:
    queues: tuple[Queue, ...] = ()
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Candidate:
    queue: str
    weight: int
    enabled: bool
    share: float  # the fraction of launches this queue receives for this tag
    chosen: bool = False

    def as_dict(self) -> dict:
        return {"queue": self.queue, "weight": self.weight, "enabled": self.enabled,
                "share": round(self.share, 4), "chosen": self.chosen}


@dataclass(frozen=True)
class Decision:
    queue: str | None
    tag: str | None
    rule: Rule | None
    candidates: tuple[Candidate, ...] = ()
    # why each earlier tag of the rule was passed over, in order
    skipped_tags: tuple[str, ...] = field(default_factory=tuple)
    reason: str = ""

    @property
    def matched(self) -> bool:
        return self.queue is not None

    def as_dict(self) -> dict:
        rule = None
        if self.rule is not None:
            rule = {"id": self.rule.id, "project": self.rule.project, "domain": self.rule.domain,
                    "workflow": self.rule.workflow, "tags": list(self.rule.tags)}
        return {
            "queue": self.queue,
            "tag": self.tag,
            "rule": rule,
            "candidates": [c.as_dict() for c in self.candidates],
            "skippedTags": list(self.skipped_tags),
            "reason": self.reason,
        }


def select_rule(rules: tuple[Rule, ...] | list[Rule], project: str, domain: str, workflow: str) -> Rule | None:
    applicable = [r for r in rules if r.applies_to(project, domain, workflow)]
    if not applicable:
        return None
    best = max(r.specificity for r in applicable)
    return min((r for r in applicable if r.specificity == best), key=lambda r: r.id)


def _score(key: str, queue: Queue) -> float:
    """Weighted rendezvous score: the highest score wins; P(win) is proportional to weight."""
    digest = hashlib.sha256(f"{key}\x00{queue.name}".encode()).digest()
    unit = (int.from_bytes(digest[:8], "big") + 1) / (2**64 + 2)  # in (0, 1)
    return -queue.weight / math.log(unit)


def decide(table: RoutingTable, project: str, domain: str, workflow: str, key: str) -> Decision:
    """Choose the job queue for one launch; ``key`` (the launch id) makes the choice repeatable."""
    where = f"project={project}, domain={domain}, workflow={workflow}"
    rule = select_rule(table.rules, project, domain, workflow)
    if rule is None:
        return Decision(None, None, None, reason=f"no routing rule applies to {where}")
    skipped: list[str] = []
    for tag in rule.tags:
        carriers = [q for q in table.queues if tag in q.attributes]
        eligible = [q for q in carriers if q.eligible]
        if not eligible:
            if carriers:
                skipped.append(f"{tag}: queues {', '.join(q.name for q in carriers)} are disabled or have weight 0")
            else:
                skipped.append(f"{tag}: no queue carries it")
            continue
        total = sum(q.weight for q in eligible)
        chosen = max(eligible, key=lambda q: (_score(key, q), q.name))
        candidates = tuple(
            Candidate(q.name, q.weight, q.enabled, (q.weight / total) if q.eligible else 0.0, q is chosen)
            for q in carriers
        )
        why = f"{rule.describe()}; tag {tag}"
        if skipped:
            why += f" (after passing over {'; '.join(skipped)})"
        if len(eligible) > 1:
            why += f"; {chosen.name} chosen by weight among {', '.join(q.name for q in eligible)}"
        else:
            why += f"; {chosen.name} is the only enabled queue with it"
        return Decision(chosen.name, tag, rule, candidates, tuple(skipped), why)
    return Decision(
        None, None, rule, (), tuple(skipped),
        reason=f"{rule.describe()} applies to {where}, but no enabled queue carries any of its tags ({'; '.join(skipped)})",
    )
