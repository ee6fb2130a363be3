"""The sync engine every connector runs through: cursors, dlt loading and exact run accounting."""
