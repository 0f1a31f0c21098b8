#!/usr/bin/env python
"""Make a signed, expiring connection token for the WebSocket API.

    AUTH_TOKEN_SECRET=... python chalice_app/scripts/auth_token.py --subject shopper-42 --ttl 3600

Prints the token; clients connect with ``wss://…/api?token=<token>``. The secret is the
same value the stage's functions have in AUTH_TOKEN_SECRET.
"""

import argparse
import os
import sys

from chalicelib import auth
from chalicelib.config import settings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subject", required=True, help="who the token is for (1-64 of A-Z a-z 0-9 _ . @ -)")
    parser.add_argument(
        "--ttl",
        type=int,
        default=3600,
        help="seconds until it expires (default 3600; at most AUTH_MAX_TTL_SECONDS, default 86400)",
    )
    parser.add_argument("--secret-env", default="AUTH_TOKEN_SECRET", help="variable holding the secret")
    args = parser.parse_args(argv)
    secret = os.environ.get(args.secret_env)
    if not secret:
        print(f"error: {args.secret_env} is not set: export the stage's token secret first", file=sys.stderr)
        return 2
    if args.ttl <= 0:
        print("error: --ttl must be a positive number of seconds", file=sys.stderr)
        return 2
    try:
        print(auth.sign(secret, args.subject, args.ttl, max_ttl_seconds=settings().auth_max_ttl_seconds))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
