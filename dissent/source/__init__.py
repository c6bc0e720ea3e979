"""The source interface."""
