"""What every endpoint of the partner API shares.

- **Errors** are RFC 9457 problem details (``application/problem+json``): ``type``, ``title``, ``status``,
  ``detail``, ``instance``, and for invalid input ``errors`` (one item per field and message).
- **Scopes:** a view names ``required_scopes`` by action (viewsets) or by HTTP method; a key without them gets 403.
- **Throttling** per key (``API_RATE_LIMIT``; anonymous callers of public endpoints per address) with the
  ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset`` headers on every answer and ``Retry-After``
  on a 429.
- **Cursor pagination** ordered on an indexed column, so a page costs the same on page 1 and page 10,000.
- **Idempotency-Key** on the POSTs that start something: a successful answer is stored for 24 hours and replayed
  for a retry with the same key and body; the same key with another body is refused (422), one still running too
  (409); a refused request is not remembered, so it can be fixed and retried with the same key.
"""

from __future__ import annotations

import hashlib
import json
import time
from functools import wraps

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.utils.encoders import JSONEncoder

from .authentication import ApiKeyPrincipal

PROBLEM_JSON = "application/problem+json"


# Problem details ---------------------------------------------------------------------------------------------------

class Problem(exceptions.APIException):
    """An API error of one of PROBLEM_TYPES (its slug), with its status and what happened (``detail``)."""

    def __init__(self, detail: str, *, status_code: int, problem_type: str, title: str | None = None):
        super().__init__(detail)
        self.status_code = status_code
        self.problem_type = problem_type
        self.title = title or PROBLEM_TYPES[problem_type][0]


# Every problem type of the API: slug -> (title, what it means and what to do). Each is documented at
# /api/problems/<slug>/, the URI in the answer's "type".
PROBLEM_TYPES = {
    "validation-error": (_lazy("Your request is not valid."),
                         _lazy("A field is missing or wrong. `errors` lists each problem with its field and code; "
                               "fix them and send the request again.")),
    "malformed-request": (_lazy("The request body could not be read."),
                          _lazy("The body is not valid JSON (or not the declared content type).")),
    "unauthenticated": (_lazy("Authentication needed."),
                        _lazy("Send a live API key of your company: `Authorization: Api-Key <key>`. A revoked or "
                              "expired key, or one of a suspended account, is refused.")),
    "missing-scope": (_lazy("Forbidden."),
                      _lazy("The key lacks a scope this endpoint needs; `missing_scopes` names them. Create a key "
                            "with those scopes in the portal (API keys).")),
    "not-found": (_lazy("Not found."),
                  _lazy("Nothing at this address for your company: the object does not exist or belongs to "
                        "another account.")),
    "method-not-allowed": (_lazy("Method not allowed."), _lazy("This endpoint does not accept this HTTP method.")),
    "not-acceptable": (_lazy("Not acceptable."), _lazy("The API answers in JSON only.")),
    "unsupported-media-type": (_lazy("Unsupported media type."), _lazy("Send JSON (`application/json`).")),
    "rate-limited": (_lazy("Too many requests."),
                     _lazy("The key used its budget for the period. Wait `Retry-After` seconds; every answer says "
                           "what is left in `RateLimit-Remaining`.")),
    "idempotency-key-reused": (_lazy("Idempotency-Key reused."),
                               _lazy("This Idempotency-Key was sent with another request. Use a new key for a new "
                                     "request; send the same body to get the first answer again.")),
    "idempotency-key-in-use": (_lazy("Request in progress."),
                               _lazy("The first request with this Idempotency-Key is still running; retry in a "
                                     "moment to get its answer.")),
    "conflict": (_lazy("Conflict."),
                 _lazy("The object is not in a state that allows this action (e.g. a call that has ended); read it "
                       "again and decide.")),
    "server-error": (_lazy("Server error."),
                     _lazy("Something went wrong on CALLKOM's side; it is logged. Retry later; with an "
                           "Idempotency-Key a retry is safe.")),
    "error": (_lazy("Error."), _lazy("Another error; `detail` says what happened.")),
}

_TYPES = {
    exceptions.ValidationError: "validation-error",
    exceptions.ParseError: "malformed-request",
    exceptions.NotAuthenticated: "unauthenticated",
    exceptions.AuthenticationFailed: "unauthenticated",
    exceptions.PermissionDenied: "missing-scope",
    exceptions.NotFound: "not-found",
    exceptions.MethodNotAllowed: "method-not-allowed",
    exceptions.NotAcceptable: "not-acceptable",
    exceptions.UnsupportedMediaType: "unsupported-media-type",
    exceptions.Throttled: "rate-limited",
}


