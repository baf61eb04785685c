//! The Spin HTTP trigger router.
//!
//! Maps a request path to the target of one `[[trigger.http]]` route, with the
//! semantics of Spin's router (`spin-http` `routes.rs`, built on `routefinder`):
//!
//! - `/foo/bar` is an exact route. A trailing `/` on the route or on the
//!   request path is ignored (`/foo/` == `/foo`).
//! - `/foo/...` matches `/foo` and everything below it, on whole segments
//!   (never `/foobar`); `/...` matches every path. Spin also accepts `/foo/*`.
//! - `:name` matches exactly one non-empty segment and captures it.
//! - When several routes match, the most specific wins: segments are compared
//!   left to right, a literal beats a `:name`, which beats a trailing wildcard;
//!   if one route is a prefix of the other, the shorter (exact) one wins. So an
//!   exact route beats a wildcard, and among wildcards the longest prefix wins.
//! - Private routes (`route = { private = true }`) are never routable: the
//!   caller simply doesn't pass them to [`Router::build`].
//! - Paths under [`WELL_KNOWN_PREFIX`] belong to Spin (health, info): routes
//!   there are rejected and such paths never match a route.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::HashMap;
use std::fmt;

/// Paths Spin serves itself (`/.well-known/spin/health`, `/.well-known/spin/info`).
pub const WELL_KNOWN_PREFIX: &str = "/.well-known/spin/";

/// Whether a request path is reserved for Spin's own endpoints; the caller
/// serves (or 404s) these before routing.
pub fn is_reserved_path(path: &str) -> bool {
    path.starts_with(WELL_KNOWN_PREFIX)
}

/// A route declared more than once (after normalisation, ignoring the names of
/// `:name` segments). As in Spin, the *last* declaration serves the route, in
/// the position of the first; the others are reported so the caller can log them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateRoute {
    /// The based route as written by the declaration that is ignored.
    pub route: String,
    /// Index (in the `routes` passed to [`Router::build`], so private routes
    /// aren't counted) of the ignored declaration.
    pub ignored_index: usize,
    /// Index of the declaration that serves the route instead.
    pub effective_index: usize,
}

impl fmt::Display for DuplicateRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "route {} (entry #{}) duplicates entry #{} and will never be used; remove one of them",
            self.route,
            self.ignored_index + 1,
            self.effective_index + 1
        )
    }
}

/// A route or base that can't be used. Messages name the route and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("HTTP base '{base}' must start with '/' (e.g. '/' or '/base')")]
    InvalidBase { base: String },
    #[error("HTTP route '{route}' has a ':' segment without a name; name it, e.g. '/users/:id'")]
    EmptyParamName { route: String },
    #[error(
        "HTTP route '{route}' has an invalid segment name ':{name}'; \
         use letters, digits, '_' or '-' for a whole segment, e.g. ':id'"
    )]
    InvalidParamName { route: String, name: String },
    #[error(
        "HTTP route '{route}' has a wildcard ('...' or '*') that is not the last segment; \
         a wildcard may only end a route, e.g. '/static/...'"
    )]
    MisplacedWildcard { route: String },
    #[error(
        "HTTP route '{route}' is under '{WELL_KNOWN_PREFIX}', which Spin reserves for its own \
         endpoints (health, info); choose a different route"
    )]
    Reserved { route: String },
}

/// One path segment of a parsed route.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

impl Segment {
    /// Specificity rank at one position: lower is more specific.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 0,
            Segment::Param(_) => 1,
        }
    }

    /// Matches one request path segment, returning a capture for `:name`.
    fn matches<'p>(&self, seg: &'p str) -> Option<Option<&'p str>> {
        match self {
            Segment::Literal(lit) => (lit == seg).then_some(None),
            Segment::Param(_) => (!seg.is_empty()).then_some(Some(seg)),
        }
    }
}

/// Rank of a trailing wildcard: less specific than any segment.
const WILDCARD_RANK: u8 = 2;

/// A parsed, based route.
#[derive(Debug, Clone)]
struct Pattern {
    segments: Vec<Segment>,
    trailing_wildcard: bool,
}

