"""Dagster definitions of Opbox Pipelines, built from the connections in the app database."""
