"""Queue routing: which AWS Batch job queue a launch goes to, and why (pure, no AWS)."""

from batchlane.routing.engine import Candidate, Decision, Queue, RoutingTable, Rule, decide

__all__ = ["Candidate", "Decision", "Queue", "Rule", "RoutingTable", "decide"]
