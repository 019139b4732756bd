"""Test doubles that speak real protocols (HTTP servers), for integration tests."""
