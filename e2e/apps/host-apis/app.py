"""Spin host API test app (Python, spin-sdk 3.4.1, built with componentize-py 0.17.2).

Every route drives one Spin host API so that an end-to-end test can exercise it with
plain HTTP. Path segments (<store>, <key>, <db>, <name>) are percent-decoded; <key> is
the rest of the path and may contain '/'.

Outcomes
  success                -> 200 (text/plain or application/json), bodies as listed below
  missing value          -> 404 "not found"
  host API raised        -> 409 "ERROR <class>: <detail>" and header x-error-variant: <class>
                            * WIT errors (spin_sdk.wit.types.Err): class is "Err", detail is
                              repr() of the error value, e.g.
                                ERROR Err: Error_AccessDenied()
                                ERROR Err: Error_NoSuchStore()
                                ERROR Err: Error_Other(value='...')
                                ERROR Err: ErrorCode_HttpRequestDenied()
                              and x-error-variant is the value's class (Error_AccessDenied).
                            * any other Python exception: ERROR <ExceptionClass>: <str(e)>
  bad request to the app -> 400 "bad request: ..."
  unknown route          -> 404 "no route: <path>" (on the peer component: 200 "peer:<uri>")
  A host *trap* (e.g. an import the runtime does not implement) kills the instance; the
  runtime answers that itself (typically 500).

Routes
  GET    /whoami                      "<ROLE>:<uri>"  (ROLE env var, default "host-apis")
  GET    /headers                     JSON object of the request headers (lower-case names)
  GET    /bindings                    JSON: which generated binding modules the app uses

  Spin key-value (fermyon:spin/key-value@2.0.0, spin_sdk.key_value)
  PUT    /kv/<store>/<key>            body = value                       -> "ok"
  GET    /kv/<store>/<key>            -> value bytes | 404 "not found"
  DELETE /kv/<store>/<key>            -> "ok"
  GET    /kv-exists/<store>/<key>     -> "true" | "false"
  GET    /kv-keys/<store>             -> JSON sorted list of keys

  wasi:keyvalue@0.2.0-draft2 (store, atomics, batch)
  PUT    /wkv/<store>/<key>           body = value                       -> "ok"
  GET    /wkv/<store>/<key>           -> value bytes | 404 "not found"
  DELETE /wkv/<store>/<key>           -> "ok"
  GET    /wkv-exists/<store>/<key>    -> "true" | "false"
  GET    /wkv-keys/<store>            list-keys, following the cursor     -> JSON sorted list
  POST   /wkv-incr/<store>/<key>?by=N atomics.increment (N default 1)     -> new value, e.g. "5"
  POST   /wkv-cas/<store>/<key>       body = new value; atomics cas.new + current + swap
                                      -> JSON {"previous": "<old>" | null}
  POST   /wkv-batch/<store>           body = JSON object {"k": "v", ...}: set-many, then
                                      get-many of the same keys -> JSON object {"k": "v"|null}
  GET    /wkv-batch/<store>?key=a&key=b   get-many -> JSON object {"a": "v"|null, ...}
  DELETE /wkv-batch/<store>           body = JSON list of keys: delete-many -> "ok"
  (values in JSON are UTF-8 text; undecodable bytes are replaced)

  SQLite
  POST   /sqlite/<db>[?params=JSON]   fermyon:spin/sqlite@2.0.0; body = one SQL statement
                                      -> JSON {"columns": [...], "rows": [[...], ...]}
  POST   /sqlite3/<db>[?params=JSON]  spin:sqlite/sqlite@3.0.0; same, plus
                                      "last_insert_rowid": int and "changes": int
         params: JSON list; int -> integer, float -> real, str -> text, null -> null,
         {"blob": "<base64>"} -> blob. Result values use the same mapping.

  Variables
  GET    /var/<name>                  fermyon:spin/variables get -> value
  GET    /config/<name>               wasi:config/store get -> value | 404 "not found"
  GET    /config-all                  wasi:config/store get-all -> JSON object

  Outbound Redis (fermyon:spin/redis@2.0.0): POST /redis/<op>?address=<redis url>&key=<k>
    set       body = value                    -> "ok"
    get                                       -> value bytes | 404 "not found"
    incr                                      -> new value, e.g. "1"
    del       every key= parameter            -> number of keys removed, e.g. "2"
    sadd/srem body = JSON list of members     -> number added/removed
    smembers                                  -> JSON sorted list
    publish   channel=<c>, body = payload     -> "ok"
    execute   body = JSON list [command, arg...]; int args -> int64, str -> binary
              -> JSON list: nil -> null, int64 -> int, binary -> str (or {"base64": ...}
                 when not UTF-8), status -> {"status": "OK"}

  Outbound HTTP (wasi:http/outgoing-handler@0.2.0)
  ANY    /http?url=<url>[&method=M][&header=name:value ...]
         spin_sdk.http.send(Request(...)); the request body is forwarded.
         -> 200 "status=<upstream status>\n" + upstream body; upstream headers are
            echoed as x-upstream-<name>.
         Note: the SDK turns a relative url ("/x") into scheme http + authority ":443".
  ANY    /chain?url=<url>[&method=M][&header=...]
         the same through the raw wasi:http types: scheme and authority are set only
         when the url has them, so "url=/whoami" is a true relative (self) request, and
         "url=http://peer.spin.internal/whoami" is local service chaining.

  Others
  GET    /llm                         spin_sdk.llm.infer("llama2-chat", "hi") -> JSON {"text"}
  GET    /llm-embed                   llm.generate_embeddings("all-minilm-l6-v2", ["hi"])
                                      -> JSON {"count": n}
  GET    /open/<api>?address=<url>    just opens a connection; api in mqtt, mysql, postgres
                                      (fermyon:spin/postgres@2.0.0), postgres3, postgres4
                                      -> "opened"
"""
import asyncio
import base64
import importlib
import json
import os
from urllib import parse