impl Pattern {
    /// Parses a based route (already validated to start with '/').
    fn parse(based: &str, raw: &str) -> Result<Self, RouteError> {
        // Empty segments (`//`) are ignored, as Spin's router does.
        let mut parts: Vec<&str> = based.split('/').filter(|s| !s.is_empty()).collect();
        let trailing_wildcard = parts.last().is_some_and(|last| is_wildcard(last));
        if trailing_wildcard {
            parts.pop();
        }
        let segments = parts
            .iter()
            .map(|part| parse_segment(part, raw))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            segments,
            trailing_wildcard,
        })
    }

    /// Specificity key: per-position ranks; lexicographic order puts the most
    /// specific route first (a prefix sorts before its extension, so an exact
    /// route beats the same prefix with a trailing wildcard).
    fn specificity(&self) -> Vec<u8> {
        let mut key: Vec<u8> = self.segments.iter().map(Segment::rank).collect();
        if self.trailing_wildcard {
            key.push(WILDCARD_RANK);
        }
        key
    }

    /// Identity for duplicate detection: literals plus the shape of the rest.
    fn shape(&self) -> String {
        let mut parts: Vec<&str> = self
            .segments
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => l.as_str(),
                Segment::Param(_) => ":",
            })
            .collect();
        if self.trailing_wildcard {
            parts.push("...");
        }
        format!("/{}", parts.join("/"))
    }

    /// Matches a request path; returns the captures and the trailing part.
    fn matches(&self, path: &str) -> Option<(Vec<(String, String)>, String)> {
        let path_segments = split_path(path);
        let n = self.segments.len();
        let fits = if self.trailing_wildcard {
            path_segments.len() >= n
        } else {
            path_segments.len() == n
        };
        if !fits {
            return None;
        }
        let mut named = Vec::new();
        for (segment, seg) in self.segments.iter().zip(&path_segments) {
            if let Some(value) = segment.matches(seg)? {
                if let Segment::Param(name) = segment {
                    named.push((name.clone(), value.to_string()));
                }
            }
        }
        let trailing = if self.trailing_wildcard {
            trailing_part(&path_segments[n..], path.ends_with('/'))
        } else {
            String::new()
        };
        Some((named, trailing))
    }
}

fn is_wildcard(part: &str) -> bool {
    part == "..." || part == "*"
}

fn parse_segment(part: &str, raw: &str) -> Result<Segment, RouteError> {
    if is_wildcard(part) {
        return Err(RouteError::MisplacedWildcard { route: raw.into() });
    }
    let Some(name) = part.strip_prefix(':') else {
        return Ok(Segment::Literal(part.to_string()));
    };
    if name.is_empty() {
        return Err(RouteError::EmptyParamName { route: raw.into() });
    }
    // Names become header names (`spin-path-match-<name>`), so keep them tame.
    let valid = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(RouteError::InvalidParamName {
            route: raw.into(),
            name: name.into(),
        });
    }
    Ok(Segment::Param(name.to_string()))
}

/// Splits a request path into segments, ignoring leading and trailing slashes
/// (as Spin does: `/foo/` routes like `/foo`).
fn split_path(path: &str) -> Vec<&str> {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    }
}

/// What a trailing wildcard matched, with a leading `/`. Spin keeps a trailing
/// slash from the request: `/foo/...` gives `""` for `/foo`, `"/"` for `/foo/`,
/// `"/a/b/"` for `/foo/a/b/`.
fn trailing_part(rest: &[&str], path_ends_with_slash: bool) -> String {
    let inner = rest.join("/");
    match (inner.is_empty(), path_ends_with_slash) {
        (true, false) => String::new(),
        (true, true) => "/".to_string(),
        (false, false) => format!("/{inner}"),
        (false, true) => format!("/{inner}/"),
    }
}

/// Removes trailing slashes, as Spin's `sanitize` does for base and route.
fn strip_trailing_slashes(s: &str) -> &str {
    s.trim_end_matches('/')
}

/// `base` + `route`, normalised; the root route is `/`.
fn based_route(base: &str, raw: &str) -> String {
    let based = format!(
        "{}{}",
        strip_trailing_slashes(base),
        strip_trailing_slashes(raw)
    );
    if based.is_empty() {
        "/".to_string()
    } else {
        based
    }
}

#[derive(Debug, Clone)]
struct Entry<T> {
    raw_route: String,
    based_route: String,
    pattern: Pattern,
    target: T,
}

/// The HTTP trigger router. Generic over the target (component id, static
/// response, ...).
#[derive(Debug, Clone)]
pub struct Router<T> {
    /// Entries in declaration order (for [`Router::routes`]).
    entries: Vec<Entry<T>>,
    /// Indices into `entries`, most specific first; the first match wins.
    by_specificity: Vec<usize>,
}

