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
    /// The client's address, for `spin-client-addr` and `REMOTE_ADDR`.
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
    /// Request method, for `REQUEST_METHOD`.
    pub method: &'a http::Method,
    /// HTTP version, for `SERVER_PROTOCOL`.
    pub version: http::Version,
    /// Request headers, passed on as `HTTP_*` variables.
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
mod tests;
