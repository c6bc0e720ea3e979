"""Tests of the leadership interface and the periodic report."""
