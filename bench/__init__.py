"""leadflow benchmark suite: leadflow vs the naive pipeline vs the raw engine, in one run.

Run `.venv/bin/python -m bench` (see bench/README.md). Results go to bench/results/.
"""
