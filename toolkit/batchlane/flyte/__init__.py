"""Flyte on batchlane: a flytekit connector for the ``aws-batch`` task type (``pip install batchlane[flyte]``).

* ``resources.py`` Flyte's resource strings (``500m``, ``4Gi``; requests and limits) to batchlane's
  ``vcpu``/``memory``/``gpu`` (pure, no flytekit: usable by any client).
* ``launch.py``    a rendered task template and its execution metadata to a "Task Launch Requested" detail.
* ``connector.py`` the connector (flytekit's ``AsyncConnectorBase``) for task type versions 0 and 1,
  registered with flytekit's ``ConnectorRegistry`` on import: ``pyflyte serve connector --modules
  batchlane.flyte.connector``. See docs/flyte.md.

flytekit is imported only under this package (tests/unit/test_layering.py); it is never in the
Lambda layer.
"""
