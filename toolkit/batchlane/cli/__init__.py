"""The ``batchlane`` command line: ``main.py`` is the root, one module per command group.

Adding a command group: write ``batchlane/cli/<group>.py`` with ``register(subparsers)`` (use
``batchlane.cli.common.add_group`` / ``add_command``) and list the module in
``batchlane.cli.main.COMMAND_MODULES``.
"""
