"""One module per scenario, each with ``add_arguments(parser)`` and ``run(args)``."""
