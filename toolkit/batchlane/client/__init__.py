"""What a client of batchlane does, for every client: the CLI, the sandbox, and an orchestrator's
connector. Plain classes and functions over boto3 clients (passed in; boto3 itself is imported only
where a call needs it, so that the CLI starts fast):

* ``api.py``      :class:`~batchlane.client.api.BatchlaneClient`: one deployment (its bus, executions
  table, answers queue) and the boto3 clients to reach it; put a launch or an abort.
* ``events.py``   the one PutEvents of a client (``put_event``), the abort request's detail.
* ``records.py``  consistent reads of the executions table: a launch's items, its record
  (``LaunchRecord``), its status document and stored phase.
* ``status.py``   a launch's summary in one BatchGetItem (phase, counts, message, error, links,
  outputs URI, or a rejection's problems), its children a page at a time.
* ``outputs.py``  a finished launch's assembled outputs, from S3.
* ``answers.py``  the optional answers queue (``<prefix>-answers``): a launch's or an abort's answer.
* ``waiting.py``  waiting for the answer to a launch, following a launch to its end, an abort's outcome.
* ``render.py``   text for people: a launch's status, its counts, an answer, a routing decision.
* ``routing.py``  the routing table read and written directly (fresh, consistent reads).

The client layer imports the domain packages and ``batchlane.common``, never ``batchlane.cli`` or
``batchlane.sandbox`` (tests/unit/test_layering.py).
"""
