"""One decorator per REST view: auth, path ids, body and query validation, idempotency, docs.

The same metadata feeds the OpenAPI document, so what is documented is what is enforced.
"""
import json
import re
from functools import wraps

from flask import request

from ..auth import auth_required, current_principal
from ..errors import InvalidInput, MalformedJSON, load
from ..ids import ID_MESSAGE, is_id
from ..storage import IdempotencyKey
from ..strictjson import NonFiniteNumber, loads

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
ANY_ROLE = ()


def _check_text(value):
    """Refuse what JSON allows but the databases cannot store: NUL characters, lone surrogates.

    Iterative, so a body nested as deep as the JSON parser allows cannot exhaust the stack.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise InvalidInput(details={"_schema": ["Strings must not contain NUL characters."]})
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidInput(details={"_schema": ["Strings must be valid Unicode."]}) from None
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _plain_text(raw):
    """True when a JSON body cannot hold a NUL or a lone surrogate, so `_check_text` can be skipped.

    json.loads refuses raw control characters, so a NUL can only come from a `\\u` escape; it
    decodes UTF-8 with `surrogatepass`, so a lone surrogate comes from a `\\u` escape or from
    the bytes ED A0-BF. A UTF-8 body with neither `\\u` nor the byte ED (which also starts
    U+D000-U+D7FF, Hangul among them: those bodies are walked) is plain."""
    return b"\\u" not in raw and b"\xed" not in raw and json.detect_encoding(raw) == "utf-8"


def read_json_body():
    """The request body as JSON (an empty body is `{}`); 400 when malformed, 413 when too large."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = loads(raw)
    except NonFiniteNumber as exc:  # well-formed, but no JSON peer can represent the number
        raise InvalidInput(details={"_schema": [str(exc)]}) from None
    except (ValueError, RecursionError) as exc:
        message = "The request body is not valid JSON."
        if isinstance(exc, json.JSONDecodeError):
            message = f"The request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
        raise MalformedJSON(message) from None
    if not _plain_text(raw):
        _check_text(body)
    return body


def idempotency_key(body):
    """The request's Idempotency-Key scoped to caller and route, or None when not sent."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not IDEMPOTENCY_KEY_RE.match(key):
        raise InvalidInput(details={IDEMPOTENCY_HEADER: [
            "Must be 1-255 visible ASCII characters (a UUID is a good choice)."]})
    return IdempotencyKey.build(key, current_principal().user_id,
                                f"{request.method} {request.path}", body)


def endpoint(summary, *, auth=ANY_ROLE, public=False, body=None, query=None, response=None,
             status=200, idempotent=False, path_ids=(), tags=("realtime",), description=None):
    """Declare a REST view: who may call it, what it takes and what it returns.

    The view receives validated `body` and `query` keyword arguments when schemas are given,
    and `idempotency` (an IdempotencyKey or None) when `idempotent`.
    """

    def decorator(view):
        @wraps(view)
        def handler(*args, **kwargs):
            for name in path_ids:
                if not is_id(kwargs.get(name)):
                    raise InvalidInput(details={name: [ID_MESSAGE]})
            if query is not None:
                kwargs["query"] = load(query, request.args.to_dict())
            if body is not None:
                raw = read_json_body()
                kwargs["body"] = load(body, raw)
                if idempotent:
                    kwargs["idempotency"] = idempotency_key(raw)
            return view(*args, **kwargs)

        wrapped = handler if public else auth_required(*auth)(handler)
        wrapped.openapi = {
            "summary": summary, "description": description or (view.__doc__ or "").strip(),
            "auth": None if public else (auth or ANY_ROLE), "body": body, "query": query,
            "response": response, "status": status, "idempotent": idempotent,
            "path_ids": path_ids, "tags": list(tags),
        }
        return wrapped

    return decorator
