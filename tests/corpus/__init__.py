"""The hostile ingest corpus: its generator and the harness that reads it."""
