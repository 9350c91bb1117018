"""Ask the running Dagster webserver to reload its code locations after the file changed.

The webserver loaded the definitions (jobs, assets, sensors) from the configuration file when it
started; a saved form changes the file, and the GraphQL mutation `reloadRepositoryLocation` (what
the UI's Deployment → Reload button sends) makes it read the file again, so the new job, assets
and sensor appear without a restart. The daemon reloads its own copy of the workspace by itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urljoin

import requests

log = logging.getLogger(__name__)

TIMEOUT = (3, 60)  # connecting is quick or nothing is there; reloading imports the definitions again

LOCATIONS = "query { workspaceOrError { __typename ... on Workspace { locationEntries { name } } ... on PythonError { message } } }"
RELOAD = """
mutation Reload($name: String!) {
  reloadRepositoryLocation(repositoryLocationName: $name) {
    __typename
    ... on WorkspaceLocationEntry {
      name
      locationOrLoadError { __typename ... on PythonError { message } }
    }
    ... on UnauthorizedError { message }
    ... on ReloadNotSupported { message }
    ... on RepositoryLocationNotFound { message }
    ... on PythonError { message }
  }
}
"""


@dataclass(frozen=True)
class ReloadResult:
    reached: bool  # a Dagster webserver answered
    reloaded: tuple[str, ...] = ()  # code locations that loaded again without error
    error: str | None = None  # what went wrong, for the page

    @property
    def ok(self) -> bool:
        return self.reached and not self.error and bool(self.reloaded)


def graphql_url(dagster_url: str, base_url: str = "") -> str:
    """The webserver's GraphQL endpoint; a relative Dagster URL (/dagster) is on this server."""
    return urljoin(base_url if dagster_url.startswith("/") else "", dagster_url.rstrip("/") + "/graphql")


def reload_code_locations(dagster_url: str, *, base_url: str = "", bearer: str | None = None) -> ReloadResult:
    """Reload every code location of the webserver at `dagster_url`."""
    url = graphql_url(dagster_url, base_url)
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    try:
        with requests.Session() as session:
            session.headers.update(headers)
            names = _location_names(session, url)
            reloaded, problems = [], []
            for name in names:
                answer = _post(session, url, RELOAD, {"name": name})["reloadRepositoryLocation"]
                kind = answer.get("__typename")
                loaded = (answer.get("locationOrLoadError") or {}) if kind == "WorkspaceLocationEntry" else {}
                if kind == "WorkspaceLocationEntry" and loaded.get("__typename") != "PythonError":
                    reloaded.append(name)
                else:
                    message = loaded.get("message") or answer.get("message") or kind
                    problems.append(f"{name}: {_first_line(message)}")
    except requests.RequestException as exc:
        log.info("no Dagster webserver reachable at %s: %s", url, type(exc).__name__)
        return ReloadResult(reached=False, error=f"{url}: {type(exc).__name__}")
    except _NotDagster as exc:
        return ReloadResult(reached=False, error=str(exc))
    if problems:
        log.warning("Dagster code location reload at %s: %s", url, "; ".join(problems))
    return ReloadResult(reached=True, reloaded=tuple(reloaded), error="; ".join(problems) or None)


class _NotDagster(Exception):
    pass


def _location_names(session: requests.Session, url: str) -> list[str]:
    workspace = _post(session, url, LOCATIONS, {})["workspaceOrError"]
    if workspace.get("__typename") != "Workspace":
        raise _NotDagster(f"{url}: {_first_line(workspace.get('message') or workspace.get('__typename'))}")
    return [entry["name"] for entry in workspace["locationEntries"]]


def _post(session: requests.Session, url: str, query: str, variables: dict) -> dict:
    response = session.post(url, json={"query": query, "variables": variables}, timeout=TIMEOUT,
                            allow_redirects=False)
    try:
        body = response.json()
    except ValueError:
        raise _NotDagster(f"{url} answered {response.status_code} without GraphQL JSON: is it the Dagster UI?") from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        errors = body.get("errors") if isinstance(body, dict) else None
        message = errors[0].get("message") if errors and isinstance(errors[0], dict) else response.status_code
        raise _NotDagster(f"{url}: {message}")
    return body["data"]


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0][:300] if lines else ""
