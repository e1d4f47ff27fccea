"""The Mutation pipeline: the only writer of identities (DESIGN.md "The one path")."""
