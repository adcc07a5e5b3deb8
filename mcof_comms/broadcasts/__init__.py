"""Broadcasts: one text in several languages to an audience, fanned out in batches."""
