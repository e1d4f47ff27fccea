"""Tenure: lifecycle governance for non-human identities over SCIM 2.0."""
