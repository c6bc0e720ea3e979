"""Attachments: upload and download routes for sources and advisers.

The routes live under each role's own URL space (``/inbox/…`` for sources,
``/adviser/…`` for advisers), so each keeps its own session cookie and access rule.
"""
