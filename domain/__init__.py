"""Pure rules of the procedure: stages, deadlines, amounts, identifiers and message contracts.

No I/O and no clock here: callers pass the current time in.
"""
