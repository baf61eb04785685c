"""Python spin-sdk 4.0.0 (componentize-py 0.23.0, world spin:up/http-trigger@4.0.0): a
component built against WASI 0.3.0-rc-2026-03-15, exporting that release candidate's
wasi:http/handler. Spin serves it with a fresh instance per request.

GET /<anything>  -> "Hello from Python spin-sdk 4!"
GET /count       -> requests this instance has served (always 1: no reuse)
GET /kv          -> a counter in the default key-value store, incremented
"""
from spin_sdk import http, key_value
from spin_sdk.http import Request, Response

served = 0


def text(body: str) -> Response:
    return Response(200, {"content-type": "text/plain"}, bytes(body, "utf-8"))


class HttpHandler(http.Handler):
    async def handle_request(self, request: Request) -> Response:
        global served
        served += 1
        if request.uri == "/count":
            return text(str(served))
        if request.uri == "/kv":
            with await key_value.open_default() as store:
                current = await store.get("counter")
                value = int(current.decode("utf-8")) + 1 if current is not None else 1
                await store.set("counter", str(value).encode("utf-8"))
            return text(str(value))
        return text("Hello from Python spin-sdk 4!")
