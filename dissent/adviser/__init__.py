"""The adviser interface."""
