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
    /// The `[application.trigger.http] base` does not start with `/`.
    #[error("HTTP base '{base}' must start with '/' (e.g. '/' or '/base')")]
    InvalidBase {
        /// The base as configured.
        base: String,
    },
    /// A `:` segment with no name, e.g. `/users/:`.
    #[error("HTTP route '{route}' has a ':' segment without a name; name it, e.g. '/users/:id'")]
    EmptyParamName {
        /// The route as written.
        route: String,
    },
    /// A `:name` segment whose name has characters other than letters, digits, `_`, `-`.
    #[error(
        "HTTP route '{route}' has an invalid segment name ':{name}'; \
         use letters, digits, '_' or '-' for a whole segment, e.g. ':id'"
    )]
    InvalidParamName {
        /// The route as written.
        route: String,
        /// The rejected segment name.
        name: String,
    },
    /// A `...`/`*` wildcard that is not the last segment.
    #[error(
        "HTTP route '{route}' has a wildcard ('...' or '*') that is not the last segment; \
         a wildcard may only end a route, e.g. '/static/...'"
    )]
    MisplacedWildcard {
        /// The route as written.
        route: String,
    },
    /// A route under `/.well-known/spin/`, which Spin reserves.
    #[error(
        "HTTP route '{route}' is under '{WELL_KNOWN_PREFIX}', which Spin reserves for its own \
         endpoints (health, info); choose a different route"
    )]
    Reserved {
        /// The route as written.
        route: String,
    },
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
    /// What the matched route serves.
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
mod tests;
