"""Local replicas of external venues, run as real services for end-to-end tests of the keeper."""
