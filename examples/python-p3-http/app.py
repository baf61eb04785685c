"""Spin HTTP component in Python as spin-sdk 5.0.0's README writes one (componentize-py
0.25.1, world spin:up/http-trigger@4.1.0): a WASI p3 component exporting
wasi:http/handler@0.3.0, served with instance reuse.

GET /<anything>      -> 200 text/plain "Hello from Python p3!"
<any method> /echo   -> 200 application/json {"method", "uri", "headers", "body"}
GET /count           -> requests this instance has served (shows instance reuse)
GET /kv              -> a counter kept in the default key-value store, incremented
GET /greeting        -> the `greeting` variable
"""
import json

from spin_sdk import http, key_value, variables
from spin_sdk.http import Request, Response

served = 0


def text(body: str) -> Response:
    return Response(200, {"content-type": "text/plain"}, bytes(body, "utf-8"))


class HttpHandler(http.Handler):
    async def handle_request(self, request: Request) -> Response:
        global served
        served += 1
        path = request.uri.split("?", 1)[0]
        if path == "/echo":
            payload = {
                "method": request.method,
                "uri": request.uri,
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": (request.body or b"").decode("utf-8", errors="replace"),
            }
            return Response(
                200,
                {"content-type": "application/json"},
                bytes(json.dumps(payload), "utf-8"),
            )
        if path == "/count":
            return text(str(served))
        if path == "/kv":
            with await key_value.open_default() as store:
                current = await store.get("counter")
                value = int(current.decode("utf-8")) + 1 if current is not None else 1
                await store.set("counter", str(value).encode("utf-8"))
            return text(str(value))
        if path == "/greeting":
            return text(await variables.get("greeting"))
        return text("Hello from Python p3!")