from spin_sdk import key_value, llm, mqtt, mysql, redis, variables
from spin_sdk.http import IncomingHandler, Request, Response, send, send_and_close
from spin_sdk.http import poll_loop
from spin_sdk.http.poll_loop import PollLoop, Sink, Stream
from spin_sdk.wit.types import Err
from spin_sdk.wit.imports import atomics, batch, spin_sqlite_sqlite, wasi_config_store
from spin_sdk.wit.imports import wasi_keyvalue_store
from spin_sdk.wit.imports import redis as wit_redis
from spin_sdk.wit.imports.types import (
    Fields, Method_Connect, Method_Delete, Method_Get, Method_Head, Method_Options,
    Method_Other, Method_Patch, Method_Post, Method_Put, Method_Trace, OutgoingRequest,
    Scheme_Http, Scheme_Https, Scheme_Other,
)


def role():
    # Read per request: module top level runs at build time (componentize-py pre-initializes).
    return os.environ.get("ROLE", "host-apis")


def wit_module(*names):
    """The generated binding module for an interface. Its name depends on the componentize-py
    version: 0.17.2 names fermyon:spin/sqlite@2.0.0 `fermyon_spin_sqlite`, while the files
    shipped in spin-sdk 3.4.1 (and its `spin_sdk.sqlite` wrapper, hence unusable here) say
    `sqlite`."""
    for name in names:
        try:
            return importlib.import_module(f"spin_sdk.wit.imports.{name}")
        except ImportError:
            pass
    raise ImportError(f"no binding module among {names}")


wit_sqlite = wit_module("fermyon_spin_sqlite", "sqlite")                 # fermyon:spin/sqlite@2.0.0
wit_pg2 = wit_module("postgres", "fermyon_spin_postgres")                  # fermyon:spin/postgres@2.0.0
wit_pg3 = wit_module("spin_postgres_postgres_3_0_0", "spin_postgres_postgres")  # spin:postgres@3.0.0
wit_pg4 = wit_module("spin_postgres_postgres_4_0_0")                       # spin:postgres@4.0.0


class BadRequest(Exception):
    pass


# ---------------------------------------------------------------- responses

def text(body, status=200):
    if isinstance(body, str):
        body = body.encode("utf-8")
    return Response(status, {"content-type": "text/plain; charset=utf-8"}, body)


def as_json(value, status=200):
    return Response(status, {"content-type": "application/json"},
                    json.dumps(value).encode("utf-8"))


def not_found():
    return text("not found", 404)


def error_response(e):
    if isinstance(e, Err):
        variant = type(e.value).__name__
        body = f"ERROR Err: {e.value!r}"
    else:
        variant = type(e).__name__
        body = f"ERROR {variant}: {e}"
    resp = text(body, 409)
    resp.headers["x-error-variant"] = variant
    return resp


