"""The EventBridge event envelope, as Powertools' parser models it (``EventBridgeModel``).

Defined here rather than imported from ``aws_lambda_powertools.utilities.parser.models``: that
package builds every one of its event models (API Gateway, S3, Kinesis, ...) when imported,
~0.3 s of a cold start, for the one envelope both paths read. Same fields, aliases and types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventBridgeEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    version: str
    id: str
    source: str
    # Absent in some deliveries: moto's EventBridge -> SQS bodies, some test harnesses' events.
    account: str | None = None
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: Any
    replay_name: str | None = Field(None, alias="replay-name")
