"""Sandbox scenario files (YAML): what to launch, how the simulated Batch jobs behave, and how
their events are delivered. The format is documented in docs/sandbox.md."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from batchlane.sandbox.simulate import CANNOT_PULL, SPOT_RECLAIMED, AttemptPlan, ChildPlan


class ScenarioError(ValueError):
    """A scenario file that cannot be used (the message names the key)."""


@dataclass(frozen=True)
class Failure:
    attempt: int  # 1-based
    exit_code: int | None = None  # the container ran and exited with this code
    error: str | None = None  # the container never started (e.g. CannotPullContainerError: ...)
    reason: str | None = None  # statusReason of the attempt (default: Batch's own wording)

    def plan(self) -> AttemptPlan:
        if self.error is not None:
            return AttemptPlan(outcome="nostart")
        return AttemptPlan(outcome="exit", exit_code=self.exit_code if self.exit_code is not None else 1)


@dataclass(frozen=True)
class ChildBehaviour:
    failures: tuple[Failure, ...] = ()
    run_seconds: float | None = None
    queue_blocked: bool = False

    def plan(self, max_attempts: int, pending: bool) -> ChildPlan:
        by_attempt = {f.attempt: f for f in self.failures}
        attempts: list[AttemptPlan] = []
        for k in range(1, max_attempts + 1):
            failure = by_attempt.get(k)
            if failure is None:
                attempts.append(AttemptPlan())
                break
            attempts.append(failure.plan())
        return ChildPlan(attempts=tuple(attempts), pending=pending, blocked=self.queue_blocked)

    def failure(self, attempt: int) -> Failure | None:
        return next((f for f in self.failures if f.attempt == attempt), None)


@dataclass(frozen=True)
class Delivery:
    """How EventBridge delivers the job's events: at least once, in any order, late."""

    duplicate: float = 0.0  # fraction of events delivered twice
    reorder: float = 0.0  # fraction of events held back by up to reorder_window_seconds
    reorder_window_seconds: float = 1.0
    delay_seconds: float = 0.0  # added to every event
    jitter_seconds: float = 0.0  # uniform extra delay in [0, jitter]
    drop: float = 0.0  # fraction of events never delivered (lost: only the reconciler can repair them)


@dataclass(frozen=True)
class LaunchSpec:
    name: str
    detail: Any = None  # the Task Launch Requested detail (any JSON: malformed ones too)
    sqs_body: str | None = None  # a raw message put straight on the launcher's buffer (poison)
    source: str = "sandbox.scenario"
    at_seconds: float = 0.0
    run_seconds: float = 0.5
    children: dict[int, ChildBehaviour] = field(default_factory=dict)
    default_child: ChildBehaviour = ChildBehaviour()
    delivery: Delivery = Delivery()
    expect: dict[str, Any] = field(default_factory=dict)
    execute: str | None = None  # "local" | "simulated"; None: the sandbox's choice (docs/sandbox.md)
    attempt_duration_seconds: float | None = None  # local execution: replaces the job's timeout (>= 60 s at launch)

    @property
    def launch_id(self) -> str | None:
        return self.detail.get("launchId") if isinstance(self.detail, dict) else None

    def child(self, index: int) -> ChildBehaviour:
        return self.children.get(index, self.default_child)


@dataclass(frozen=True)
class Scenario:
    launches: tuple[LaunchSpec, ...] = ()
    seed: int = 0
    deployment: str = "dev"
    timeout_seconds: float = 60.0
    name: str = "scenario"
    execute: str = "simulated"  # "local": every launch's jobs run as local processes (batchlane.sandbox.local)
    image_map: dict[str, tuple[str, ...]] = field(default_factory=dict)  # local execution: image -> entrypoint

    def for_launch(self, launch_id: str | None) -> LaunchSpec | None:
        return next((s for s in self.launches if launch_id and s.launch_id == launch_id), None)


_DEFAULT = LaunchSpec(name="(default)")


