"""The callable edge: identity, validation, error mapping and JSON output.

This is the one place where domain errors become ``HttpsError`` codes, so
nothing reaches a client as ``internal`` unless it is a bug. Deploys import
every entrypoint module to discover the functions, so this module imports
neither pydantic nor the request models: they load on a function's first call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import flask
from firebase_functions import https_fn, logger
from werkzeug.exceptions import RequestEntityTooLarge

from generations_live.adapters import accounts, app_check
from generations_live.adapters.config import reserved_display_names
from generations_live.domain import errors
from generations_live.domain.identity import Caller, caller_from_claims
from generations_live.entrypoints import deployment

if TYPE_CHECKING:
    from pydantic import BaseModel

ERROR_CODES: dict[type[errors.DomainError], https_fn.FunctionsErrorCode] = {
    errors.InvalidArgument: https_fn.FunctionsErrorCode.INVALID_ARGUMENT,
    errors.Unauthenticated: https_fn.FunctionsErrorCode.UNAUTHENTICATED,
    errors.PermissionDenied: https_fn.FunctionsErrorCode.PERMISSION_DENIED,
    errors.NotFound: https_fn.FunctionsErrorCode.NOT_FOUND,
    errors.FailedPrecondition: https_fn.FunctionsErrorCode.FAILED_PRECONDITION,
    errors.ResourceExhausted: https_fn.FunctionsErrorCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: https_fn.FunctionsErrorCode.UNAVAILABLE,
    errors.Contended: https_fn.FunctionsErrorCode.ABORTED,
}

RequestModel = TypeVar("RequestModel", bound="BaseModel")
Handler = Callable[[Caller, RequestModel], dict[str, Any]]
# The largest callable request body read at all: requests fit in a few KiB (a
# prompt is at most 12,000 bytes). A handler that takes more says so with
# ``accepts_bodies_up_to`` (a worker's report carries a preview image).
MAX_CALLABLE_BODY_BYTES = 64 * 1024
# The deepest any request nests is 2 (an error report inside a status report).
MAX_REQUEST_DEPTH = 16
BEARER = "Bearer "
APP_CHECK_HEADER = "X-Firebase-AppCheck"
# Marks a handler whose App Check tokens are single use (see single_use_app_check).
_SINGLE_USE_APP_CHECK = "__single_use_app_check__"
# Marks a handler that reads bodies larger than MAX_CALLABLE_BODY_BYTES.
_MAX_BODY_BYTES = "__max_body_bytes__"
# Where a deployed callable keeps its handler, as the SDK keeps its endpoint.
_HANDLER = "__callable_handler__"
# The SDK types ``on_call`` as returning the handler it wraps, but what it
# returns (and deploys) takes the raw Flask request.
DeployedFunction = TypeVar("DeployedFunction", bound=Callable[..., Any])


def error_code(error: errors.DomainError) -> https_fn.FunctionsErrorCode:
    """The code of the nearest mapped class in the error's ancestry.

    A new subclass of a domain error answers with its parent's code, never
    ``internal``; only a bare ``DomainError`` (a bug: it names no code) does.
    """
    for ancestor in type(error).__mro__:
        code = ERROR_CODES.get(ancestor)
        if code is not None:
            return code
    return https_fn.FunctionsErrorCode.INTERNAL


def to_https_error(error: errors.DomainError) -> https_fn.HttpsError:
    return https_fn.HttpsError(error_code(error), error.message, error.details)


def require_caller(request: https_fn.CallableRequest[Any]) -> Caller:
    """The caller, from the token the SDK verified.

    A worker or admin token is verified again against Firebase Auth with the
    revocation check (one network call), so that a revoked role is refused at
    once rather than when the token expires; other callers skip that call.
    """
    if request.auth is None or not request.auth.uid:
        raise errors.Unauthenticated("sign in to call this function")
    # Only the one param: the whole settings (price table, engines) are the use cases' to read.
    caller = caller_from_claims(request.auth.uid, request.auth.token, reserved_display_names())
    if caller.is_admin or caller.is_worker:
        accounts.verify_session(bearer_token(request.raw_request))
    return caller


def bearer_token(request: flask.Request) -> str:
    """The ID token of the ``Authorization: Bearer`` header, as the SDK read it."""
    authorization = request.headers.get("Authorization", "")
    if not authorization.startswith(BEARER):
        raise errors.Unauthenticated("sign in to call this function")
    return authorization.removeprefix(BEARER)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def request_problem(data: Any) -> tuple[str, str] | None:
    """``(field, message)`` for the first string or key in ``data`` that UTF-8 cannot
    encode, or the first object or list nested past MAX_REQUEST_DEPTH; None if neither.

    JSON may carry a lone surrogate (``"\\ud800"``) that Firestore, logs and answers
    cannot, and a few kilobytes of brackets nest deep enough to exhaust a recursive
    reader: such a request is refused before anything reads it. The walk keeps its
    own stack, so its depth is not Python's.
    """
    pending: list[tuple[Any, str, int]] = [(data, "", 0)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, str):
            if not _encodes(value):
                return path or "data", "must be text that encodes as UTF-8"
            continue
        if isinstance(value, dict):
            children: list[tuple[Any, Any]] = list(value.items())
        elif isinstance(value, list):
            children = list(enumerate(value))
        else:
            continue
        if depth >= MAX_REQUEST_DEPTH:
            return path or "data", f"must not nest deeper than {MAX_REQUEST_DEPTH} levels"
        for key, child in reversed(children):  # reversed: the first field is looked at first
            child_path = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and not _encodes(key):
                return child_path, "must be text that encodes as UTF-8"
            pending.append((child, child_path, depth + 1))
    return None


def parse_request(model: type[RequestModel], data: Any) -> RequestModel:
    """Validate request data, naming every offending field in the error."""
    from pydantic import ValidationError  # noqa: PLC0415 - loaded on the first call

    problem = request_problem(data)
    if problem is not None:
        unreadable, message = problem
        # The path may hold the very surrogate refused: it is named escaped.
        field = unreadable.encode("utf-8", "backslashreplace").decode("utf-8")
        raise errors.InvalidArgument(
            f"{field}: {message}", details={"errors": [{"field": field, "message": message}]}
        )
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


@functools.cache
def request_model(handler: Callable[..., Any]) -> type[BaseModel]:
    """The request model a callable's handler names in its ``request`` annotation.

    Annotations stay strings here (``from __future__ import annotations``), so
    the handler's module never has to import the models at deploy time; the
    name is looked up in ``domain.models`` when the callable is first called.
    """
    from pydantic import BaseModel  # noqa: PLC0415 - loaded on the first call

    from generations_live.domain import models  # noqa: PLC0415 - loaded on the first call

    name = handler.__annotations__.get("request")
    model = getattr(models, str(name), None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{handler.__name__}: 'request' must name a model of domain.models")
    return model


def single_use_app_check(handler: Handler[RequestModel]) -> Handler[RequestModel]:
    """Mark a callable whose App Check tokens are consumed (limited-use tokens),
    where the deploy enforces App Check: a replayed request is refused."""
    setattr(handler, _SINGLE_USE_APP_CHECK, True)
    return handler


def accepts_bodies_up_to(max_bytes: int) -> Callable[[Handler[Any]], Handler[Any]]:
    """Mark a callable whose requests may be larger than MAX_CALLABLE_BODY_BYTES."""

    def mark(handler: Handler[Any]) -> Handler[Any]:
        setattr(handler, _MAX_BODY_BYTES, max_bytes)
        return handler

    return mark


def app_check_token(request: flask.Request) -> str:
    token = request.headers.get(APP_CHECK_HEADER, "")
    if not token:
        raise errors.Unauthenticated("this call needs an App Check token")
    return token


def callable_function(handler: Handler[Any]) -> Callable[..., Any]:
    """Deploy ``handler(caller, request)`` as the callable of the same (camelCase) name.

    The callable refuses a caller who is not signed in, validates the data
    against the model the ``request`` annotation names, maps domain errors to
    callable codes, converts the answer to JSON, and answers a body that is
    not JSON with ``invalid-argument``. It runs within the callables' resource
    bounds, and requires App Check where the deploy enforces it
    (``entrypoints/deployment.py``).
    """
    enforce_app_check = deployment.app_check_enforced()
    consumes_app_check = enforce_app_check and getattr(handler, _SINGLE_USE_APP_CHECK, False)

    @functools.wraps(handler)
    def body(request: https_fn.CallableRequest[Any]) -> Any:
        try:
            caller = require_caller(request)
            if consumes_app_check:
                app_check.consume_token(app_check_token(request.raw_request))
            parsed = parse_request(request_model(handler), request.data)
            return to_json(handler(caller, parsed))
        except errors.DomainError as error:
            # The uid only: never an email or a prompt.
            uid = request.auth.uid if request.auth is not None else None
            logger.info("refused call", function=handler.__name__, uid=uid, reason=error.message)
            raise to_https_error(error) from error

    on_call = https_fn.on_call(**deployment.CALLABLES, enforce_app_check=enforce_app_check)
    max_body = getattr(handler, _MAX_BODY_BYTES, MAX_CALLABLE_BODY_BYTES)
    deployed = guard_request_bodies(on_call(body), max_body)
    setattr(deployed, _HANDLER, handler)
    return deployed


def handler_of(deployed: Callable[..., Any]) -> Handler[Any] | None:
    """The handler a callable was made from (``None`` for other functions)."""
    handler: Handler[Any] | None = getattr(deployed, _HANDLER, None)
    return handler


def guard_request_bodies(
    function: DeployedFunction, max_bytes: int = MAX_CALLABLE_BODY_BYTES
) -> DeployedFunction:
    """Answer a POST larger than ``max_bytes``, or whose body is not JSON, with
    ``invalid-argument`` before anything parses it.

    The SDK's callable wrapper (firebase-functions 0.6.0) lets Flask's parse
    error escape as ``internal``; a client sending garbage is not our bug.
    ``functools.wraps`` keeps the SDK's endpoint metadata for deployment.
    """

    @functools.wraps(function)
    def guarded(request: flask.Request) -> Any:
        if request.method == "POST":
            if not body_within(request, max_bytes):
                return _refusal(f"the request body must be at most {max_bytes // 1024} KiB")
            try:
                readable = request.get_json(silent=True) is not None
            except RecursionError:
                # Python's JSON reader recurses: a few KiB of brackets exhaust it.
                return _refusal("the request body nests too deeply")
            if not readable:
                return _refusal("the request body must be JSON")
        return function(request)

    return cast(DeployedFunction, guarded)


def body_within(request: flask.Request, max_bytes: int) -> bool:
    """Read the body (kept for later readers) unless it is larger than ``max_bytes``.

    Werkzeug stops reading past the limit, whether or not a length was sent;
    the limit is lifted again so that functions-framework, which drains the
    body after the answer, does not meet it.
    """
    request.max_content_length = max_bytes
    try:
        request.get_data(cache=True)
    except RequestEntityTooLarge:
        return False
    finally:
        request.max_content_length = None
    return True


def _refusal(message: str) -> flask.Response:
    error = https_fn.HttpsError(https_fn.FunctionsErrorCode.INVALID_ARGUMENT, message)
    return flask.make_response(flask.jsonify(error=error._as_dict()), 400)
