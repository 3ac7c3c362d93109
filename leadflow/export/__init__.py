"""Dagster-free exports of published leads: `leads` reads them, `formats` writes each file format."""
