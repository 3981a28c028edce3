"""Fixtures shared by integration test modules (the console's browser tests)."""

from consolehelpers import browser, page_for, site  # noqa: F401 (fixtures)
