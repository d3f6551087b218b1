"""The callable edge: identity, validation, error mapping and JSON output.

This is the one place where domain errors become ``HttpsError`` codes, so
nothing reaches a client as ``internal`` unless it is a bug.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, cast

import flask
from firebase_functions import https_fn, logger
from pydantic import BaseModel, ValidationError

from generations_live.domain import errors
from generations_live.domain.identity import Caller, caller_from_claims

ERROR_CODES: dict[type[errors.DomainError], https_fn.FunctionsErrorCode] = {
    errors.InvalidArgument: https_fn.FunctionsErrorCode.INVALID_ARGUMENT,
    errors.Unauthenticated: https_fn.FunctionsErrorCode.UNAUTHENTICATED,
    errors.PermissionDenied: https_fn.FunctionsErrorCode.PERMISSION_DENIED,
    errors.NotFound: https_fn.FunctionsErrorCode.NOT_FOUND,
    errors.FailedPrecondition: https_fn.FunctionsErrorCode.FAILED_PRECONDITION,
    errors.ResourceExhausted: https_fn.FunctionsErrorCode.RESOURCE_EXHAUSTED,
    errors.Contended: https_fn.FunctionsErrorCode.ABORTED,
}

RequestModel = TypeVar("RequestModel", bound=BaseModel)
Handler = Callable[[Caller, RequestModel], dict[str, Any]]


def to_https_error(error: errors.DomainError) -> https_fn.HttpsError:
    return https_fn.HttpsError(ERROR_CODES[type(error)], error.message, error.details)


def require_caller(request: https_fn.CallableRequest[Any]) -> Caller:
    if request.auth is None or not request.auth.uid:
        raise errors.Unauthenticated("sign in to call this function")
    return caller_from_claims(request.auth.uid, request.auth.token)


def parse_request(model: type[RequestModel], data: Any) -> RequestModel:
    """Validate request data, naming every offending field in the error."""
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as exc:
        problems = [
            {
                "field": ".".join(str(part) for part in issue["loc"]) or "data",
                "message": issue["msg"],
            }
            for issue in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        summary = "; ".join(f"{problem['field']}: {problem['message']}" for problem in problems)
        raise errors.InvalidArgument(summary, details={"errors": problems}) from exc


def to_json(value: Any) -> Any:
    """Firestore values as JSON: timestamps become ISO 8601 strings in UTC."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value


def callable_handler(
    model: type[RequestModel],
) -> Callable[[Handler[RequestModel]], Callable[[https_fn.CallableRequest[Any]], Any]]:
    """Wrap a use case as a callable body: signed-in caller, validated data, mapped errors."""

    def wrap(handler: Handler[RequestModel]) -> Callable[[https_fn.CallableRequest[Any]], Any]:
        @functools.wraps(handler)
        def body(request: https_fn.CallableRequest[Any]) -> Any:
            try:
                caller = require_caller(request)
                return to_json(handler(caller, parse_request(model, request.data)))
            except errors.DomainError as error:
                logger.info("refused call", function=handler.__name__, reason=error.message)
                raise to_https_error(error) from error

        return body

    return wrap


# The SDK types ``on_call`` as returning the handler it wraps, but what it
# returns (and deploys) takes the raw Flask request.
DeployedFunction = TypeVar("DeployedFunction", bound=Callable[..., Any])


def refuse_unreadable_bodies(function: DeployedFunction) -> DeployedFunction:
    """Answer a POST whose body is not JSON with ``invalid-argument``.

    The SDK's callable wrapper (firebase-functions 0.6.0) lets Flask's parse
    error escape as ``internal``; a client sending garbage is not our bug.
    ``functools.wraps`` keeps the SDK's endpoint metadata for deployment.
    """

    @functools.wraps(function)
    def guarded(request: flask.Request) -> Any:
        if request.method == "POST" and request.get_json(silent=True) is None:
            error = https_fn.HttpsError(
                https_fn.FunctionsErrorCode.INVALID_ARGUMENT, "the request body must be JSON"
            )
            return flask.make_response(flask.jsonify(error=error._as_dict()), 400)
        return function(request)

    return cast(DeployedFunction, guarded)
