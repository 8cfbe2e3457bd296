"""The `primevault` command."""
