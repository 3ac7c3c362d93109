"""Accounts: every signal resolved to the company it is about (`leadflow.accounts.resolve`)."""
