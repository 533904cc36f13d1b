"""Queue routing: which AWS Batch job queue a launch goes to, and why. The engine, the item codec and
the FlyteAdmin reader are pure; `store.py` reads the routing items from DynamoDB."""

from batchlane.routing.engine import Candidate, Capabilities, Decision, Needs, Queue, RoutingTable, Rule, decide

__all__ = ["Candidate", "Capabilities", "Decision", "Needs", "Queue", "Rule", "RoutingTable", "decide"]
