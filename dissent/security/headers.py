"""Security headers on every response."""

from __future__ import annotations

from flask import Response, request

# Only the site's own styles, images and form targets; no script at all from us by
# default, none inline, and nobody may frame us.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


def set_security_headers(response: Response) -> Response:
    """Add the security headers; forbid caching of anything but static files."""
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    # Werkzeug adds Server; it says nothing useful to anyone but a scanner.
    response.headers.pop("Server", None)
    return response
