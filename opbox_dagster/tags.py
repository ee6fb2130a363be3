"""Run tags that link a Dagster run to Opbox records; values are ids only, never secrets."""

CONNECTION_ID = "opbox/connection_id"
SYNC_RUN_ID = "opbox/sync_run_id"
TRIGGER = "opbox/trigger"
