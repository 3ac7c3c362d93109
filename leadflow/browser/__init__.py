"""The lead browser (`leadflow serve`) and the per-run static HTML report (the `lead_report`
asset): the published leads for sales users, with filters, search, each lead's explanation,
account and dossier with its citations marked in the signal, and good/bad labels.

Dagster-free: Starlette serves the pages, Jinja2 renders them (autoescaped: signal text is
hostile), from the templates and static files beside this module.
"""
