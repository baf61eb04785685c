//! The request information Spin hands to a component besides the request
//! itself: `spin-*` headers for HTTP components, CGI-style environment
//! variables and argv for Wagi components.
//!
//! Values follow Spin's `compute_default_headers` and Wagi executor
//! (`spin-trigger-http` `headers.rs`, `spin-http` `wagi/mod.rs`) and the
//! "Additional Request Information" table in the Spin HTTP trigger docs.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use http::HeaderName;

use super::routing::RouteMatch;

/// What the server knows about the incoming request.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// `"http"` or `"https"`.
    pub scheme: &'a str,
    /// The `Host` header, or the listen address when there is none.
    pub host: &'a str,
    /// The request target, e.g. `/users/1?x=1`.
    pub path_and_query: &'a str,
    pub client_addr: SocketAddr,
}

const PATH_INFO: HeaderName = HeaderName::from_static("spin-path-info");
const FULL_URL: HeaderName = HeaderName::from_static("spin-full-url");
const MATCHED_ROUTE: HeaderName = HeaderName::from_static("spin-matched-route");
const BASE_PATH: HeaderName = HeaderName::from_static("spin-base-path");
const RAW_COMPONENT_ROUTE: HeaderName = HeaderName::from_static("spin-raw-component-route");
const COMPONENT_ROUTE: HeaderName = HeaderName::from_static("spin-component-route");
const CLIENT_ADDR: HeaderName = HeaderName::from_static("spin-client-addr");

/// The headers Spin adds to every request passed to an HTTP component, in
/// Spin's order. `base` is the legacy application base (`"/"` in Spin 3).
///
/// For route `/users/:userid/cart/...` and request
/// `https://example.com:8080/users/1/cart/items/3/edit?theme=pink`:
/// `spin-path-info: /items/3/edit`, `spin-matched-route: /users/:userid/cart/...`,
/// `spin-component-route: /users/:userid/cart`, `spin-path-match-userid: 1`, ...
/// The fixed names are built at compile time, ready for a [`http::HeaderMap`].
pub fn spin_header_fields<T>(
    m: &RouteMatch<'_, T>,
    base: &str,
    req: &RequestInfo<'_>,
) -> Vec<(HeaderName, String)> {
    let mut headers = Vec::with_capacity(7 + m.named.len());
    headers.extend([
        (PATH_INFO, m.trailing.clone()),
        (FULL_URL, full_url(req)),
        (MATCHED_ROUTE, m.based_route.to_string()),
        (BASE_PATH, base_path(base).to_string()),
        (RAW_COMPONENT_ROUTE, m.raw_route.to_string()),
        (COMPONENT_ROUTE, m.component_route().to_string()),
        (CLIENT_ADDR, req.client_addr.to_string()),
    ]);
    // Spin derives the header from `SPIN_PATH_MATCH_<NAME>`, so `_` becomes `-`. The router
    // admits only letters, digits, `_` and `-` in names, so each makes a valid header name.
    headers.extend(m.named.iter().filter_map(|(name, value)| {
        let name = name.to_ascii_lowercase().replace('_', "-");
        let name = HeaderName::try_from(format!("spin-path-match-{name}")).ok()?;
        Some((name, value.clone()))
    }));
    headers
}

/// The parts of a request only Wagi needs.
#[derive(Debug, Clone, Copy)]
pub struct WagiRequestInfo<'a> {
    pub method: &'a http::Method,
    pub version: http::Version,
    pub headers: &'a http::HeaderMap,
    /// Length of the (fully read) request body.
    pub content_length: usize,
}

/// CGI version Wagi implements (`GATEWAY_INTERFACE`).
pub const WAGI_GATEWAY_INTERFACE: &str = "CGI/1.1";
/// Wagi's `SERVER_SOFTWARE`.
pub const WAGI_SERVER_SOFTWARE: &str = "WAGI/1";

/// The environment Spin's Wagi executor gives a module, sorted by name: the
/// RFC 3875 variables, Spin's `X_*` extensions (the same values as the
/// `spin-*` headers) and `HTTP_<NAME>` per request header.
pub fn wagi_env<T>(
    m: &RouteMatch<'_, T>,
    base: &str,
    req: &RequestInfo<'_>,
    wagi: &WagiRequestInfo<'_>,
) -> Vec<(String, String)> {
    let mut env = BTreeMap::new();
    cgi_vars(&mut env, m, req, wagi);
    spin_vars(&mut env, m, base, req);
    http_vars(&mut env, wagi.headers);
    env.into_iter().collect()
}