def utf8(b):
    return None if b is None else bytes(b).decode("utf-8", errors="replace")


def json_body(req, kind):
    try:
        value = json.loads(req.body or b"null")
    except ValueError as e:
        raise BadRequest(f"body is not JSON: {e}")
    if not isinstance(value, kind):
        raise BadRequest("body must be a JSON " + ("object" if kind is dict else "list"))
    return value


# ---------------------------------------------------------------- Spin key-value

def spin_kv(req, op, store, key):
    with key_value.open(store) as s:
        if op == "kv":
            if req.method == "PUT":
                s.set(key, req.body or b"")
                return text("ok")
            if req.method == "GET":
                value = s.get(key)
                return not_found() if value is None else text(value)
            if req.method == "DELETE":
                s.delete(key)
                return text("ok")
            raise BadRequest(f"method {req.method} not supported on /kv")
        if op == "kv-exists":
            return text("true" if s.exists(key) else "false")
        if op == "kv-keys":
            return as_json(sorted(s.get_keys()))
    raise AssertionError(op)


# ---------------------------------------------------------------- wasi:keyvalue

def wasi_kv(req, q, op, store, key):
    with wasi_keyvalue_store.open(store) as b:
        if op == "wkv":
            if req.method == "PUT":
                b.set(key, req.body or b"")
                return text("ok")
            if req.method == "GET":
                value = b.get(key)
                return not_found() if value is None else text(value)
            if req.method == "DELETE":
                b.delete(key)
                return text("ok")
            raise BadRequest(f"method {req.method} not supported on /wkv")
        if op == "wkv-exists":
            return text("true" if b.exists(key) else "false")
        if op == "wkv-keys":
            keys, cursor = [], None
            for _ in range(100_000):
                page = b.list_keys(cursor)
                keys.extend(page.keys)
                cursor = page.cursor
                if cursor is None:
                    break
            else:
                raise BadRequest("list-keys cursor never ended")
            return as_json(sorted(keys))
        if op == "wkv-incr":
            try:
                by = int(first(q, "by", "1"))
            except ValueError:
                raise BadRequest("by must be an integer")
            return text(str(atomics.increment(b, key, by)))
        if op == "wkv-cas":
            cas = atomics.Cas.new(b, key)
            previous = cas.current()
            atomics.swap(cas, req.body or b"")
            return as_json({"previous": utf8(previous)})
        if op == "wkv-batch":
            if req.method == "POST":
                pairs = json_body(req, dict)
                batch.set_many(b, [(k, str(v).encode("utf-8")) for k, v in pairs.items()])
                return as_json({k: utf8(v) for k, v in batch.get_many(b, list(pairs))})
            if req.method == "GET":
                return as_json({k: utf8(v) for k, v in batch.get_many(b, q.get("key", []))})
            if req.method == "DELETE":
                batch.delete_many(b, [str(k) for k in json_body(req, list)])
                return text("ok")
            raise BadRequest(f"method {req.method} not supported on /wkv-batch")
    raise AssertionError(op)


# ---------------------------------------------------------------- SQLite

def to_sql_value(v, mod):
    if v is None:
        return mod.Value_Null()
    if isinstance(v, bool) or isinstance(v, int):
        return mod.Value_Integer(int(v))
    if isinstance(v, float):
        return mod.Value_Real(v)
    if isinstance(v, str):
        return mod.Value_Text(v)
    if isinstance(v, dict) and set(v) == {"blob"}:
        return mod.Value_Blob(base64.b64decode(v["blob"]))
    raise BadRequest(f"unsupported SQL parameter {v!r}")


def from_sql_value(v):
    if isinstance(v, (wit_sqlite.Value_Null, spin_sqlite_sqlite.Value_Null)):
        return None
    if isinstance(v, (wit_sqlite.Value_Blob, spin_sqlite_sqlite.Value_Blob)):
        return {"blob": base64.b64encode(bytes(v.value)).decode("ascii")}
    return v.value  # integer, real, text


