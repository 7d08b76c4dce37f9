"""A local fake of the OpenAI chat completions API that enforces strict structured outputs.

A threaded ``http.server`` on 127.0.0.1 (ephemeral port) serving
``POST /v1/chat/completions``. Every request is checked like the real API checks a
``response_format`` of type ``json_schema`` with ``strict: true``: the schema must keep
OpenAI's strict-mode rules (``strict_schema_errors``), or the fake answers 400 with an
``invalid_request_error`` and records the problem in ``schema_errors``.

Answers come from a scripted queue (``script``) of ``Reply`` objects or responders
(callables from the request body to a ``Reply``); when the queue is empty the
``default`` responder answers, which by default builds a valid instance of the requested
schema (``example_for``). ``Reply`` has constructors for the failure modes the judging
must survive: malformed JSON, 429 with ``Retry-After``, 500, slow answers (timeouts).
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "sk-test-fake"

# OpenAI structured outputs, strict mode: the supported subset of JSON Schema.
_TYPES = frozenset({"string", "number", "boolean", "integer", "object", "array", "null"})
_COMMON_KEYS = frozenset({"type", "description", "title", "enum", "const", "anyOf", "$ref",
                          "$defs", "definitions"})
_KEYS_BY_TYPE: dict[str, frozenset[str]] = {
    "object": frozenset({"properties", "required", "additionalProperties"}),
    "array": frozenset({"items", "minItems", "maxItems"}),
    "string": frozenset({"pattern", "format"}),
    "number": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                         "multipleOf"}),
    "integer": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                          "multipleOf"}),
    "boolean": frozenset(),
    "null": frozenset(),
}
_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4",
                      "ipv6", "uuid"})
_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_PROPERTIES = 5000
MAX_DEPTH = 10
MAX_ENUM_VALUES = 1000


def strict_schema_errors(schema: object) -> list[str]:
    """Every way ``schema`` breaks OpenAI's strict structured-outputs rules (empty: fine).

    The root is an object (not ``anyOf``); every object lists all its properties in
    ``required`` and sets ``additionalProperties: false``; only supported types and
    keywords appear; ``$ref`` points into ``$defs``; at most 10 levels of nesting, 5,000
    properties and 1,000 enum values.
    """
    errors: list[str] = []
    if not isinstance(schema, dict):
        return ["schema must be an object"]
    if schema.get("type") != "object" or "anyOf" in schema:
        errors.append("root: must be of type object and not anyOf")
    defs = {**schema.get("$defs", {}), **schema.get("definitions", {})}
    counts = {"properties": 0, "enum": 0}
    _check(schema, "root", 1, defs, errors, counts)
    if counts["properties"] > MAX_PROPERTIES:
        errors.append(f"more than {MAX_PROPERTIES} properties")
    if counts["enum"] > MAX_ENUM_VALUES:
        errors.append(f"more than {MAX_ENUM_VALUES} enum values")
    return errors


def _types_of(node: dict[str, Any]) -> list[str]:
    kind = node.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [k for k in kind if isinstance(k, str)]
    return []


def _check(node: object, path: str, depth: int, defs: dict[str, Any], errors: list[str],
           counts: dict[str, int]) -> None:
    if not isinstance(node, dict):
        errors.append(f"{path}: schema must be an object")
        return
    if depth > MAX_DEPTH:
        errors.append(f"{path}: nested deeper than {MAX_DEPTH} levels")
        return
    if "$ref" in node:
        ref = node["$ref"]
        if not (isinstance(ref, str) and (ref == "#" or ref.startswith(("#/$defs/",
                                                                          "#/definitions/")))):
            errors.append(f"{path}: unsupported $ref {ref!r}")
        elif ref != "#" and ref.rsplit("/", 1)[-1] not in defs:
            errors.append(f"{path}: $ref {ref!r} not found")
        if set(node) - {"$ref", "description"}:
            errors.append(f"{path}: $ref cannot have sibling keywords")
        return
    if "anyOf" in node:
        options = node["anyOf"]
        if not isinstance(options, list) or not options:
            errors.append(f"{path}: anyOf must be a non-empty list")
        else:
            for i, option in enumerate(options):
                _check(option, f"{path}.anyOf[{i}]", depth + 1, defs, errors, counts)
        if set(node) - {"anyOf", "description", "title"}:
            errors.append(f"{path}: anyOf cannot have sibling keywords")
        return
    types = _types_of(node)
    if not types:
        errors.append(f"{path}: missing type")
        return
    for kind in types:
        if kind not in _TYPES:
            errors.append(f"{path}: unsupported type {kind!r}")
    allowed = set(_COMMON_KEYS)
    for kind in types:
        allowed |= _KEYS_BY_TYPE.get(kind, frozenset())
    for key in node:
        if key not in allowed:
            errors.append(f"{path}: keyword {key!r} is not supported for type {types}")
    if "format" in node and node["format"] not in _FORMATS:
        errors.append(f"{path}: format {node['format']!r} is not supported")
    if "enum" in node:
        values = node["enum"]
        if not isinstance(values, list) or not values:
            errors.append(f"{path}: enum must be a non-empty list")
        else:
            counts["enum"] += len(values)
            for value in values:
                if not _matches_type(value, types):
                    errors.append(f"{path}: enum value {value!r} is not of type {types}")
    for key in ("$defs", "definitions"):
        for name, sub in node.get(key, {}).items():
            _check(sub, f"{path}.{key}.{name}", depth + 1, defs, errors, counts)
    if "object" in types:
        props = node.get("properties")
        if not isinstance(props, dict):
            errors.append(f"{path}: object without properties")
            props = {}
        counts["properties"] += len(props)
        if node.get("additionalProperties") is not False:
            errors.append(f"{path}: additionalProperties must be false")
        required = node.get("required")
        if not isinstance(required, list) or sorted(required) != sorted(props):
            errors.append(f"{path}: required must list every property "
                          f"(missing {sorted(set(props) - set(required or []))})")
        for name, sub in props.items():
            _check(sub, f"{path}.{name}", depth + 1, defs, errors, counts)
    if "array" in types:
        if "items" not in node:
            errors.append(f"{path}: array without items")
        else:
            _check(node["items"], f"{path}[]", depth + 1, defs, errors, counts)


def _matches_type(value: object, types: list[str]) -> bool:
    checks: dict[str, Callable[[object], bool]] = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    return any(kind in checks and checks[kind](value) for kind in types)


def example_for(schema: Mapping[str, Any], defs: Mapping[str, Any] | None = None) -> Any:
    """A valid instance of a strict ``schema``: first enum value, minimum numbers, text."""
    defs = defs if defs is not None else {**schema.get("$defs", {}),
                                           **schema.get("definitions", {})}
    if "$ref" in schema:
        return example_for(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return example_for(schema["anyOf"][0], defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = _types_of(dict(schema))[0]
    if kind == "object":
        return {k: example_for(v, defs) for k, v in schema["properties"].items()}
    if kind == "array":
        return [example_for(schema["items"], defs)]
    if kind == "string":
        return {"date": "2026-03-10", "email": "ada@example.com"}.get(
            schema.get("format", ""), "example")
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    return None


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    content: str | None = None
    """The assistant message content (200 only); None: an example of the schema."""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    refusal: str | None = None
    finish_reason: str = "stop"
    error: str = ""
    raw_body: bytes | None = None
    """Sent as the whole response body instead of a chat completion (odd servers)."""

    @classmethod
    def json(cls, value: object, *, delay_s: float = 0.0) -> Reply:
        """A 200 whose content is ``value`` as JSON."""
        return cls(content=json.dumps(value), delay_s=delay_s)

    @classmethod
    def malformed(cls, text: str = '{"answers": {"a1": ') -> Reply:
        """A 200 whose content is not valid JSON (a truncated object by default)."""
        return cls(content=text)

    @classmethod
    def rate_limited(cls, retry_after: str | None = "0", *, ms: str | None = None) -> Reply:
        """429 Too Many Requests, with ``Retry-After`` (seconds) and/or ``retry-after-ms``."""
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        if ms is not None:
            headers["retry-after-ms"] = ms
        return cls(status=429, headers=headers, error="Rate limit reached for requests")

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        """A 5xx."""
        return cls(status=status, error="The server had an error processing your request")

    @classmethod
    def slow(cls, delay_s: float, then: Reply | None = None) -> Reply:
        """An answer that comes only after ``delay_s`` (longer than the client timeout)."""
        return replace(then or cls(), delay_s=delay_s)


Responder = Callable[[dict[str, Any]], Reply]


def schema_of(request: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The (name, schema) of a request's ``response_format``."""
    spec = request["response_format"]["json_schema"]
    return str(spec["name"]), dict(spec["schema"])