def _keys(where: str, raw: dict, allowed: set[str]) -> None:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: expected a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def _failure(where: str, raw: dict) -> Failure:
    _keys(where, raw, {"attempt", "exitCode", "error", "reason", "reclaimed"})
    if raw.get("reclaimed") is True:  # a Spot reclaim: the host went, the container was killed
        raw = {"exitCode": 143, **{k: v for k, v in raw.items() if k != "reclaimed"}, "reason": SPOT_RECLAIMED}
    if "attempt" not in raw or not isinstance(raw["attempt"], int) or raw["attempt"] < 1:
        raise ScenarioError(f"{where}.attempt: a whole number >= 1 is required")
    if "exitCode" in raw and "error" in raw:
        raise ScenarioError(f"{where}: give exitCode (the container ran) or error (it never started), not both")
    error = raw.get("error")
    if error is not None and ":" not in str(error):
        error = CANNOT_PULL if error == "CannotPullContainerError" else f"{error}: sandbox failure"
    return Failure(attempt=raw["attempt"], exit_code=raw.get("exitCode"), error=error, reason=raw.get("reason"))


def _child(where: str, raw: dict) -> ChildBehaviour:
    _keys(where, raw, {"failures", "runSeconds", "queueBlocked"})
    failures = tuple(_failure(f"{where}.failures[{i}]", f) for i, f in enumerate(raw.get("failures") or []))
    return ChildBehaviour(
        failures=failures, run_seconds=raw.get("runSeconds"), queue_blocked=bool(raw.get("queueBlocked"))
    )


def _delivery(where: str, raw: dict | None, base: Delivery) -> Delivery:
    if raw is None:
        return base
    _keys(where, raw, {"duplicate", "reorder", "reorderWindowSeconds", "delaySeconds", "jitterSeconds", "drop"})
    values = {
        "duplicate": raw.get("duplicate", base.duplicate),
        "reorder": raw.get("reorder", base.reorder),
        "reorder_window_seconds": raw.get("reorderWindowSeconds", base.reorder_window_seconds),
        "delay_seconds": raw.get("delaySeconds", base.delay_seconds),
        "jitter_seconds": raw.get("jitterSeconds", base.jitter_seconds),
        "drop": raw.get("drop", base.drop),
    }
    for k in ("duplicate", "reorder", "drop"):
        if not 0 <= float(values[k]) <= 1:
            raise ScenarioError(f"{where}.{k}: a fraction in [0, 1] is required")
    return Delivery(**{k: float(v) for k, v in values.items()})


def parse_image_map(raw: Any, base_dir: Path | None = None, where: str = "imageMap") -> dict[str, tuple[str, ...]]:
    """Local execution's ``{image or glob: [word, ...] | "a shell-like line"}``; a word starting ``./`` or ``../`` is a
    path relative to the file that holds the map (``base_dir``)."""
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: expected a mapping of image -> command words, got {type(raw).__name__}")
    image_map: dict[str, tuple[str, ...]] = {}
    for image, words in raw.items():
        if isinstance(words, str):
            words = shlex.split(words)
        if not isinstance(words, list) or not words or not all(isinstance(w, str) for w in words):
            raise ScenarioError(f"{where}.{image}: a list of strings (or one command line) is required")
        image_map[str(image)] = tuple(
            str(((base_dir or Path.cwd()) / w).resolve()) if w.startswith(("./", "../")) else w for w in words
        )
    return image_map


def load_image_map(path: str | Path) -> dict[str, tuple[str, ...]]:
    """An image map file (YAML): ``batchlane sandbox up --image-map FILE``, or a scenario's ``imageMap: FILE``."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"cannot read image map {path}: {exc}") from None
    return parse_image_map(raw, path.parent.resolve(), str(path))


def _image_map(raw: Any, base_dir: Path | None) -> dict[str, tuple[str, ...]]:
    """A scenario's ``imageMap``: the mapping itself, or the name of a file holding it."""
    if isinstance(raw, str):
        return load_image_map((base_dir or Path.cwd()) / raw)
    return parse_image_map(raw or {}, base_dir)


EXECUTE = ("simulated", "local")


def _execute(where: str, value: Any) -> str:
    if value not in EXECUTE:
        raise ScenarioError(f"{where}: one of {', '.join(EXECUTE)} is required, not {value!r}")
    return value


