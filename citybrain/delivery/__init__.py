"""Delivery of dispatches to departments' own systems."""
