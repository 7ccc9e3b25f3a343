"""Headless sub-commands. Each module exposes ``register(subparsers)``; handlers return an exit code."""
