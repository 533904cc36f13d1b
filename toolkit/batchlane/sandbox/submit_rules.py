"""The SubmitJob rules real AWS Batch enforces and moto skips, enforced on the emulator's Batch.

Batch answers these with ``ClientException`` before it creates a job; moto creates the job. So
that the sandbox and the moto tests meet what a real account refuses, :func:`install_submit_rules`
patches the emulator's SubmitJob (it runs in this process) while they run:

* ``shareIdentifier`` is required on a queue with a fair-share scheduling policy and refused on
  any other (docs: SubmitJob, shareIdentifier).
* A Fargate job's vCPU and memory must be one of Fargate's combinations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from batchlane.launch.validation import FARGATE_MEMORY


def submit_refusal(
    *, share_identifier: str | None, fair_share_queue: bool, fargate: bool, resources: Mapping[str, str]
) -> str | None:
    """Why Batch refuses this SubmitJob (None: it accepts it); ``resources`` are the job's effective
    resourceRequirements (the definition's, overridden by the submit's), type -> value."""
    if fair_share_queue and not share_identifier:
        return "shareIdentifier is required for a job queue with a fair share scheduling policy"
    if share_identifier and not fair_share_queue:
        return "shareIdentifier is not supported for a job queue without a fair share scheduling policy"
    if fargate and "VCPU" in resources and "MEMORY" in resources:
        vcpu, memory = float(resources["VCPU"]), int(resources["MEMORY"])
        if memory not in FARGATE_MEMORY.get(vcpu, ()):
            return f"Fargate resource requirements: {vcpu:g} vCPU with {memory} MiB is not a valid combination"
    return None


def _requirements(container: Mapping[str, Any] | None) -> dict[str, str]:
    return {r["type"]: str(r["value"]) for r in (container or {}).get("resourceRequirements", [])}


def install_submit_rules() -> Callable[[], None]:
    """Make the emulator's SubmitJob refuse what Batch refuses; returns the function that puts
    moto's SubmitJob back."""
    from moto.batch import responses
    from moto.batch.exceptions import ClientException

    original = responses.BatchResponse.submitjob

    def submitjob(self: Any) -> str:
        backend = self.batch_backend
        queue = backend.get_job_queue(self._get_param("jobQueue"))
        definition = backend.get_job_definition(self._get_param("jobDefinition"))
        if queue is not None and definition is not None:  # moto itself answers an unknown one
            refusal = submit_refusal(
                share_identifier=self._get_param("shareIdentifier"),
                fair_share_queue=bool(queue.schedule_policy),
                fargate="FARGATE" in (definition.platform_capabilities or []),
                resources={
                    **_requirements(definition.container_properties),
                    **_requirements(self._get_param("containerOverrides")),
                },
            )
            if refusal:
                raise ClientException(refusal)
        return original(self)

    # moto's response class is patched in place while the caller runs (its handlers are methods).
    responses.BatchResponse.submitjob = submitjob  # type: ignore[method-assign]

    def uninstall() -> None:
        responses.BatchResponse.submitjob = original  # type: ignore[method-assign]

    return uninstall


@contextmanager
def submit_rules() -> Iterator[None]:
    """:func:`install_submit_rules` for the duration of a ``with`` block (the moto tests)."""
    uninstall = install_submit_rules()
    try:
        yield
    finally:
        uninstall()