LAUNCH_KEYS = {
    "name",
    "detail",
    "detailFile",
    "sqsBody",
    "source",
    "atSeconds",
    "runSeconds",
    "children",
    "delivery",
    "expect",
    "execute",
    "attemptDurationSeconds",
}


def _detail(where: str, item: dict, base_dir: Path | None) -> Any:
    """The launch's detail as given, or read from its ``detailFile`` (JSON or YAML); None for an ``sqsBody``."""
    given = [k for k in ("detail", "detailFile", "sqsBody") if k in item]
    if len(given) != 1:
        raise ScenarioError(f"{where}: give exactly one of detail, detailFile, sqsBody")
    if "detailFile" not in item:
        return item.get("detail")
    path = (base_dir or Path.cwd()) / item["detailFile"]
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"{where}.detailFile: cannot read {path}: {exc.strerror}") from None
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def _children(where: str, given: dict) -> tuple[dict[int, ChildBehaviour], ChildBehaviour]:
    """The behaviour of each child named by its index, and of the others (``*``)."""
    children: dict[int, ChildBehaviour] = {}
    default_child = ChildBehaviour()
    for key, behaviour in given.items():
        if str(key) == "*":
            default_child = _child(f"{where}.children.*", behaviour or {})
            continue
        try:
            index = int(key)
        except ValueError:
            raise ScenarioError(f"{where}.children: key {key!r} is not a child index or '*'") from None
        children[index] = _child(f"{where}.children.{key}", behaviour or {})
    return children, default_child


def _launch(
    i: int, item: dict, defaults: dict, base_delivery: Delivery, execute: str, base_dir: Path | None
) -> LaunchSpec:
    where = f"launches[{i}]"
    _keys(where, item, LAUNCH_KEYS)
    launch_execute = _execute(f"{where}.execute", item["execute"]) if "execute" in item else None
    if (launch_execute or execute) == "local" and ({"children", "runSeconds"} & set(item)):
        raise ScenarioError(
            f"{where}: children and runSeconds do not apply to a launch executed locally "
            "(its processes decide what happens)"
        )
    detail = _detail(where, item, base_dir)
    children, default_child = _children(where, item.get("children") or {})
    detail_name = detail.get("launchId") if isinstance(detail, dict) else None
    return LaunchSpec(
        name=str(item.get("name") or detail_name or f"launch-{i}"),
        detail=detail,
        sqs_body=item.get("sqsBody"),
        source=item.get("source") or defaults.get("source") or "sandbox.scenario",
        at_seconds=float(item.get("atSeconds", 0)),
        run_seconds=float(item.get("runSeconds", defaults.get("runSeconds", 0.5))),
        children=children,
        default_child=default_child,
        delivery=_delivery(f"{where}.delivery", item.get("delivery"), base_delivery),
        expect=dict(item.get("expect") or {}),
        execute=launch_execute,
        attempt_duration_seconds=(float(item["attemptDurationSeconds"]) if "attemptDurationSeconds" in item else None),
    )


def parse_scenario(raw: dict, base_dir: Path | None = None, name: str = "scenario") -> Scenario:
    _keys(
        "scenario", raw, {"seed", "deployment", "timeoutSeconds", "defaults", "launches", "name", "execute", "imageMap"}
    )
    execute = _execute("execute", raw.get("execute", "simulated"))
    defaults = raw.get("defaults") or {}
    _keys("defaults", defaults, {"runSeconds", "delivery", "source"})
    base_delivery = _delivery("defaults.delivery", defaults.get("delivery"), Delivery())
    launches = [
        _launch(i, item, defaults, base_delivery, execute, base_dir) for i, item in enumerate(raw.get("launches") or [])
    ]
    return Scenario(
        launches=tuple(launches),
        seed=int(raw.get("seed", 0)),
        deployment=str(raw.get("deployment", "dev")),
        timeout_seconds=float(raw.get("timeoutSeconds", 60)),
        name=str(raw.get("name", name)),
        execute=execute,
        image_map=_image_map(raw.get("imageMap"), base_dir),
    )


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"scenario {path} is not valid YAML: {exc}") from None
    return parse_scenario(raw, base_dir=path.parent, name=path.stem)
