"""Tests of the keeper's venue connectors against the running devnet replicas."""
