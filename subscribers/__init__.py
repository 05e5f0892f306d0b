"""Subscriber lists: store, tokens, addresses, the public and admin blueprints, CSV and the CLI."""
