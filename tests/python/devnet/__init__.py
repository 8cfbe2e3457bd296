"""Tests of the devnet RabbitX against the running service."""
