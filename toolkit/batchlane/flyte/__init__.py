"""Flyte on batchlane: a flytekit connector for the ``aws-batch`` and ``container_array`` task types
(``pip install batchlane[flyte]``).

* ``resources.py`` Flyte's resource strings (``500m``, ``4Gi``; requests and limits) to batchlane's
  ``vcpu``/``memory``/``gpu`` (pure, no flytekit: usable by any client).
* ``execution.py`` what propeller's task execution metadata gives: the launch id, names, role, environment.
* ``launch.py``    a task template as propeller sends it to a "Task Launch Requested" detail.
* ``outputs.py``   the jobs' ``outputs.pb``/``error.pb``, left at ``<outputPrefix>/outputs.pb`` for propeller.
* ``connector.py`` the connector (flytekit's ``AsyncConnectorBase``), registered with flytekit's
  ``ConnectorRegistry`` on import: ``pyflyte serve connector --modules batchlane.flyte.connector``.
  See docs/flyte.md.

flytekit is imported only under this package (tests/unit/test_layering.py); it is never in the
Lambda layer.
"""
