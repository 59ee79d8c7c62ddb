"""The precision tables are written with, shared by the reporter that writes them and the check that compares them
(a base module: the runner never imports the report code)."""

SIGNIFICANT_DIGITS = 4
"""Precision of the floats a table is written with: no two machines agree on the ninth digit of a metric, and no
reader needs it. Columns of whole numbers (parameter counts, epochs) are written exactly."""
