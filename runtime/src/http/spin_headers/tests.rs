use super::super::routing::Router;
use super::*;

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn client() -> SocketAddr {
    "127.0.0.1:53152".parse().expect("valid socket address")
}

/// Routes `path` through a single-route router and computes the headers.
fn headers_for(
    base: &str,
    route: &str,
    scheme: &str,
    host: &str,
    pq: &str,
) -> Vec<(String, String)> {
    let (router, _) = Router::build(base, [(route.to_string(), ())]).expect("valid route");
    let path = pq.split('?').next().unwrap_or(pq);
    let m = router.route(path).expect("route should match");
    let req = RequestInfo {
        scheme,
        host,
        path_and_query: pq,
        client_addr: client(),
    };
    spin_header_fields(&m, base, &req)
        .into_iter()
        .map(|(name, value)| (name.as_str().to_string(), value))
        .collect()
}

struct HeaderCase {
    base: &'static str,
    route: &'static str,
    scheme: &'static str,
    host: &'static str,
    request: &'static str,
    want: &'static [(&'static str, &'static str)],
}

#[test]
fn spin_headers_match_the_docs_table_and_spin_tests() {
    let cases = [
        // Spin docs, "Additional Request Information" table.
        HeaderCase {
            base: "/",
            route: "/users/:userid/cart/...",
            scheme: "https",
            host: "example.com:8080",
            request: "/users/1/cart/items/3/edit?theme=pink",
            want: &[
                ("spin-path-info", "/items/3/edit"),
                (
                    "spin-full-url",
                    "https://example.com:8080/users/1/cart/items/3/edit?theme=pink",
                ),
                ("spin-matched-route", "/users/:userid/cart/..."),
                ("spin-base-path", "/"),
                ("spin-raw-component-route", "/users/:userid/cart/..."),
                ("spin-component-route", "/users/:userid/cart"),
                ("spin-client-addr", "127.0.0.1:53152"),
                ("spin-path-match-userid", "1"),
            ],
        },
        // Spin's headers.rs test_default_headers.
        HeaderCase {
            base: "/",
            route: "/foo/...",
            scheme: "https",
            host: "fermyon.dev",
            request: "/foo/bar?key1=value1&key2=value2",
            want: &[
                ("spin-path-info", "/bar"),
                (
                    "spin-full-url",
                    "https://fermyon.dev/foo/bar?key1=value1&key2=value2",
                ),
                ("spin-matched-route", "/foo/..."),
                ("spin-base-path", "/"),
                ("spin-raw-component-route", "/foo/..."),
                ("spin-component-route", "/foo"),
                ("spin-client-addr", "127.0.0.1:53152"),
            ],
        },
        // Exact route: no path info.
        HeaderCase {
            base: "/",
            route: "/hello",
            scheme: "http",
            host: "localhost:3000",
            request: "/hello",
            want: &[
                ("spin-path-info", ""),
                ("spin-full-url", "http://localhost:3000/hello"),
                ("spin-matched-route", "/hello"),
                ("spin-base-path", "/"),
                ("spin-raw-component-route", "/hello"),
                ("spin-component-route", "/hello"),
                ("spin-client-addr", "127.0.0.1:53152"),
            ],
        },
        // Legacy base: matched route includes it, component routes don't.
        HeaderCase {
            base: "/base",
            route: "/api/:user_id/...",
            scheme: "http",
            host: "localhost:3000",
            request: "/base/api/7/x/",
            want: &[
                ("spin-path-info", "/x/"),
                ("spin-full-url", "http://localhost:3000/base/api/7/x/"),
                ("spin-matched-route", "/base/api/:user_id/..."),
                ("spin-base-path", "/base"),
                ("spin-raw-component-route", "/api/:user_id/..."),
                ("spin-component-route", "/api/:user_id"),
                ("spin-client-addr", "127.0.0.1:53152"),
                ("spin-path-match-user-id", "7"),
            ],
        },
        // Catch-all: like Spin, the component route is empty.
        HeaderCase {
            base: "",
            route: "/...",
            scheme: "http",
            host: "[::1]:3000",
            request: "/",
            want: &[
                ("spin-path-info", "/"),
                ("spin-full-url", "http://[::1]:3000/"),
                ("spin-matched-route", "/..."),
                ("spin-base-path", "/"),
                ("spin-raw-component-route", "/..."),
                ("spin-component-route", ""),
                ("spin-client-addr", "127.0.0.1:53152"),
            ],
        },
    ];
    for c in cases {
        let got = headers_for(c.base, c.route, c.scheme, c.host, c.request);
        assert_eq!(
            got,
            owned(c.want),
            "route {}, request {}",
            c.route,
            c.request
        );
    }
}

#[test]
fn spin_headers_are_valid_http_headers() {
    let got = headers_for("/", "/a/:Some_Name/...", "http", "h:1", "/a/b%20c/d?q=1");
    for (name, value) in got {
        assert!(
            http::HeaderName::from_bytes(name.as_bytes()).is_ok(),
            "{name}"
        );
        assert!(http::HeaderValue::from_str(&value).is_ok(), "{value}");
    }
}

