"""dissent's cryptography: the age v1 format and the keys and secrets around it.

This package is the only place that imports ``cryptography.hazmat``. Everything else
in dissent uses the names exported here.
"""