def problem_type_url(slug: str) -> str:
    return f"{settings.CALLKOM_PUBLIC_URL}/api/problems/{slug}/"


def problem_body(*, status_code: int, problem_type: str, title: str, detail: str, instance: str, **extra) -> dict:
    return {"type": problem_type_url(problem_type), "title": str(title), "status": status_code,
            "detail": str(detail), "instance": instance, **extra}


class Conflict(exceptions.APIException):
    """409: the object's state does not allow the action (``detail`` says why)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = _lazy("The object is not in a state that allows this action.")
    default_code = "conflict"


def _flatten(errors, prefix: str = "") -> list[dict]:
    """DRF's nested error structure as a flat list of {"field", "detail", "code"}; "" names the whole request."""
    items = []
    if isinstance(errors, dict):
        for name, value in errors.items():
            field = "" if name in ("non_field_errors", "__all__") else (f"{prefix}.{name}" if prefix else name)
            items += _flatten(value, field or prefix)
    elif isinstance(errors, list):
        for index, value in enumerate(errors):
            if isinstance(value, dict | list):
                items += _flatten(value, f"{prefix}[{index}]")
            else:
                items += _flatten(value, prefix)
    else:
        items.append({"field": prefix, "detail": str(errors), "code": getattr(errors, "code", "invalid")})
    return items


def problem_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error as problem details; Django's own exceptions mapped first."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    from rest_framework.views import exception_handler  # here: rest_framework.views reads these settings

    response = exception_handler(exc, context)
    if response is None:
        return None
    request = context["request"]
    if isinstance(exc, Problem):
        problem_type, title = exc.problem_type, exc.title
    else:
        problem_type = "conflict" if isinstance(exc, Conflict) else next(
            (slug for cls, slug in _TYPES.items() if isinstance(exc, cls)), "error")
        title = PROBLEM_TYPES[problem_type][0]
    extra = {}
    if isinstance(exc, exceptions.ValidationError):
        detail = _("Some fields are not valid: see errors.")
        extra["errors"] = _flatten(response.data)
    elif isinstance(exc, exceptions.PermissionDenied) and getattr(exc, "missing_scopes", None):
        detail = str(exc.detail)
        extra["missing_scopes"] = exc.missing_scopes
    else:
        detail = str(exc.detail) if not isinstance(exc.detail, dict | list) else title
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        extra["retry_after"] = int(exc.wait + 0.999)
    response.data = problem_body(status_code=response.status_code, problem_type=problem_type, title=title,
                                 detail=detail, instance=request.get_full_path(), **extra)
    response.content_type = PROBLEM_JSON
    return response


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, the shape of every error of this API."""

    type = serializers.URLField(help_text="What kind of problem: a link to its documentation (/api/problems/…/).")
    title = serializers.CharField(help_text="A short summary of the kind of problem.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What went wrong with this request.")
    instance = serializers.CharField(help_text="The path of the request.")
    errors = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()), required=False,
        help_text="For invalid input: one item per problem, with field (\"\" for the whole request), detail, code.")
    missing_scopes = serializers.ListField(child=serializers.CharField(), required=False,
                                           help_text="For a 403: the scopes the key lacks.")
    retry_after = serializers.IntegerField(required=False, help_text="For a 429: seconds to wait.")


# Throttling --------------------------------------------------------------------------------------------------------

class ApiKeyThrottle(SimpleRateThrottle):
    """A fixed budget per key per period (anonymous callers of public endpoints: per client address)."""

    def get_rate(self):
        return settings.API_RATE_LIMIT

    def get_cache_key(self, request, view):
        if isinstance(request.user, ApiKeyPrincipal):
            return f"throttle:key:{request.auth.prefix}"
        return f"throttle:anon:{self.get_ident(request)}"

    def allow_request(self, request, view):
        allowed = super().allow_request(request, view)
        if self.rate is None:
            return True
        if allowed:
            remaining = max(0, self.num_requests - len(self.history))
        else:
            remaining = 0
        oldest = self.history[-1] if self.history else self.now
        reset = max(0, int(self.duration - (self.now - oldest) + 0.999))
        request._request.ratelimit = (self.num_requests, remaining, reset, self.duration)
        return allowed

    def timer(self):
        return time.time()


class RateLimitHeadersMiddleware:
    """Copy what the throttle measured onto the response (for answers, errors and 429s alike)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        measured = getattr(request, "ratelimit", None)
        if measured is not None:
            limit, remaining, reset, window = measured
            response["RateLimit-Limit"] = str(limit)
            response["RateLimit-Remaining"] = str(remaining)
            response["RateLimit-Reset"] = str(reset)
            response["RateLimit-Policy"] = f"{limit};w={window}"
        return response


