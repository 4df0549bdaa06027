"""Chapters of the study: each notebook's analysis as one function returning one result."""
