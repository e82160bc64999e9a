"""Fiscal rules of Argentina (AFIP/ARCA): pure functions with table-driven tests."""