def prompt_text(request: Mapping[str, Any]) -> str:
    """All message contents of a request, joined."""
    return "\n".join(str(m.get("content", "")) for m in request.get("messages", []))


def example_reply(request: dict[str, Any]) -> Reply:
    """The default responder: a valid instance of the requested schema."""
    return Reply.json(example_for(schema_of(request)[1]))


@dataclass
class FakeOpenAI:
    """The fake server's state: the queue, what was received, what was refused."""

    default: Responder = example_reply
    requests: list[dict[str, Any]] = field(default_factory=list)
    schema_errors: list[str] = field(default_factory=list)
    hits: int = 0
    """Every POST received, including the ones refused (bad key, bad schema)."""
    port: int = 0
    transcripts: deque[str | int] = field(default_factory=deque)
    """Answers to ``/v1/audio/transcriptions``, in order: a text, or an HTTP error
    status; when empty, "Hello?"."""
    transcriptions: list[dict[str, Any]] = field(default_factory=list)
    """What each transcription request carried: model, file name, WAV bytes."""

    def __post_init__(self) -> None:
        self._queue: deque[Reply | Responder] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """What to give ``OpenAI(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply | Responder) -> None:
        """Queue answers for the next requests, in order."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted answers not used yet."""
        with self._lock:
            return len(self._queue)

    def start(self) -> FakeOpenAI:
        """Serve on an ephemeral port in a background thread."""
        fake = self

        class Handler(_Handler):
            server_state = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; slow answers still waiting are cut short."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- called by the handler --------------------------------------------------------

    def _answer(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(request)
            item: Reply | Responder = self._queue.popleft() if self._queue else self.default
        return item if isinstance(item, Reply) else item(request)

    def _refuse(self, problem: str) -> None:
        with self._lock:
            self.schema_errors.append(problem)


def request_problems(request: object) -> list[str]:
    """What makes a chat completions request unacceptable to the strict API (empty: ok)."""
    if not isinstance(request, dict):
        return ["body must be a JSON object"]
    problems: list[str] = []
    if not isinstance(request.get("model"), str) or not request["model"]:
        problems.append("model is required")
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        problems.append("messages must be a non-empty list")
    else:
        for m in messages:
            if not isinstance(m, dict) or m.get("role") not in ("system", "developer", "user",
                                                                 "assistant"):
                problems.append(f"bad message {m!r}")
    fmt = request.get("response_format")
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        problems.append("response_format must be a json_schema")
        return problems
    spec = fmt.get("json_schema")
    if not isinstance(spec, dict):
        return [*problems, "json_schema missing"]
    if not isinstance(spec.get("name"), str) or not _NAME_RE.match(spec["name"]):
        problems.append(f"json_schema.name {spec.get('name')!r} must match {_NAME_RE.pattern}")
    if spec.get("strict") is not True:
        problems.append("json_schema.strict must be true")
    problems.extend(strict_schema_errors(spec.get("schema")))
    return problems


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """The named parts of a ``multipart/form-data`` body."""
    match = re.search(r"boundary=\"?([^\";]+)", content_type)
    if match is None:
        return {}
    parts: dict[str, bytes] = {}
    for chunk in body.split(b"--" + match.group(1).encode()):
        head, sep, data = chunk.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]+)"', head)
        if sep and name:
            parts[name.group(1).decode()] = data.removesuffix(b"\r\n")
    return parts


