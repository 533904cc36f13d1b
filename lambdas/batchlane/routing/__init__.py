"""Queue routing: which AWS Batch job queue a launch goes to, and why (pure, no AWS)."""

from batchlane.routing.engine import Candidate, Capabilities, Decision, Needs, Queue, RoutingTable, Rule, decide

__all__ = ["Candidate", "Capabilities", "Decision", "Needs", "Queue", "Rule", "RoutingTable", "decide"]
