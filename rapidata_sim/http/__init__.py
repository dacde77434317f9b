"""The Starlette skin: JSON in, domain calls, JSON out. No rules live here."""

from .app import create_app

__all__ = ["create_app"]
