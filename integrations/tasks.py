"""Integrations' Celery tasks: each takes ids or nothing and calls a service."""
