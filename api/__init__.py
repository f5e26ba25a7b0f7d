"""The HTTP API: candidates, mandated third parties, prefecture staff, CNCCFP reviewers, admins.

It translates HTTP to Temporal updates and queries and to database rows, and back; it holds no
rule of the procedure (those are in ``domain``) and no state of a case (that is in Temporal).
"""
