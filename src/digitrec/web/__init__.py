"""The web app: drawing page, JSON API and the seed's /predict, built by `create_app`."""

from digitrec.web.app import create_app

__all__ = ["create_app"]
