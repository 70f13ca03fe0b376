"""The `latlas` command."""