def sql(req, q, op, db):
    try:
        params = json.loads(first(q, "params", "[]"))
    except ValueError as e:
        raise BadRequest(f"params is not JSON: {e}")
    if not isinstance(params, list):
        raise BadRequest("params must be a JSON list")
    statement = (req.body or b"").decode("utf-8")
    mod = wit_sqlite if op == "sqlite" else spin_sqlite_sqlite
    values = [to_sql_value(p, mod) for p in params]
    with mod.Connection.open(db) as conn:
        result = conn.execute(statement, values)
        out = {
            "columns": list(result.columns),
            "rows": [[from_sql_value(v) for v in row.values] for row in result.rows],
        }
        if op == "sqlite3":
            out["last_insert_rowid"] = conn.last_insert_rowid()
            out["changes"] = conn.changes()
    return as_json(out)


# ---------------------------------------------------------------- Redis

def redis_param(v):
    if isinstance(v, bool) or isinstance(v, int):
        return wit_redis.RedisParameter_Int64(int(v))
    if isinstance(v, str):
        return wit_redis.RedisParameter_Binary(v.encode("utf-8"))
    raise BadRequest(f"unsupported redis argument {v!r}")


def redis_result(r):
    if isinstance(r, wit_redis.RedisResult_Nil):
        return None
    if isinstance(r, wit_redis.RedisResult_Int64):
        return r.value
    if isinstance(r, wit_redis.RedisResult_Status):
        return {"status": r.value}
    data = bytes(r.value)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def redis_op(req, q, op):
    address = first(q, "address")
    if not address:
        raise BadRequest("missing address")
    key = first(q, "key", "")
    with redis.open(address) as conn:
        if op == "set":
            conn.set(key, req.body or b"")
            return text("ok")
        if op == "get":
            value = conn.get(key)
            return not_found() if value is None else text(value)
        if op == "incr":
            return text(str(conn.incr(key)))
        if op == "del":
            return text(str(conn.del_(q.get("key", []))))
        if op == "sadd":
            return text(str(conn.sadd(key, [str(m) for m in json_body(req, list)])))
        if op == "srem":
            return text(str(conn.srem(key, [str(m) for m in json_body(req, list)])))
        if op == "smembers":
            return as_json(sorted(conn.smembers(key)))
        if op == "publish":
            conn.publish(first(q, "channel", ""), req.body or b"")
            return text("ok")
        if op == "execute":
            args = json_body(req, list)
            if not args or not isinstance(args[0], str):
                raise BadRequest("execute needs [command, args...]")
            results = conn.execute(args[0], [redis_param(a) for a in args[1:]])
            return as_json([redis_result(r) for r in results])
    raise BadRequest(f"unknown redis op {op!r}")


# ---------------------------------------------------------------- outbound HTTP

def outbound_parts(req, q):
    url = first(q, "url")
    if not url:
        raise BadRequest("missing url")
    headers = {}
    for h in q.get("header", []):
        name, sep, value = h.partition(":")
        if not sep:
            raise BadRequest(f"header must be name:value, got {h!r}")
        headers[name.strip().lower()] = value.strip()
    return first(q, "method", "GET").upper(), url, headers, req.body or b""


def upstream_response(status, headers, body):
    out = {f"x-upstream-{k.lower()}": v for k, v in headers.items()
           if k.lower() not in ("content-length", "transfer-encoding", "connection")}
    out["content-type"] = "text/plain; charset=utf-8"
    return Response(200, out, f"status={status}\n".encode("utf-8") + bytes(body))


def http_sdk(req, q):
    method, url, headers, body = outbound_parts(req, q)
    resp = send(Request(method, url, headers, body if body else None))
    return upstream_response(resp.status, resp.headers, resp.body or b"")


METHODS = {
    "GET": Method_Get, "HEAD": Method_Head, "POST": Method_Post, "PUT": Method_Put,
    "DELETE": Method_Delete, "CONNECT": Method_Connect, "OPTIONS": Method_Options,
    "TRACE": Method_Trace, "PATCH": Method_Patch,
}


