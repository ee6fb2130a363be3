"""Launch, stop and reload through the Dagster webserver's GraphQL API.

The gateway never executes syncs itself: it requests that Dagster enqueue a run of the connection's job
(the run queue and the daemon's run launcher do the rest) and passes only ids in run tags.
"""

from __future__ import annotations

import logging
from typing import Any

import requests

logger = logging.getLogger(__name__)

CODE_LOCATION_NAME = "opbox"
REPOSITORY_NAME = "__repository__"
REQUEST_TIMEOUT_SECONDS = 120

_LAUNCH_RUN = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

_TERMINATE_RUN = """
mutation TerminateRun($runId: String!) {
  terminateRun(runId: $runId, terminatePolicy: MARK_AS_CANCELED_IMMEDIATELY) {
    __typename
    ... on Error { message }
  }
}
"""

_RELOAD_LOCATION = """
mutation Reload($name: String!) {
  reloadRepositoryLocation(repositoryLocationName: $name) {
    __typename
    ... on WorkspaceLocationEntry {
      locationOrLoadError { __typename ... on PythonError { message } }
    }
    ... on Error { message }
  }
}
"""

_RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { status } ... on Error { message } }
}
"""


class DagsterUnavailable(Exception):
    """The Dagster webserver could not be reached or rejected the request."""


class DagsterClient:
    def __init__(self, base_url: str, timeout_seconds: float = REQUEST_TIMEOUT_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self._session = requests.Session()
        self._session.trust_env = False

    def _execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._session.post(
                f"{self.base_url}/graphql",
                json={"query": query, "variables": variables},
                timeout=self.timeout_seconds,
            )
        except requests.RequestException as error:
            raise DagsterUnavailable(
                f"the Dagster webserver at {self.base_url} did not respond ({type(error).__name__}); "
                "check that `opbox serve` is running"
            ) from error
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 and not body.get("errors"):
            logger.warning("Dagster webserver returned HTTP %d: %s", response.status_code, response.text[:500])
            raise DagsterUnavailable(f"the Dagster webserver returned HTTP {response.status_code}")
        if body.get("errors"):
            raise DagsterUnavailable(f"Dagster GraphQL error: {body['errors'][0].get('message')}")
        return body["data"]

    def launch_run(self, job_name: str, asset_paths: list[list[str]], tags: dict[str, str]) -> str:
        """Enqueue a run of ``job_name`` materialising ``asset_paths``; return the Dagster run id."""
        params = {
            "selector": {
                "repositoryLocationName": CODE_LOCATION_NAME,
                "repositoryName": REPOSITORY_NAME,
                "jobName": job_name,
                "assetSelection": [{"path": path} for path in asset_paths],
            },
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": key, "value": value} for key, value in tags.items()]},
        }
        result = self._execute(_LAUNCH_RUN, {"executionParams": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            message = result.get("message") or "; ".join(item["message"] for item in result.get("errors", []))
            raise DagsterUnavailable(f"Dagster did not launch job {job_name}: {result['__typename']}: {message}")
        run_id = result["run"]["runId"]
        logger.info("launched Dagster run %s of job %s", run_id, job_name)
        return run_id

    def terminate_run(self, run_id: str) -> None:
        result = self._execute(_TERMINATE_RUN, {"runId": run_id})["terminateRun"]
        if result["__typename"] not in ("TerminateRunSuccess", "TerminateRunFailure"):
            raise DagsterUnavailable(f"Dagster did not stop run {run_id}: {result.get('message')}")
        logger.info("asked Dagster to stop run %s: %s", run_id, result["__typename"])

    def reload_code_location(self) -> None:
        """Reload the code location so new or changed connections get assets and jobs."""
        result = self._execute(_RELOAD_LOCATION, {"name": CODE_LOCATION_NAME})["reloadRepositoryLocation"]
        entry = result.get("locationOrLoadError") or {}
        if result["__typename"] != "WorkspaceLocationEntry" or entry.get("__typename") == "PythonError":
            raise DagsterUnavailable(
                f"Dagster could not reload code location {CODE_LOCATION_NAME}: "
                f"{result.get('message') or entry.get('message')}"
            )
        logger.info("reloaded Dagster code location %s", CODE_LOCATION_NAME)

    def run_status(self, run_id: str) -> str | None:
        result = self._execute(_RUN_STATUS, {"runId": run_id})["runOrError"]
        return result.get("status")
