"""The leadership interface."""
