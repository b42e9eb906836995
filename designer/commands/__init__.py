"""Subcommands of `skill-designer`, one module each.

Each module defines ``register(subparsers)`` that adds its parser and sets
``func`` (taking the parsed args, returning an exit code) as a default.
"""

COMMANDS = (
    "designer.commands.validate",
    "designer.commands.new",
    "designer.commands.new_deployment",
    "designer.commands.import_kan",
    "designer.commands.run",
    "designer.commands.serve_sample",
    "designer.commands.models",
    "designer.commands.nodes",
    "designer.commands.export",
    "designer.commands.verify",
    "designer.commands.import_package",
    "designer.commands.fill",
    "designer.commands.publish",
)
