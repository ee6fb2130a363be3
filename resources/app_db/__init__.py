"""The app database: organisations, workspaces, identity, connections, sync runs."""