/// The result of routing a request path.
#[derive(Debug)]
pub struct RouteMatch<'a, T> {
    pub target: &'a T,
    /// The route as written in the manifest, e.g. `/users/:id/...`.
    pub raw_route: &'a str,
    /// Base + route, normalised, as in `spin-matched-route`, e.g. `/base/users/:id/...`.
    pub based_route: &'a str,
    /// Captured `:name` segments, in route order.
    pub named: Vec<(String, String)>,
    /// What a trailing wildcard matched, with a leading `/` (e.g. `/x/y`); `""` when none.
    pub trailing: String,
}

impl<T> RouteMatch<'_, T> {
    /// The raw route without a trailing `/...` (`spin-component-route`). Like
    /// Spin, `/...` gives `""`.
    pub fn component_route(&self) -> &str {
        self.raw_route
            .strip_suffix("/...")
            .unwrap_or(self.raw_route)
    }

    /// The based route without a trailing `/...` (Wagi's `SCRIPT_NAME`); the
    /// root is `""` so that `SCRIPT_NAME + PATH_INFO` is the path.
    pub fn based_route_prefix(&self) -> &str {
        let prefix = self
            .based_route
            .strip_suffix("/...")
            .unwrap_or(self.based_route);
        if prefix == "/" {
            ""
        } else {
            prefix
        }
    }
}

impl<T> Router<T> {
    /// Builds a router.
    ///
    /// `routes`: (raw route as written in spin.toml, target), in manifest
    /// order; private routes must be left out. `base`: the legacy v1
    /// application base (`"/"` or e.g. `"/base"`; `""` means `"/"`).
    ///
    /// Returns the duplicate routes found (the last declaration of a route
    /// wins, as in Spin) for the caller to log.
    pub fn build(
        base: &str,
        routes: impl IntoIterator<Item = (String, T)>,
    ) -> Result<(Self, Vec<DuplicateRoute>), RouteError> {
        let base = if base.is_empty() { "/" } else { base };
        if !base.starts_with('/') {
            return Err(RouteError::InvalidBase { base: base.into() });
        }

        let mut entries: Vec<Entry<T>> = Vec::new();
        // Route shape -> index in `entries`.
        let mut slot_of_shape: HashMap<String, usize> = HashMap::new();
        // Per declaration: (entry it landed in, its based route).
        let mut declarations: Vec<(usize, String)> = Vec::new();
        for (raw_route, target) in routes {
            let entry = parse_entry(base, raw_route, target)?;
            let based = entry.based_route.clone();
            let slot = match slot_of_shape.entry(entry.pattern.shape()) {
                // Last one wins but keeps the first one's place, like Spin's IndexMap.
                MapEntry::Occupied(o) => {
                    entries[*o.get()] = entry;
                    *o.get()
                }
                MapEntry::Vacant(v) => {
                    entries.push(entry);
                    *v.insert(entries.len() - 1)
                }
            };
            declarations.push((slot, based));
        }

        let duplicates = find_duplicates(&declarations);
        let mut by_specificity: Vec<usize> = (0..entries.len()).collect();
        // Stable sort: equally specific routes keep declaration order.
        by_specificity.sort_by_key(|&i| entries[i].pattern.specificity());
        Ok((
            Self {
                entries,
                by_specificity,
            },
            duplicates,
        ))
    }

    /// Routes a request path (without query). `None` if no route matches or
    /// the path is reserved for Spin (see [`is_reserved_path`]).
    pub fn route(&self, path: &str) -> Option<RouteMatch<'_, T>> {
        if is_reserved_path(path) {
            return None;
        }
        self.by_specificity.iter().find_map(|&i| {
            let entry = &self.entries[i];
            let (named, trailing) = entry.pattern.matches(path)?;
            Some(RouteMatch {
                target: &entry.target,
                raw_route: &entry.raw_route,
                based_route: &entry.based_route,
                named,
                trailing,
            })
        })
    }

    /// The routes in declaration order: (based route as written, target).
    pub fn routes(&self) -> impl Iterator<Item = (&str, &T)> {
        self.entries
            .iter()
            .map(|e| (e.based_route.as_str(), &e.target))
    }
}

