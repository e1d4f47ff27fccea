"""Litestar only: controllers, authentication, SCIM error bodies, media types, logging."""
