"""The HTTP API (FastAPI): the two-call front-end contract and the operator endpoints."""

from segue.api.app import create_app

__all__ = ["create_app"]
