"""Vigil's HTTP API (FastAPI): events, media, cameras, stats, users and tokens, the event
stream, under ``/api/v1`` (DESIGN.md, API and console).

The app is made by :func:`vigil.api.app.create_app`; this package stays light to import (the
site config reads :class:`vigil.api.config.ApiConfig` without loading FastAPI).
"""
