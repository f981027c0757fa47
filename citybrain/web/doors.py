"""What a web server refuses to start with unless `web.demo_mode` is on.

A listen address says nothing about who reaches the server (a proxy on the same host forwards
the whole city to 127.0.0.1), so only the explicit `web.demo_mode` opens the demo's doors: the
documented demo accounts, /metrics and keyless Open311 for anyone, cookies without `Secure`.
Without it, credentials anyone can read in this repository are refused at start-up, before a
request is served: a session key that is known (the dev overlay's, the production example's) or
short enough to guess, and accounts whose password is the documented `<username>-demo`.
"""

from __future__ import annotations

import logging

from citybrain.config.web import WebSettings
from citybrain.web.auth import is_demo_password

log = logging.getLogger(__name__)

MIN_SECRET_CHARS = 32
# Session keys published in this repository (k8s/overlays/dev/web.env, the production example).
KNOWN_SECRETS = frozenset({"dev-only-session-key-not-a-secret", "replace-with-openssl-rand-hex-32"})


def refusals(web: WebSettings) -> list[str]:
    """Why this configuration may not serve (empty: it may). Checks every account's hash
    against its documented demo password, so it costs one argon2 check per account."""
    if web.demo_mode:
        log.warning(
            "web.demo_mode: demo accounts sign in, /metrics and keyless Open311 are open, "
            "cookies are not Secure; never serve a city this way"
        )
        return []
    problems = []
    secret = web.session_secret
    if secret in KNOWN_SECRETS:
        problems.append(
            "web.session_secret is a value published in this repository; set a random one "
            "(openssl rand -hex 32), or web.demo_mode: true for a demo"
        )
    elif secret and len(secret) < MIN_SECRET_CHARS:
        problems.append(
            f"web.session_secret is shorter than {MIN_SECRET_CHARS} characters; set a random "
            "one (openssl rand -hex 32), or web.demo_mode: true for a demo"
        )
    demo = [u.username for u in web.users if is_demo_password(u)]
    if demo:
        problems.append(
            f"web.users: {', '.join(demo)} still have the documented demo password; replace "
            "the hashes (citybrain hash-password), or set web.demo_mode: true for a demo"
        )
    return problems
