"""Ticket text understanding: categorisation (keyword rules now; models in later stages)."""