fn wagi_env_for(route: &str, pq: &str, headers: &[(&str, &str)]) -> Vec<(String, String)> {
    let (router, _) = Router::build("/", [(route.to_string(), ())]).expect("valid route");
    let path = pq.split('?').next().unwrap_or(pq);
    let m = router.route(path).expect("route should match");
    let mut map = http::HeaderMap::new();
    for (k, v) in headers {
        let name = http::HeaderName::from_bytes(k.as_bytes()).expect("valid name");
        map.append(name, http::HeaderValue::from_str(v).expect("valid value"));
    }
    let req = RequestInfo {
        scheme: "http",
        host: "localhost:3000",
        path_and_query: pq,
        client_addr: client(),
    };
    let wagi = WagiRequestInfo {
        method: &http::Method::POST,
        version: http::Version::HTTP_11,
        headers: &map,
        content_length: 5,
    };
    wagi_env(&m, "/", &req, &wagi)
}

#[test]
fn wagi_env_has_cgi_spin_and_http_variables() {
    // The Spin docs' Wagi example: route /hello/..., request
    // http://localhost:3000/hello/abc/def?foo=bar.
    let got = wagi_env_for(
        "/hello/:name/...",
        "/hello/abc/d%20ef?foo=bar",
        &[
            ("host", "localhost:3000"),
            ("content-type", "text/plain"),
            ("authorization", "Bearer secret"),
            ("connection", "keep-alive"),
            ("x-multi", "a"),
            ("x-multi", "b"),
        ],
    );
    let want = owned(&[
        ("AUTH_TYPE", ""),
        ("CONTENT_LENGTH", "5"),
        ("CONTENT_TYPE", "text/plain"),
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("HTTP_CONTENT_TYPE", "text/plain"),
        ("HTTP_HOST", "localhost:3000"),
        ("HTTP_X_MULTI", "a, b"),
        ("PATH_INFO", "/d%20ef"),
        ("PATH_TRANSLATED", "/d ef"),
        ("QUERY_STRING", "foo=bar"),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("REMOTE_HOST", "127.0.0.1"),
        ("REMOTE_USER", ""),
        ("REQUEST_METHOD", "POST"),
        ("SCRIPT_NAME", "/hello/:name"),
        ("SERVER_NAME", "localhost"),
        ("SERVER_PORT", "3000"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("SERVER_SOFTWARE", "WAGI/1"),
        ("X_BASE_PATH", "/"),
        ("X_CLIENT_ADDR", "127.0.0.1:53152"),
        ("X_COMPONENT_ROUTE", "/hello/:name"),
        (
            "X_FULL_URL",
            "http://localhost:3000/hello/abc/d%20ef?foo=bar",
        ),
        ("X_MATCHED_ROUTE", "/hello/:name/..."),
        ("X_PATH_MATCH_NAME", "abc"),
        ("X_RAW_COMPONENT_ROUTE", "/hello/:name/..."),
        ("X_RAW_PATH_INFO", "/d%20ef"),
    ]);
    assert_eq!(got, want);
}

#[test]
fn wagi_env_docs_example() {
    let got = wagi_env_for("/hello/...", "/hello/abc/def?foo=bar", &[]);
    let get = |k: &str| got.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let cases = [
        ("X_FULL_URL", "http://localhost:3000/hello/abc/def?foo=bar"),
        ("PATH_INFO", "/abc/def"),
        ("X_MATCHED_ROUTE", "/hello/..."),
        ("X_RAW_COMPONENT_ROUTE", "/hello/..."),
        ("X_COMPONENT_ROUTE", "/hello"),
        ("SCRIPT_NAME", "/hello"),
        ("CONTENT_TYPE", ""),
    ];
    for (name, want) in cases {
        assert_eq!(get(name), Some(want), "{name}");
    }
}

#[test]
fn wagi_args_are_path_then_query_pairs() {
    let cases: &[(&str, &[&str])] = &[
        ("/foo", &["/foo"]),
        ("/foo?", &["/foo"]),
        ("/foo?x=1&y=&z", &["/foo", "x", "1", "y", "z"]),
        ("/p?a+b=c%20d", &["/p", "a b", "c d"]),
        ("/p?&&a=1&", &["/p", "a", "1"]),
        ("/p?k=v=w", &["/p", "k", "v=w"]),
    ];
    for (pq, want) in cases {
        assert_eq!(wagi_args(pq), *want, "{pq}");
    }
}

#[test]
fn host_and_port_are_split() {
    let cases = [
        ("example.com:8080", "http", "example.com", "8080"),
        ("example.com", "http", "example.com", "80"),
        ("example.com", "https", "example.com", "443"),
        ("example.com:", "http", "example.com", "80"),
        ("127.0.0.1:3000", "http", "127.0.0.1", "3000"),
        ("[::1]:3000", "http", "[::1]", "3000"),
        ("[::1]", "https", "[::1]", "443"),
        ("::1", "http", "::1", "80"),
    ];
    for (host, scheme, name, port) in cases {
        assert_eq!(split_host_port(host, scheme), (name, port), "{host}");
    }
}

#[test]
fn percent_decoding() {
    let cases = [
        ("/a%20b", "/a b"),
        ("/%E2%9C%93", "/\u{2713}"),
        ("/bad%zz", "/bad%zz"),
        ("/trunc%2", "/trunc%2"),
        ("/%FF", "/\u{FFFD}"),
        ("/%+1%-1", "/%+1%-1"),
        ("/%2f%2F", "///"),
        ("", ""),
    ];
    for (input, want) in cases {
        assert_eq!(percent_decode(input), want, "{input}");
    }
}