class _Handler(BaseHTTPRequestHandler):
    server_state: FakeOpenAI
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_POST(self) -> None:
        fake = self.server_state
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with fake._lock:
            fake.hits += 1
        if self.path.rstrip("/") == "/v1/audio/transcriptions":
            self._transcribe(body)
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {"error": {"message": f"no route {self.path}",
                                       "type": "invalid_request_error"}})
            return
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            self._send(401, {"error": {"message": "Incorrect API key provided",
                                       "type": "invalid_request_error",
                                       "code": "invalid_api_key"}})
            return
        try:
            request = json.loads(body)
        except ValueError:
            self._send(400, {"error": {"message": "body is not JSON",
                                       "type": "invalid_request_error"}})
            return
        problems = request_problems(request)
        if problems:
            fake._refuse("; ".join(problems))
            name = (request.get("response_format") or {}).get("json_schema", {}).get("name")
            self._send(400, {"error": {
                "message": f"Invalid schema for response_format '{name}': {problems[0]}",
                "type": "invalid_request_error", "param": "response_format",
                "code": "invalid_json_schema"}})
            return
        reply = fake._answer(request)
        if reply.delay_s and fake._stopping.wait(reply.delay_s):
            return
        if reply.raw_body is not None:
            self._send_bytes(reply.status, reply.raw_body, reply.headers)
            return
        if reply.status != 200:
            self._send(reply.status, {"error": {"message": reply.error or "error",
                                                "type": "requests" if reply.status == 429
                                                else "server_error", "code": None}},
                       reply.headers)
            return
        content = reply.content
        if content is None and reply.refusal is None:
            content = json.dumps(example_for(schema_of(request)[1]))
        tokens_in = max(1, len(prompt_text(request)) // 4)
        tokens_out = max(1, len(content or reply.refusal or "") // 4)
        self._send(200, {
            "id": f"chatcmpl-fake{len(fake.requests)}",
            "object": "chat.completion",
            "created": 1_773_000_000,
            "model": request["model"],
            "choices": [{"index": 0, "finish_reason": reply.finish_reason, "logprobs": None,
                         "message": {"role": "assistant", "content": content,
                                     "refusal": reply.refusal}}],
            "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                      "total_tokens": tokens_in + tokens_out},
        }, reply.headers)

    def _transcribe(self, body: bytes) -> None:
        """Speech to text: a multipart form with ``model`` and a WAV ``file``."""
        fake = self.server_state
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            self._send(401, {"error": {"message": "Incorrect API key provided",
                                       "type": "invalid_request_error"}})
            return
        fields = _multipart(self.headers.get("Content-Type", ""), body)
        wav = fields.get("file", b"")
        if not fields.get("model") or not wav.startswith(b"RIFF"):
            self._send(400, {"error": {"message": "model and a WAV file are required",
                                       "type": "invalid_request_error"}})
            return
        with fake._lock:
            fake.transcriptions.append({"model": fields["model"].decode(), "wav": wav})
            answer: str | int = fake.transcripts.popleft() if fake.transcripts else "Hello?"
        if isinstance(answer, int):
            self._send(answer, {"error": {"message": "scripted failure",
                                          "type": "server_error"}})
            return
        self._send(200, {"text": answer})

    def _send(self, status: int, payload: object,
              headers: Mapping[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), headers)

    def _send_bytes(self, status: int, data: bytes,
                    headers: Mapping[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass
