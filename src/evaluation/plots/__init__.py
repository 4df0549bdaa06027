"""Figures of the study: one theme, each figure drawn from the table the report publishes."""
