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
* What the job needs (platform, vCPU, memory, GPUs) filters the queues of a tag: a queue whose
  capabilities cannot run the job is passed over with the reason, like a disabled queue, and the
  next tag is tried. A queue without capabilities (items written before they existed, or a queue
  outside the deployment) is "unknown, assumed capable".
* Among the capable queues of a tag, healthy ones are preferred: a queue marked unhealthy (its
  jobs were reported blocked, until ``unhealthy_until``) gets launches only when every capable
  queue of the tag is unhealthy.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from batchlane.routing.scope import EVERYWHERE, Scope

EC2 = "EC2"
FARGATE = "FARGATE"
PLATFORMS = (EC2, FARGATE)
CAPACITY_TYPES = ("on-demand", "spot", "mixed")
X86_64, ARM64 = "X86_64", "ARM64"
ARCHITECTURES = (X86_64, ARM64)


@dataclass(frozen=True)
class Instance:
    """An instance a queue's compute may launch, as a job sees it (memory after ECS's reserve)."""

    name: str
    vcpus: int
    memory: int  # MiB a job can get
    gpus: int

    def gives(self, needs: Needs) -> bool:
        return self.vcpus >= needs.vcpu and self.memory >= needs.memory and self.gpus >= needs.gpu

    def describe(self) -> str:
        return f"{self.name} ({self.vcpus} vCPU, {self.memory} MiB, {self.gpus} GPU)"


@dataclass(frozen=True)
class Capabilities:
    """What a job can get on a queue. Every field is optional: None is "unknown, assumed capable"."""

    platform: str | None = None  # EC2 or FARGATE
    vcpus: float | None = None  # the most vCPUs one job can get
    memory: int | None = None  # the most memory (MiB) one job can get
    gpus: int | None = None  # the most GPUs one job can get (GPUs per instance); 0: none
    capacity: str | None = None  # on-demand, spot or mixed (informational: Spot jobs can be reclaimed)
    architectures: tuple[str, ...] | None = None  # the CPU architectures its instances have (Fargate: both)
    # A fair-share queue (a scheduling policy): Batch's SubmitJob requires a shareIdentifier there
    # and refuses one anywhere else. None: unknown (either is assumed accepted).
    fair_share: bool | None = None
    # The instances the queue's compute may launch; a job must fit ONE of them: the figures above
    # are each the largest of any instance, not one instance's. Empty: unknown.
    instances: tuple[Instance, ...] = ()

    def largest(self) -> list[Instance]:
        """The instances no other one beats in every figure (of equals, the first name)."""

        def figures(i: Instance) -> tuple[int, int, int]:
            return i.vcpus, i.memory, i.gpus

        def beaten(i: Instance) -> bool:
            return any(
                all(a >= b for a, b in zip(figures(o), figures(i))) and (figures(o) != figures(i) or o.name < i.name)
                for o in self.instances
            )

        return [i for i in self.instances if not beaten(i)]

    def fitting(self, needs: Needs) -> Instance | None:
        """The smallest of ``instances`` that can run the job."""
        fits = [i for i in self.instances if i.gives(needs)]
        return min(fits, key=lambda i: (i.vcpus, i.memory, i.gpus, i.name)) if fits else None

    def as_dict(self) -> dict:
        return {
            k: v
            for k, v in (
                ("platform", self.platform),
                ("vcpus", self.vcpus),
                ("memory", self.memory),
                ("gpus", self.gpus),
                ("capacity", self.capacity),
                ("architectures", None if self.architectures is None else list(self.architectures)),
                ("fairShare", self.fair_share),
                ("instances", [vars(i).copy() for i in self.instances] or None),
            )
            if v is not None
        }

    def describe(self) -> str:
        parts = [self.platform or "platform unknown"]
        if self.vcpus is not None:
            parts.append(f"{self.vcpus:g} vCPU")
        if self.memory is not None:
            parts.append(f"{self.memory} MiB")
        if self.gpus is not None:
            parts.append(f"{self.gpus} GPU")
        if self.capacity is not None:
            parts.append(self.capacity)
        if self.architectures is not None:
            parts.append("/".join(self.architectures))
        if self.fair_share:
            parts.append("fair share")
        return ", ".join(parts)


