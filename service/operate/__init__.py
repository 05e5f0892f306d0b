"""Keeping a paperboy running for years: backups and restores of the store, and `paperboy doctor`'s
checks of the settings, the store, mail delivery and DNS, arXiv and the scheduler."""