/// The RFC 3875 meta-variables.
fn cgi_vars<T>(
    env: &mut BTreeMap<String, String>,
    m: &RouteMatch<'_, T>,
    req: &RequestInfo<'_>,
    wagi: &WagiRequestInfo<'_>,
) {
    let (server_name, server_port) = split_host_port(req.host, req.scheme);
    let client_ip = req.client_addr.ip().to_string();
    let content_type = wagi
        .headers
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let vars = [
        ("AUTH_TYPE", String::new()), // Not supported, as in Spin.
        ("CONTENT_LENGTH", wagi.content_length.to_string()),
        ("CONTENT_TYPE", content_type),
        ("GATEWAY_INTERFACE", WAGI_GATEWAY_INTERFACE.to_string()),
        // Spin overrides Wagi's decoded PATH_INFO with the raw one.
        ("PATH_INFO", m.trailing.clone()),
        ("PATH_TRANSLATED", percent_decode(&m.trailing)),
        ("QUERY_STRING", query(req.path_and_query).to_string()),
        ("REMOTE_ADDR", client_ip.clone()),
        ("REMOTE_HOST", client_ip), // RFC 3875 allows REMOTE_ADDR here.
        ("REMOTE_USER", String::new()),
        ("REQUEST_METHOD", wagi.method.as_str().to_string()),
        ("SCRIPT_NAME", m.based_route_prefix().to_string()),
        ("SERVER_NAME", server_name.to_string()),
        ("SERVER_PORT", server_port.to_string()),
        ("SERVER_PROTOCOL", format!("{:?}", wagi.version)),
        ("SERVER_SOFTWARE", WAGI_SERVER_SOFTWARE.to_string()),
    ];
    env.extend(vars.map(|(k, v)| (k.to_string(), v)));
}

/// Spin's `X_*` variables: the Wagi names of the `spin-*` headers.
fn spin_vars<T>(
    env: &mut BTreeMap<String, String>,
    m: &RouteMatch<'_, T>,
    base: &str,
    req: &RequestInfo<'_>,
) {
    let vars = [
        ("X_RAW_PATH_INFO", m.trailing.clone()),
        ("X_FULL_URL", full_url(req)),
        ("X_MATCHED_ROUTE", m.based_route.to_string()),
        ("X_BASE_PATH", base_path(base).to_string()),
        ("X_RAW_COMPONENT_ROUTE", m.raw_route.to_string()),
        ("X_COMPONENT_ROUTE", m.component_route().to_string()),
        ("X_CLIENT_ADDR", req.client_addr.to_string()),
    ];
    env.extend(vars.map(|(k, v)| (k.to_string(), v)));
    env.extend(m.named.iter().map(|(name, value)| {
        let name = name.to_ascii_uppercase();
        (format!("X_PATH_MATCH_{name}"), value.clone())
    }));
}

/// `HTTP_<NAME>` for each request header (RFC 3875 4.1.18), except the
/// credentials and hop-by-hop headers the RFC and Spin leave out.
fn http_vars(env: &mut BTreeMap<String, String>, headers: &http::HeaderMap) {
    for name in headers.keys() {
        let var = format!(
            "HTTP_{}",
            name.as_str().to_ascii_uppercase().replace('-', "_")
        );
        if var == "HTTP_AUTHORIZATION" || var == "HTTP_CONNECTION" {
            continue;
        }
        // RFC 3875: repeated fields become one value with the same meaning.
        let values: Vec<_> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()))
            .collect();
        env.insert(var, values.join(", "));
    }
}

/// The argv Spin gives a Wagi module: the request path, then each query
/// parameter's name and (if not empty) value, form-decoded.
pub fn wagi_args(path_and_query: &str) -> Vec<String> {
    let path = path_and_query
        .split_once('?')
        .map_or(path_and_query, |(p, _)| p);
    let mut args = vec![path.to_string()];
    for pair in query(path_and_query).split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        args.push(form_decode(key));
        if !value.is_empty() {
            args.push(form_decode(value));
        }
    }
    args
}

fn full_url(req: &RequestInfo<'_>) -> String {
    format!("{}://{}{}", req.scheme, req.host, req.path_and_query)
}

/// An unset base is the root.
fn base_path(base: &str) -> &str {
    if base.is_empty() {
        "/"
    } else {
        base
    }
}

fn query(path_and_query: &str) -> &str {
    path_and_query.split_once('?').map_or("", |(_, q)| q)
}

/// Splits `host[:port]` (IPv6 in brackets); the port defaults from the scheme.
fn split_host_port<'a>(host: &'a str, scheme: &str) -> (&'a str, &'a str) {
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        "443"
    } else {
        "80"
    };
    // The port is after the last ':' unless that ':' is inside `[...]`.
    let port_sep = host
        .rfind(':')
        .filter(|&i| !host[i..].contains(']'))
        .filter(|&i| !host[..i].contains(':') || host.starts_with('['));
    match port_sep {
        Some(i) if !host[i + 1..].is_empty() => (&host[..i], &host[i + 1..]),
        Some(i) => (&host[..i], default_port),
        None => (host, default_port),
    }
}

/// Decodes `%XX` escapes; invalid escapes stay as written, invalid UTF-8 is
/// replaced (Wagi decodes lossily).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex_value(*hi).zip(hex_value(*lo)),
            _ => None,
        }
        .map(|(hi, lo)| hi << 4 | lo);
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(digit: u8) -> Option<u8> {
    (digit as char)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space.
fn form_decode(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

#[cfg(test)]
mod tests {
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
}
