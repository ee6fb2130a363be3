"""The Litestar HTTP gateway that serves the pipelines API and maps it onto Dagster runs."""
