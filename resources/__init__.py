"""Services shared by the gateway and the Dagster code: settings, app database, vault, destination."""
