"""batchlane: run containerised workflow tasks and map tasks on AWS Batch, event-driven."""

EVENT_SOURCE = "batchlane"
