"""Dossiers a sales rep can trust (issue 10), Dagster-free: the small model extracts short facts
that are located in the signal (`facts`, `spans`), signals of one company become one account
(`accounts`), rules compose the dossier with citations (`compose`), the dossier model writes
only the summary and opener from the facts, and `grounding` checks every dossier. The asset
calls `writer.write_dossiers`.
"""