# Pagination --------------------------------------------------------------------------------------------------------

class Cursor(CursorPagination):
    """Opaque cursors over an indexed ordering; a view whose rows sort otherwise uses a subclass with its own
    ``ordering`` (a unique last column breaks ties). A cursor that cannot be read is a 400 naming ``cursor``."""

    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = ("-created_at", "-id")

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError(
                {self.cursor_query_param: [_("This cursor is not valid: use the next or previous link as given.")]}
            ) from None


class NewestFirst(Cursor):
    """Cursor pagination on the primary key, newest first (the primary key is indexed; created_at is not)."""

    ordering = ("-id",)


class ByName(Cursor):
    ordering = ("name",)


# Views and errors shared by the resources ------------------------------------------------------------------------

PROBLEM_400 = {(400, PROBLEM_JSON): ProblemSerializer}
PROBLEM_409 = {(409, PROBLEM_JSON): OpenApiResponse(ProblemSerializer, description="Conflict with the current state.")}
IDEMPOTENCY_PROBLEMS = {  # what ``idempotent`` may answer
    (409, PROBLEM_JSON): OpenApiResponse(ProblemSerializer, description="The first request with this "
                                         "Idempotency-Key is still running, or a conflict with the current state."),
    (422, PROBLEM_JSON): OpenApiResponse(ProblemSerializer, description="This Idempotency-Key was used with "
                                         "another request."),
}


class FieldConflict(Problem, exceptions.ValidationError):
    """A 409 ``conflict`` problem that also names the fields concerned in ``errors``."""

    def __init__(self, errors: dict):
        super().__init__(errors, status_code=status.HTTP_409_CONFLICT, problem_type="conflict")


# Idempotency -------------------------------------------------------------------------------------------------------

def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, cls=JSONEncoder, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def idempotent(view_method):
    """Honour ``Idempotency-Key`` on a POST that starts something (a call, an import).

    The key is per tenant. A successful answer is kept for 24 hours and replayed, with ``Idempotent-Replayed:
    true``, for a retry with the same key and the same body. A refusal (4xx) or a failure is not remembered: the
    caller may fix the request, or the cause (say, telephony not configured), and retry with the same key."""

    @wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        from .models import IdempotencyRecord

        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view_method(self, request, *args, **kwargs)
        if not (0 < len(key) <= 255) or not key.isprintable():
            raise exceptions.ValidationError({"Idempotency-Key": [_("Use 1 to 255 printable characters.")]})
        tenant, fingerprint = request.auth.tenant, _fingerprint(request)
        IdempotencyRecord.objects.filter(tenant=tenant, key=key,
                                         created_at__lt=timezone.now() - IdempotencyRecord.TTL).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(tenant=tenant, key=key, fingerprint=fingerprint,
                                                          method=request.method, path=request.path[:300])
        except IntegrityError:
            record = IdempotencyRecord.objects.get(tenant=tenant, key=key)
            if record.fingerprint != fingerprint:
                raise Problem(_("This Idempotency-Key was used with another request; use a new key."),
                              status_code=422, problem_type="idempotency-key-reused") from None
            if record.completed_at is None:
                raise Problem(_("The first request with this Idempotency-Key is still running; retry later."),
                              status_code=status.HTTP_409_CONFLICT, problem_type="idempotency-key-in-use") from None
            response = Response(record.response_body, status=record.status_code)
            response["Idempotent-Replayed"] = "true"
            return response
        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception:
            record.delete()
            raise
        if response.status_code >= 300:  # only a success is remembered: a refused request may be fixed and retried
            record.delete()
            return response
        record.status_code = response.status_code
        record.response_body = json.loads(json.dumps(response.data, cls=JSONEncoder))
        record.completed_at = timezone.now()
        record.save(update_fields=["status_code", "response_body", "completed_at"])
        return response

    wrapper.idempotent = True
    return wrapper
