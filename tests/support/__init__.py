"""Helpers the tests of every part share: local servers, data builders, form readers."""
