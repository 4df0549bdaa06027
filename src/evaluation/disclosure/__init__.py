"""Disclosure control: the rules every published number passes (below report and pipeline)."""
