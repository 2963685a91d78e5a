"""Control of a running sandbox over HTTP, for a sandbox in another process (the CLI, a daemon test).

    GET  /_sandbox/state              tests (totalCount, revoked status, listed and deleted IDs)
                                      and request counts per endpoint
    GET  /_sandbox/requests           API requests per endpoint and per status
    POST /_sandbox/<action>           JSON object body = the keyword arguments of the in-process method

Actions: delete_sessions, restore_sessions, revoke_test, restore_test, add_sessions,
add_late_sessions, churn, set_transcript_available, reset_requests, reset (see SandboxServer).
Answers `{"result": ...}`; 400 for bad arguments, 404 for an unknown test, session or action.
No token, no rate limit, not in the request log.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .responses import Request, Response, json_response

if TYPE_CHECKING:
    from .app import SandboxApp

ADMIN_PREFIX = "/_sandbox/"


class Admin:
    def __init__(self, app: SandboxApp) -> None:
        self._app = app
        dataset = app.dataset
        self.actions: dict[str, Callable[..., Any]] = {
            "delete_sessions": dataset.delete_sessions,
            "restore_sessions": dataset.restore_sessions,
            "revoke_test": dataset.revoke_test,
            "restore_test": dataset.restore_test,
            "add_sessions": dataset.add_sessions,
            "add_late_sessions": dataset.add_late_sessions,
            "churn": dataset.churn,
            "set_transcript_available": dataset.set_transcript_available,
            "reset_requests": app.reset_log,
            "reset": app.reset,
        }

    def state(self) -> dict[str, Any]:
        dataset = self._app.dataset
        tests = []
        for study in dataset.studies:
            listed = dataset.session_ids(study.test_id)
            tests.append(
                {
                    "test_id": study.test_id,
                    "kind": study.kind,
                    "title": study.title,
                    "total_count": len(listed),
                    "revoked": dataset.revoked_status(study.test_id),
                    "session_ids": listed,
                    "deleted_session_ids": dataset.deleted_session_ids(study.test_id),
                }
            )
        return {"tests": tests, "requests": self._app.request_counts()}

    def requests(self) -> dict[str, Any]:
        log = self._app.log("api")
        return {
            "total": len(log),
            "by_endpoint": self._app.request_counts(),
            "by_status": {str(k): v for k, v in Counter(r["status"] for r in log).items()},
        }

    def handle(self, request: Request) -> Response:
        action = request.path[len(ADMIN_PREFIX) :].strip("/")
        if request.method == "GET" and action in ("state", "requests"):
            return json_response(200, self.state() if action == "state" else self.requests())
        if request.method != "POST" or action not in self.actions:
            return _error(404, f"no sandbox action {request.method} {request.path}")
        try:
            arguments = json.loads(request.body or b"{}")
        except ValueError:
            return _error(400, "the body must be a JSON object of keyword arguments")
        if not isinstance(arguments, dict):
            return _error(400, "the body must be a JSON object of keyword arguments")
        try:
            result = self.actions[action](**arguments)
        except KeyError as error:
            return _error(404, str(error.args[0] if error.args else error))
        except (TypeError, ValueError) as error:
            return _error(400, str(error))
        return json_response(200, {"result": result})


def _error(status: int, message: str) -> Response:
    return json_response(status, {"error": message})
