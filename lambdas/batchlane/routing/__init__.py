"""Queue routing: which AWS Batch job queue a launch goes to, and why. The engine, the scope, the item
codec and the FlyteAdmin reader are pure; `store.py` reads the routing items from DynamoDB."""

from batchlane.routing.engine import Candidate, Capabilities, Decision, Needs, Queue, RoutingTable, Rule, decide
from batchlane.routing.scope import EVERYWHERE, Scope

__all__ = [
    "EVERYWHERE",
    "Candidate",
    "Capabilities",
    "Decision",
    "Needs",
    "Queue",
    "Rule",
    "RoutingTable",
    "Scope",
    "decide",
]
