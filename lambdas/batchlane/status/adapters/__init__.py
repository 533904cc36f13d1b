"""Thin AWS adapters behind the status service's ports (batchlane.status.ports), one module per service:

* ``executions``  the launch's partition of the executions table (DynamoDB): the StatusStore;
* ``batch``       TerminateJob and DescribeJobs;
* ``outputs``     the children's and the launch's outputs in S3.

Only the handler (and the sandbox) imports them.
"""
