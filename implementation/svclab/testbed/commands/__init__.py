"""The testbed subcommands: up, down, list, kubeconfig, exec, node-exec (every provider).

Each module exposes ``add_arguments(parser)`` and ``run(args) -> int`` for
``svclab.cli``. Exit status 2 means bad input (nothing was changed).
"""
