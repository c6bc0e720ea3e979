"""Jinja templates, installed as dissent.templates."""
