"""The audit trail: one hash-chained event per mutation attempt (DESIGN.md "audit/")."""
