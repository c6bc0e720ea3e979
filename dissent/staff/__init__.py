"""The staff interface."""