async def send_raw(method, url, headers, body):
    """Like spin_sdk.http.send_async, but leaves scheme/authority unset when the URL has none."""
    u = parse.urlsplit(url)
    if body:
        headers = dict(headers, **{"content-length": str(len(body))})
    request = OutgoingRequest(Fields.from_list([(k, v.encode("utf-8")) for k, v in headers.items()]))
    request.set_method(METHODS[method]() if method in METHODS else Method_Other(method))
    if u.scheme == "http":
        request.set_scheme(Scheme_Http())
    elif u.scheme == "https":
        request.set_scheme(Scheme_Https())
    elif u.scheme:
        request.set_scheme(Scheme_Other(u.scheme))
    if u.netloc:
        request.set_authority(u.netloc)
    request.set_path_with_query((u.path or "/") + (f"?{u.query}" if u.query else ""))
    sink = Sink(request.body())
    response = (await asyncio.gather(poll_loop.send(request), send_and_close(sink, body)))[0]
    stream = Stream(response.consume())
    data = bytearray()
    while True:
        chunk = await stream.next()
        if chunk is None:
            break
        data += chunk
    fields = response.headers()
    resp_headers = {k: str(v, "utf-8") for k, v in fields.entries()}
    status = response.status()
    fields.__exit__(None, None, None)
    response.__exit__(None, None, None)
    return status, resp_headers, bytes(data)


def http_chain(req, q):
    method, url, headers, body = outbound_parts(req, q)
    loop = PollLoop()
    asyncio.set_event_loop(loop)
    return upstream_response(*loop.run_until_complete(send_raw(method, url, headers, body)))


# ---------------------------------------------------------------- others

def open_other(q, api):
    address = first(q, "address", "")
    if api == "mqtt":
        conn = mqtt.open(address, "", "", 30)
    elif api == "mysql":
        conn = mysql.open(address)
    elif api == "postgres":
        conn = wit_pg2.Connection.open(address)
    elif api == "postgres3":
        conn = wit_pg3.Connection.open(address)
    elif api == "postgres4":
        conn = wit_pg4.Connection.open(address)
    else:
        raise BadRequest(f"unknown api {api!r}")
    conn.__exit__(None, None, None)
    return text("opened")


# ---------------------------------------------------------------- routing

def first(q, name, default=None):
    values = q.get(name)
    return values[0] if values else default


def route(req):
    path, _, query = req.uri.partition("?")
    q = parse.parse_qs(query, keep_blank_values=True)
    parts = [parse.unquote(p) for p in path.lstrip("/").split("/", 2)]
    head = parts[0]
    a = parts[1] if len(parts) > 1 else None   # store / db / name / op / api
    b = parts[2] if len(parts) > 2 else None   # key (rest of the path)

    if path == "/whoami":
        return text(f"{role()}:{req.uri}")
    if path == "/bindings":
        return as_json({m.__name__.rsplit(".", 1)[1]: m.__name__ for m in
                        (wit_sqlite, spin_sqlite_sqlite, wit_pg2, wit_pg3, wit_pg4)})
    if path == "/headers":
        return as_json({k.lower(): v for k, v in sorted(req.headers.items())})
    if head in ("kv", "kv-exists") and a and b is not None:
        return spin_kv(req, head, a, b)
    if head == "kv-keys" and a and b is None:
        return spin_kv(req, head, a, None)
    if head in ("wkv", "wkv-exists", "wkv-incr", "wkv-cas") and a and b is not None:
        return wasi_kv(req, q, head, a, b)
    if head in ("wkv-keys", "wkv-batch") and a and b is None:
        return wasi_kv(req, q, head, a, None)
    if head in ("sqlite", "sqlite3") and a and b is None and req.method == "POST":
        return sql(req, q, head, a)
    if head == "var" and a and b is None:
        return text(variables.get(a))
    if head == "config" and a and b is None:
        value = wasi_config_store.get(a)
        return not_found() if value is None else text(value)
    if path == "/config-all":
        return as_json(dict(sorted(wasi_config_store.get_all())))
    if head == "redis" and a and b is None:
        return redis_op(req, q, a)
    if path == "/http":
        return http_sdk(req, q)
    if path == "/chain":
        return http_chain(req, q)
    if path == "/llm":
        return as_json({"text": llm.infer("llama2-chat", "hi").text})
    if path == "/llm-embed":
        return as_json({"count": len(llm.generate_embeddings("all-minilm-l6-v2", ["hi"]).embeddings)})
    if head == "open" and a and b is None:
        return open_other(q, a)
    if role() == "peer":
        return text(f"peer:{req.uri}")
    return text(f"no route: {path}", 404)


class IncomingHandler(IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        try:
            return route(request)
        except BadRequest as e:
            return text(f"bad request: {e}", 400)
        except Exception as e:  # Err from a host API, or anything else the SDK raised
            return error_response(e)