UNKNOWN = Capabilities()


@dataclass(frozen=True)
class Needs:
    """What one job (one child of a map task) asks for. ``platform`` None: the queue's platform."""

    platform: str | None = None
    vcpu: float = 1
    memory: int = 2048  # MiB
    gpu: int = 0
    architecture: str | None = None  # X86_64 or ARM64; None: any
    share: bool = False  # the launch names a shareIdentifier
    nodes: int = 0  # a multi-node parallel job's nodes (0: not one)

    def describe(self) -> str:
        text = f"{self.vcpu:g} vCPU, {self.memory} MiB" + (f", {self.gpu} GPU" if self.gpu else "")
        text += f", {self.nodes} nodes" if self.nodes else ""
        text += f", {self.architecture}" if self.architecture else ""
        text += ", a shareIdentifier" if self.share else ""
        return f"{self.platform} {text}" if self.platform else text

    def unmet(self, caps: Capabilities) -> str | None:
        """Why a queue with ``caps`` cannot run this job, or None when it can (or may)."""
        platform = caps.platform or self.platform
        problems = []
        if self.platform and caps.platform and caps.platform != self.platform:
            problems.append(f"it runs {caps.platform}, the job asks for {self.platform}")
        if self.gpu and (platform == FARGATE or caps.gpus is not None and caps.gpus < self.gpu):
            problems.append(f"{self.gpu} GPU asked, {0 if platform == FARGATE else caps.gpus} available")
        if caps.vcpus is not None and self.vcpu > caps.vcpus:
            problems.append(f"{self.vcpu:g} vCPU asked, at most {caps.vcpus:g}")
        if caps.memory is not None and self.memory > caps.memory:
            problems.append(f"{self.memory} MiB asked, at most {caps.memory}")
        if self.architecture and caps.architectures is not None and self.architecture not in caps.architectures:
            problems.append(
                f"it runs {'/'.join(caps.architectures) or 'no'} instances, the job asks for {self.architecture}"
            )
        if self.nodes and platform == FARGATE:
            problems.append("Fargate runs no multi-node jobs")
        if self.nodes and caps.capacity in ("spot", "mixed"):
            # Batch: "Multi-node parallel jobs aren't supported on compute environments that use Spot Instances".
            problems.append(f"its compute is {caps.capacity} and Batch runs no multi-node job on Spot")
        if platform == EC2 and self.vcpu != int(self.vcpu):
            problems.append(f"EC2 takes whole vCPUs, {self.vcpu:g} asked")
        if caps.fair_share is True and not self.share:
            problems.append("a fair-share queue: Batch requires a shareIdentifier, the launch has none")
        if caps.fair_share is False and self.share:
            problems.append("not a fair-share queue: Batch refuses a shareIdentifier")
        if not problems and caps.instances and caps.fitting(self) is None:
            largest = "; ".join(i.describe() for i in caps.largest())
            problems.append(f"no one instance it may launch gives {self.describe()} (largest: {largest})")
        return "; ".join(problems) or None


ANY_JOB = Needs()


@dataclass(frozen=True)
class Queue:
    name: str  # the AWS Batch job queue name (what SubmitJob receives)
    attributes: tuple[str, ...]
    weight: int = 1
    enabled: bool = True
    capabilities: Capabilities = UNKNOWN
    unhealthy_until: int | None = None  # epoch seconds; set when its jobs were reported blocked
    blocked_reason: str | None = None  # the Queue Blocked reason that marked it

    @property
    def eligible(self) -> bool:
        return self.enabled and self.weight > 0

    def healthy(self, now: float | None) -> bool:
        return now is None or self.unhealthy_until is None or self.unhealthy_until <= now


@dataclass(frozen=True)
class Rule:
    id: str
    tags: tuple[str, ...]
    scope: Scope = EVERYWHERE

    def describe(self) -> str:
        return f"rule {self.id} ({self.scope}) -> tags [{', '.join(self.tags)}]"


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
    unmet: str | None = None  # why this queue cannot run the job
    unhealthy: str | None = None  # why this queue is avoided while a healthy one shares the tag
    fits: str | None = None  # the smallest instance of the queue's compute the job fits on (None: unknown)

    def as_dict(self) -> dict:
        data = {
            "queue": self.queue,
            "weight": self.weight,
            "enabled": self.enabled,
            "share": round(self.share, 4),
            "chosen": self.chosen,
        }
        if self.unmet:
            data["cannotRun"] = self.unmet
        if self.unhealthy:
            data["unhealthy"] = self.unhealthy
        if self.fits:
            data["fitsOn"] = self.fits
        return data


@dataclass(frozen=True)
class Decision:
    queue: str | None
    tag: str | None
    rule: Rule | None
    candidates: tuple[Candidate, ...] = ()
    # why each earlier tag of the rule was passed over, in order
    skipped_tags: tuple[str, ...] = field(default_factory=tuple)
    reason: str = ""
    platform: str | None = None  # the chosen queue's platform (None: unknown)
    needs: Needs = ANY_JOB

    @property
    def matched(self) -> bool:
        return self.queue is not None

    def with_hint(self, hint: str | None) -> tuple[str | None, str | None]:
        """The queue a launch carrying ``queueHint`` goes to, and why the hint was or was not
        followed (None without a hint). The hinted queue is honoured only when routing could have
        chosen it (an enabled candidate with a share of the chosen tag): a hint never widens where
        a launch may run (docs/routing.md)."""
        if not hint:
            return self.queue, None
        if self.queue is None:
            return None, f"hint {hint} ignored: no queue matches"
        if hint == self.queue:
            return self.queue, f"hint {hint} honoured (routing chose it too)"
        if any(c.queue == hint and c.share > 0 for c in self.candidates):
            return hint, f"hint {hint} honoured: a candidate for tag {self.tag}"
        return self.queue, f"hint {hint} ignored: not an enabled candidate with a share of tag {self.tag}"

    def as_dict(self) -> dict:
        rule = None
        if self.rule is not None:
            rule = {"id": self.rule.id, **self.rule.scope.as_dict(), "tags": list(self.rule.tags)}
        return {
            "queue": self.queue,
            "tag": self.tag,
            "rule": rule,
            "candidates": [c.as_dict() for c in self.candidates],
            "skippedTags": list(self.skipped_tags),
            "reason": self.reason,
            "platform": self.platform,
            "needs": {
                "platform": self.needs.platform,
                "vcpu": self.needs.vcpu,
                "memory": self.needs.memory,
                "gpu": self.needs.gpu,
                **({"shareIdentifier": True} if self.needs.share else {}),
                **({"nodes": self.needs.nodes} if self.needs.nodes else {}),
            },
        }


def select_rule(rules: tuple[Rule, ...] | list[Rule], launch: Scope) -> Rule | None:
    applicable = [r for r in rules if r.scope.covers(launch)]
    if not applicable:
        return None
    best = max(r.scope.specificity for r in applicable)
    return min((r for r in applicable if r.scope.specificity == best), key=lambda r: r.id)


def _score(key: str, queue: Queue) -> float:
    """Weighted rendezvous score: the highest score wins; P(win) is proportional to weight."""
    digest = hashlib.sha256(f"{key}\x00{queue.name}".encode()).digest()
    unit = (int.from_bytes(digest[:8], "big") + 1) / (2**64 + 2)  # in (0, 1)
    return -queue.weight / math.log(unit)


def _unhealthy(queue: Queue) -> str:
    return f"blocked ({queue.blocked_reason or 'jobs reported blocked'}) until {queue.unhealthy_until}"


def _pass_over(tag: str, carriers: list[Queue], unmet: dict[str, str]) -> str:
    """Why no queue carrying ``tag`` can take the launch."""
    if not carriers:
        return f"{tag}: no queue carries it"
    if not any(q.eligible for q in carriers):
        return f"{tag}: queues {', '.join(q.name for q in carriers)} are disabled or have weight 0"
    return f"{tag}: " + "; ".join(f"{name} cannot run the job ({why})" for name, why in unmet.items())


def _choose(
    rule: Rule,
    tag: str,
    carriers: list[Queue],
    unmet: dict[str, str],
    key: str,
    skipped: list[str],
    needs: Needs,
    now: float | None,
) -> Decision:
    """The decision among the queues of ``tag`` that can run the job (at least one)."""
    capable = [q for q in carriers if q.eligible and q.name not in unmet]
    healthy = [q for q in capable if q.healthy(now)]
    pool = healthy or capable
    total = sum(q.weight for q in pool)
    chosen = max(pool, key=lambda q: (_score(key, q), q.name))
    avoided = {q.name: _unhealthy(q) for q in capable if q not in pool or not q.healthy(now)}
    candidates = tuple(
        Candidate(
            q.name,
            q.weight,
            q.enabled,
            (q.weight / total) if q in pool else 0.0,
            q is chosen,
            unmet.get(q.name),
            avoided.get(q.name),
            None if (fit := q.capabilities.fitting(needs)) is None else fit.name,
        )
        for q in carriers
    )
    why = f"{rule.describe()}; tag {tag}"
    if skipped:
        why += f" (after passing over {'; '.join(skipped)})"
    if unmet:
        why += f"; passed over {', '.join(unmet)} (cannot run {needs.describe()})"
    if len(pool) < len(capable):
        why += f"; avoided unhealthy {', '.join(q.name for q in capable if q not in pool)}"
    elif not healthy:
        why += "; every capable queue is unhealthy, routing to them anyway"
    if len(pool) > 1:
        why += f"; {chosen.name} chosen by weight among {', '.join(q.name for q in pool)}"
    else:
        why += f"; {chosen.name} is the only {'healthy ' if healthy else ''}enabled queue with it that can run the job"
    return Decision(chosen.name, tag, rule, candidates, tuple(skipped), why, chosen.capabilities.platform, needs)


def decide(
    table: RoutingTable,
    project: str,
    domain: str,
    workflow: str,
    key: str,
    needs: Needs = ANY_JOB,
    now: float | None = None,
) -> Decision:
    """Choose the job queue for one launch; ``key`` (the launch id) makes the choice repeatable,
    ``needs`` passes over queues that cannot run the job, ``now`` (epoch seconds) makes unhealthy
    queues avoided (None: health is not considered)."""
    launch = Scope(project, domain, workflow)
    rule = select_rule(table.rules, launch)
    if rule is None:
        return Decision(None, None, None, reason=f"no routing rule applies to {launch}", needs=needs)
    skipped: list[str] = []
    for tag in rule.tags:
        carriers = [q for q in table.queues if tag in q.attributes]
        unmet = {q.name: why for q in carriers if q.eligible and (why := needs.unmet(q.capabilities))}
        if any(q.eligible and q.name not in unmet for q in carriers):
            return _choose(rule, tag, carriers, unmet, key, skipped, needs, now)
        skipped.append(_pass_over(tag, carriers, unmet))
    unable = any("cannot run the job" in s for s in skipped)
    which = f"that can run {needs.describe()} " if unable else ""
    return Decision(
        None,
        None,
        rule,
        (),
        tuple(skipped),
        reason=f"{rule.describe()} applies to {launch}, but no enabled queue {which}carries any of its tags "
        f"({'; '.join(skipped)})",
        needs=needs,
    )