fn parse_entry<T>(base: &str, raw_route: String, target: T) -> Result<Entry<T>, RouteError> {
    // Spin quietly treats `foo` as `/foo`; existing manifests rely on that.
    let normalised = if raw_route.starts_with('/') {
        raw_route.clone()
    } else {
        format!("/{raw_route}")
    };
    let based_route = based_route(base, &normalised);
    if based_route.starts_with(WELL_KNOWN_PREFIX) {
        return Err(RouteError::Reserved { route: raw_route });
    }
    let pattern = Pattern::parse(&based_route, &raw_route)?;
    Ok(Entry {
        raw_route,
        based_route,
        pattern,
        target,
    })
}

/// Every declaration that isn't the last one for its entry is a duplicate.
fn find_duplicates(declarations: &[(usize, String)]) -> Vec<DuplicateRoute> {
    let mut last_for_slot: HashMap<usize, usize> = HashMap::new();
    for (index, (slot, _)) in declarations.iter().enumerate() {
        last_for_slot.insert(*slot, index);
    }
    declarations
        .iter()
        .enumerate()
        .filter_map(|(index, (slot, based))| {
            let effective_index = last_for_slot.get(slot).copied()?;
            (effective_index != index).then(|| DuplicateRoute {
                route: based.clone(),
                ignored_index: index,
                effective_index,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a router whose targets are the routes' declaration indices.
    fn router(base: &str, routes: &[&str]) -> (Router<usize>, Vec<DuplicateRoute>) {
        let routes = routes.iter().enumerate().map(|(i, r)| (r.to_string(), i));
        Router::build(base, routes).expect("routes should be valid")
    }

    /// The raw route that serves `path`, if any.
    fn winner<'a>(r: &'a Router<usize>, path: &str) -> Option<&'a str> {
        r.route(path).map(|m| m.raw_route)
    }

    #[test]
    fn docs_exact_routes() {
        // Spin docs: "/cart matches only /cart, and not /cart/checkout".
        let (r, _) = router("/", &["/cart", "/cart/checkout"]);
        let cases = [
            ("/cart", Some("/cart")),
            ("/cart/", Some("/cart")),
            ("/cart/checkout", Some("/cart/checkout")),
            ("/cart/checkout/x", None),
            ("/cartx", None),
            ("/", None),
        ];
        for (path, want) in cases {
            assert_eq!(winner(&r, path), want, "path {path}");
        }
    }

    #[test]
    fn docs_single_segment_wildcard() {
        // Spin docs: `/users/:userid/edit` matches `/users/1/edit` and
        // `/users/alice/edit`, not `/users`, `/users/1` or `/users/1/edit/cart`.
        let (r, _) = router("/", &["/users/:userid/edit"]);
        let cases = [
            ("/users/1/edit", Some("1")),
            ("/users/alice/edit", Some("alice")),
            ("/users", None),
            ("/users/1", None),
            ("/users/1/edit/cart", None),
            ("/users//edit", None),
        ];
        for (path, want) in cases {
            let got = r.route(path).map(|m| m.named);
            let want = want.map(|v| vec![("userid".to_string(), v.to_string())]);
            assert_eq!(got, want, "path {path}");
        }
    }

    #[test]
    fn docs_trailing_wildcard() {
        // Spin docs: `/users/...` matches `/users`, `/users/1`, `/users/1/edit`;
        // `/...` matches everything.
        let (users, _) = router("/", &["/users/..."]);
        let (all, _) = router("/", &["/..."]);
        let cases = [
            (&users, "/users", Some("")),
            (&users, "/users/1", Some("/1")),
            (&users, "/users/1/edit", Some("/1/edit")),
            (&users, "/usersx", None),
            (&users, "/", None),
            (&all, "/", Some("/")),
            (&all, "/favicon.ico", Some("/favicon.ico")),
            (&all, "/a/b/c/", Some("/a/b/c/")),
        ];
        for (r, path, want) in cases {
            let got = r.route(path).map(|m| m.trailing);
            assert_eq!(got.as_deref(), want, "path {path}");
        }
    }

    #[test]
    fn docs_overlapping_routes() {
        // Spin docs, "Resolving Overlapping Routes".
        let (r, dups) = router("/", &["/users/...", "/users/admin", "/..."]);
        assert!(dups.is_empty());
        let cases = [
            ("/users/1", "/users/..."),
            ("/users", "/users/..."),
            ("/users/admin", "/users/admin"),
            ("/users/admin/", "/users/admin"),
            ("/users/admin/x", "/users/..."),
            ("/usersx", "/..."),
            ("/", "/..."),
            ("/shop/item", "/..."),
        ];
        for (path, want) in cases {
            assert_eq!(winner(&r, path), Some(want), "path {path}");
        }
    }

    #[test]
    fn most_specific_route_wins_in_any_declaration_order() {
        let cases: &[(&[&str], &str, &str)] = &[
            // Among wildcards the longest prefix wins (Spin routes.rs test).
            (
                &["/one/...", "/one/two/...", "/one/two/three/..."],
                "/one/two/three/four",
                "/one/two/three/...",
            ),
            (&["/one/...", "/one/two/..."], "/one/x", "/one/..."),
            // Exact beats wildcard.
            (&["/one", "/..."], "/one", "/one"),
            (&["/foo", "/foo/..."], "/foo", "/foo"),
            (&["/foo", "/foo/..."], "/foo/x", "/foo/..."),
            (&["/", "/..."], "/", "/"),
            // Literal beats `:name` at the same position.
            (
                &["/users/:id", "/users/admin"],
                "/users/admin",
                "/users/admin",
            ),
            (&["/users/:id", "/users/admin"], "/users/7", "/users/:id"),
            // `:name` beats a trailing wildcard.
            (&["/users/:id", "/users/..."], "/users/7", "/users/:id"),
            (&["/:id", "/..."], "/x", "/:id"),
            (
                &["/users/:id/...", "/users/..."],
                "/users/7/x",
                "/users/:id/...",
            ),
            // More literal segments beat fewer.
            (&["/a/:x/:y", "/a/b/:y"], "/a/b/c", "/a/b/:y"),
            // Segments compare left to right, as Spin's routefinder does: the
            // first position that differs decides, even against an exact route.
            (&["/a/:x/c", "/a/b/..."], "/a/b/c", "/a/b/..."),
            (&["/:a/b", "/x/:c"], "/x/b", "/x/:c"),
        ];
        for (routes, path, want) in cases {
            let mut reversed = routes.to_vec();
            reversed.reverse();
            for order in [routes.to_vec(), reversed] {
                let (r, _) = router("/", &order);
                assert_eq!(
                    winner(&r, path),
                    Some(*want),
                    "routes {order:?}, path {path}"
                );
            }
        }
    }

    #[test]
    fn exact_routes_match_whole_path_ignoring_trailing_slash() {
        // From Spin's RoutePattern tests.
        let (r, _) = router("/", &["/foo/bar"]);
        let cases = [
            ("/foo/bar", true),
            ("/foo/bar/", true),
            ("/foo", false),
            ("/foo/bar/thisshouldbefalse", false),
            ("/abc", false),
            ("/foo/barx", false),
            ("/Foo/bar", false),
        ];
        for (path, want) in cases {
            assert_eq!(r.route(path).is_some(), want, "path {path}");
        }
    }

    #[test]
    fn trailing_wildcard_part_keeps_request_trailing_slash() {
        // From Spin's routes.rs tests.
        let cases = [
            ("/test/...", "/test", ""),
            ("/test/...", "/test/", "/"),
            ("/test/...", "/test/hello", "/hello"),
            ("/test/...", "/test/hello/", "/hello/"),
            ("/...", "/1/2/3", "/1/2/3"),
            ("/1/...", "/1/2/3", "/2/3"),
            ("/static/...", "/static/images/abc.png", "/images/abc.png"),
            ("/files/...", "/files/a%20b", "/a%20b"),
            ("/foo", "/foo", ""),
            ("/*", "/x/y", "/x/y"),
        ];
        for (route, path, want) in cases {
            let (r, _) = router("/", &[route]);
            let m = r
                .route(path)
                .unwrap_or_else(|| panic!("{route} should match {path}"));
            assert_eq!(m.trailing, want, "route {route}, path {path}");
        }
    }

    #[test]
    fn named_segments_are_captured_in_order() {
        type Named<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(&str, &str, Named, &str)] = &[
            ("/1/:two/3", "/1/2/3", &[("two", "2")], ""),
            ("/1/:two/...", "/1/2/3", &[("two", "2")], "/3"),
            ("/1/:two/...", "/1/2", &[("two", "2")], ""),
            (
                "/a/:x/b/:y/...",
                "/a/1/b/2/c",
                &[("x", "1"), ("y", "2")],
                "/c",
            ),
            ("/:user_id", "/abc", &[("user_id", "abc")], ""),
        ];
        for (route, path, named, trailing) in cases {
            let (r, _) = router("/", &[route]);
            let m = r
                .route(path)
                .unwrap_or_else(|| panic!("{route} should match {path}"));
            let want: Vec<_> = named
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(m.named, want, "route {route}, path {path}");
            assert_eq!(m.trailing, *trailing, "route {route}, path {path}");
        }
        let (r, _) = router("/", &["/users/:id"]);
        for path in ["/users", "/users/", "/users/1/2"] {
            assert!(r.route(path).is_none(), "path {path}");
        }
    }

    #[test]
    fn base_mounts_routes() {
        // Legacy v1 `base`; trailing slashes on base and route are normalised.
        let cases = [
            ("/base", "/foo", "/base/foo", "/base/foo", true),
            ("/base", "/foo", "/base/foo/", "/base/foo", true),
            ("/base/", "/foo/", "/base/foo", "/base/foo", true),
            ("/base", "/foo", "/foo", "/base/foo", false),
            ("/base", "/foo/bar", "/base/foo/bar", "/base/foo/bar", true),
            ("/base", "/...", "/base", "/base/...", true),
            ("/base", "/...", "/base/x/y", "/base/...", true),
            ("/base", "/...", "/basement", "/base/...", false),
            ("/base", "/", "/base", "/base", true),
            ("/", "/", "/", "/", true),
            ("", "/foo", "/foo", "/foo", true),
            ("/", "/foo/", "/foo", "/foo", true),
        ];
        for (base, route, path, based, matches) in cases {
            let (r, _) = router(base, &[route]);
            assert_eq!(
                r.routes().next().map(|(b, _)| b),
                Some(based),
                "{base} + {route}"
            );
            let m = r.route(path);
            assert_eq!(m.is_some(), matches, "{base} + {route}, path {path}");
            if let Some(m) = m {
                assert_eq!(m.raw_route, route);
                assert_eq!(m.based_route, based);
            }
        }
        let (r, _) = router("/base", &["/static/..."]);
        let m = r.route("/base/static/images/abc.png");
        assert_eq!(m.map(|m| m.trailing).as_deref(), Some("/images/abc.png"));
    }

    #[test]
    fn duplicates_are_reported_and_the_last_declaration_wins() {
        let dup = |route: &str, ignored_index, effective_index| DuplicateRoute {
            route: route.to_string(),
            ignored_index,
            effective_index,
        };
        let cases: &[(&[&str], Vec<DuplicateRoute>)] = &[
            (&["/foo", "/foo/...", "/:x", "/..."], vec![]),
            (&["/foo", "/foo"], vec![dup("/foo", 0, 1)]),
            (&["/foo", "/foo/"], vec![dup("/foo", 0, 1)]),
            (&["/", "/"], vec![dup("/", 0, 1)]),
            (
                &["/users/:id", "/users/:uid"],
                vec![dup("/users/:id", 0, 1)],
            ),
            (&["/...", "/*"], vec![dup("/...", 0, 1)]),
            (
                &["/a", "/b", "/a", "/a"],
                vec![dup("/a", 0, 3), dup("/a", 2, 3)],
            ),
        ];
        for (routes, want) in cases {
            let (r, dups) = router("/", routes);
            assert_eq!(&dups, want, "routes {routes:?}");
            for d in &dups {
                // The effective declaration serves the route.
                let path = d.route.replace(":id", "7").replace("/...", "/x");
                assert_eq!(r.route(&path).map(|m| *m.target), Some(d.effective_index));
            }
        }
    }

    #[test]
    fn duplicate_keeps_first_position_in_routes() {
        let (r, dups) = router("/", &["/a", "/b", "/a"]);
        let routes: Vec<_> = r.routes().map(|(route, t)| (route, *t)).collect();
        assert_eq!(routes, [("/a", 2), ("/b", 1)]);
        let msg = dups[0].to_string();
        assert!(
            msg.contains("/a") && msg.contains("#1") && msg.contains("#3"),
            "{msg}"
        );
    }

    #[test]
    fn routes_are_listed_in_declaration_order_with_base() {
        let (r, _) = router("/base", &["/", "/foo", "/bar", "/whee/..."]);
        let routes: Vec<_> = r.routes().map(|(route, t)| (route, *t)).collect();
        assert_eq!(
            routes,
            [
                ("/base", 0),
                ("/base/foo", 1),
                ("/base/bar", 2),
                ("/base/whee/...", 3)
            ]
        );
    }

    #[test]
    fn invalid_routes_are_rejected_with_the_route_named() {
        type IsKind = fn(&RouteError) -> bool;
        let cases: &[(&str, &str, IsKind, &str)] = &[
            (
                "/",
                "/users/:",
                |e| matches!(e, RouteError::EmptyParamName { .. }),
                "/users/:id",
            ),
            (
                "/",
                "/users/:/x",
                |e| matches!(e, RouteError::EmptyParamName { .. }),
                "name it",
            ),
            (
                "/",
                "/a/.../b",
                |e| matches!(e, RouteError::MisplacedWildcard { .. }),
                "last",
            ),
            (
                "/",
                "/.../x",
                |e| matches!(e, RouteError::MisplacedWildcard { .. }),
                "last",
            ),
            (
                "/",
                "/a/*/b",
                |e| matches!(e, RouteError::MisplacedWildcard { .. }),
                "last",
            ),
            (
                "/",
                "/f/:n.json",
                |e| matches!(e, RouteError::InvalidParamName { .. }),
                ":n.json",
            ),
            (
                "/",
                "/.well-known/spin/health",
                |e| matches!(e, RouteError::Reserved { .. }),
                "reserves",
            ),
            (
                "/",
                "/.well-known/spin/...",
                |e| matches!(e, RouteError::Reserved { .. }),
                "reserves",
            ),
            (
                "/.well-known/spin",
                "/x",
                |e| matches!(e, RouteError::Reserved { .. }),
                "reserves",
            ),
            (
                "base",
                "/x",
                |e| matches!(e, RouteError::InvalidBase { .. }),
                "'base'",
            ),
        ];
        for (base, route, is_kind, hint) in cases {
            let routes = [(route.to_string(), ())];
            let err = Router::build(base, routes).expect_err(route);
            assert!(is_kind(&err), "route {route}: unexpected {err:?}");
            let msg = err.to_string();
            let named = if matches!(err, RouteError::InvalidBase { .. }) {
                base
            } else {
                route
            };
            assert!(msg.contains(&format!("'{named}'")), "{msg}");
            assert!(msg.contains(hint), "{msg}");
        }
    }

    #[test]
    fn unusual_but_valid_routes_are_accepted() {
        // Spin only reserves `/.well-known/spin/`; `...` inside a segment is literal.
        let cases = [
            ("/.well-known/spin", "/.well-known/spin"),
            ("/.well-known/acme/...", "/.well-known/acme/x"),
            ("/foo...", "/foo..."),
            ("/a:b", "/a:b"),
            ("/a//b", "/a/b"),
            ("/files/:name-v2_x", "/files/1"),
        ];
        for (route, path) in cases {
            let (r, _) = router("/", &[route]);
            assert!(r.route(path).is_some(), "route {route}, path {path}");
        }
    }

    #[test]
    fn reserved_paths_never_match() {
        let (r, _) = router("/", &["/..."]);
        let cases = [
            ("/.well-known/spin/health", false),
            ("/.well-known/spin/info", false),
            ("/.well-known/spin/", false),
            ("/.well-known/spin", true),
            ("/.well-known/other", true),
        ];
        for (path, matches) in cases {
            assert_eq!(is_reserved_path(path), !matches, "path {path}");
            assert_eq!(r.route(path).is_some(), matches, "path {path}");
        }
    }

    #[test]
    fn component_route_and_script_name() {
        let cases = [
            (
                "/",
                "/users/:id/...",
                "/users/42/a",
                "/users/:id",
                "/users/:id",
            ),
            ("/", "/...", "/x", "", ""),
            ("/", "/foo", "/foo", "/foo", "/foo"),
            ("/", "/", "/", "/", ""),
            ("/base", "/...", "/base/x", "", "/base"),
            ("/base", "/", "/base", "/", "/base"),
        ];
        for (base, route, path, component_route, script_name) in cases {
            let (r, _) = router(base, &[route]);
            let m = r
                .route(path)
                .unwrap_or_else(|| panic!("{route} should match {path}"));
            assert_eq!(m.component_route(), component_route, "{base} + {route}");
            assert_eq!(m.based_route_prefix(), script_name, "{base} + {route}");
        }
    }

    #[test]
    fn empty_router_matches_nothing() {
        let (r, dups) = router("/", &[]);
        assert!(dups.is_empty());
        assert!(r.route("/").is_none());
        assert_eq!(r.routes().count(), 0);
    }
}
