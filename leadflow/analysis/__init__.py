"""Per-email analysis (issue 9, design doc 001): types with probabilities, grounded entities,
requests, a priority and a one-line summary. Dagster-free: the email_analysis asset, the
benchmark and the tests call it directly."""
