"""Spin HTTP component in Python (spin-sdk 3.4.1, built with componentize-py).

GET /<anything>      -> 200 text/plain "Hello from Python!"
<any method> /echo   -> 200 application/json {"method", "uri", "headers", "body"}
"""
import json

from spin_sdk.http import IncomingHandler, Request, Response


class IncomingHandler(IncomingHandler):
    def handle_request(self, request: Request) -> Response:
        # request.uri is the path plus query as the host saw it (e.g. "/echo?x=1").
        path = request.uri.split("?", 1)[0]
        if path == "/echo" or path.endswith("/echo"):
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
        return Response(
            200,
            {"content-type": "text/plain"},
            bytes("Hello from Python!", "utf-8"),
        )
