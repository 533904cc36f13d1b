"""Where a routing rule applies: the project, domain and workflow it names (docs/routing.md).

A field a scope leaves out (None) matches any value. A launch is a scope that names all three, so
one renderer prints rules, launches and items alike: ``project=p, domain=d`` (``str(scope)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The fields a scope may name, in the order they are printed and stored.
SCOPE_FIELDS = ("project", "domain", "workflow")
EVERYWHERE_TEXT = "matches everything"


@dataclass(frozen=True)
class Scope:
    project: str | None = None
    domain: str | None = None
    workflow: str | None = None

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Scope:
        """The scope named by the ``project``/``domain``/``workflow`` keys of ``values`` (others ignored)."""
        return cls(**{name: values.get(name) for name in SCOPE_FIELDS})

    def named(self) -> dict[str, str]:
        """The fields this scope names, in ``SCOPE_FIELDS`` order (what a routing item stores)."""
        return {name: value for name, value in self.as_dict().items() if value is not None}

    def as_dict(self) -> dict[str, str | None]:
        """Every field, None where any value matches (the JSON shape of a rule's scope)."""
        return {"project": self.project, "domain": self.domain, "workflow": self.workflow}

    def sample_launch(self, fill: str) -> tuple[str, str, str]:
        """The (project, domain, workflow) of a launch this scope covers, ``fill`` where it names nothing."""
        return (self.project or fill, self.domain or fill, self.workflow or fill)

    def covers(self, launch: Scope) -> bool:
        """Whether every field this scope names has the launch's value."""
        return all(getattr(launch, name) == value for name, value in self.named().items())

    @property
    def specificity(self) -> tuple[bool, bool, bool]:
        """Compared as a tuple: naming the workflow beats naming the project, which beats the domain."""
        return (self.workflow is not None, self.project is not None, self.domain is not None)

    @property
    def everywhere(self) -> bool:
        return not self.named()

    def __str__(self) -> str:
        return ", ".join(f"{name}={value}" for name, value in self.named().items()) or EVERYWHERE_TEXT


EVERYWHERE = Scope()
