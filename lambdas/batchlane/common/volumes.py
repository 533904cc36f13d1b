"""Volumes a job may mount (docs/launch-event.md#volumes-and-linux-parameters). Pure: no boto3.

The deployment declares EFS file systems by name (``volumes``) and the projects whose launches may
mount each; a launch mounts declared volumes by name (``container.mounts``). Always over TLS; with
IAM authorization (the default) the job roles of those projects are granted the mount
(stacks/workloads.py). Host volumes are never offered.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from batchlane.common.tenancy import Pattern

VOLUME_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)


class EfsVolume(_Strict):
    file_system_id: Annotated[str, Field(alias="fileSystemId", pattern=r"^fs-[0-9a-f]{8,40}$")]
    root_directory: Annotated[str, Field(alias="rootDirectory", pattern=r"^/\S{0,4095}$")] = "/"
    access_point_id: Annotated[str | None, Field(alias="accessPointId", pattern=r"^fsap-[0-9a-f]{8,40}$")] = None
    iam: bool = True  # IAM authorization: only the granted job roles may mount it

    @model_validator(mode="after")
    def _access_point_owns_the_root(self) -> EfsVolume:
        # Batch: with an access point, the root directory is the access point's ("/" or left out).
        if self.access_point_id and self.root_directory != "/":
            raise ValueError("rootDirectory must be / with an accessPointId (the access point sets the root)")
        return self

    def batch_volume(self, name: str) -> dict:
        """The job definition's ``volumes[]`` entry (TLS always; IAM and the access point when set)."""
        config: dict = {"fileSystemId": self.file_system_id, "transitEncryption": "ENABLED"}
        if self.root_directory != "/":
            config["rootDirectory"] = self.root_directory
        authorization = {"iam": "ENABLED"} if self.iam else {}
        if self.access_point_id:
            authorization["accessPointId"] = self.access_point_id
        if authorization:
            config["authorizationConfig"] = authorization
        return {"name": name, "efsVolumeConfiguration": config}


class VolumeGrant(_Strict):
    """A declared volume: the deployment config's ``volumes[]`` and the SSM parameter ``volumes``."""

    name: Annotated[str, Field(pattern=VOLUME_NAME)]
    projects: Annotated[list[Pattern], Field(min_length=1)]
    efs: EfsVolume
    read_only: Annotated[bool, Field(alias="readOnly")] = False  # every mount of it read-only

    def serves(self, project: str) -> bool:
        return any(fnmatchcase(project, p) for p in self.projects)


VOLUME_GRANTS = TypeAdapter(list[VolumeGrant])
