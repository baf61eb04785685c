//! Spin's `allowed_outbound_hosts` component setting: parsing and matching.
//!
//! Spin sandboxes network access: a component may only connect to
//! destinations its manifest lists in `allowed_outbound_hosts`, and an empty
//! or missing list means *no* outbound access at all. Apps written for Spin
//! must behave identically here, so this module follows Spin 3's rules
//! (`spin-outbound-networking-config`) rather than inventing its own:
//!
//! * Every entry is `<scheme>://<host>[:<port>]`; the scheme is mandatory.
//!   * scheme: a word of letters (`http`, `https`, `redis`, `mysql`,
//!     `postgres`, `mqtt`, `tcp`, ...) or `*` for any scheme.
//!   * host: a DNS name, `*` (any host), `*.example.com` (any *subdomain*
//!     of `example.com`, but not `example.com` itself), an IP address
//!     (`127.0.0.1`, `[::1]`), a CIDR block (`10.0.0.0/8`, `fd00::/8`), or
//!     `self` / `self.alt` (requests to the app itself, see
//!     [`AllowedHosts::allows_self`]).
//!   * port: a number, `*` (any port), or a range `start..end` whose end is
//!     **exclusive** (`8000..8010` allows 8000 through 8009). When omitted,
//!     the scheme's default port applies ([`AllowedHosts::default_port`]);
//!     a scheme without a default (including `*`) must name a port.
//! * A trailing `/` (an empty path) is tolerated; any other path, a query, a
//!   fragment or user credentials make the entry invalid.
//! * Entries may contain `{{ variable }}` templates, which are rendered
//!   before parsing.
//! * The Spin 1 value `insecure:allow-all` is rejected with a hint to use
//!   `*://*:*`; old `allowed_http_hosts` lists can be translated with
//!   [`convert_allowed_http_hosts`].
//!
//! Matching is purely textual/numeric: host names are never resolved, so a
//! name entry does not allow the IP it resolves to, and vice versa.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;
use url::Host;

/// Where Spin documents this setting; appended to parse errors so users can
/// find the full syntax.
const LEARN_MORE: &str =
    "https://spinframework.dev/v3/http-outbound#granting-http-permissions-to-components";

/// Spin 1's "allow every HTTP host" marker. Spin 3 refuses it in
/// `allowed_outbound_hosts` because it silently disabled sandboxing.
const INSECURE_ALLOW_ALL: &str = "insecure:allow-all";

/// Domain under which `<component-id>.spin.internal` names address other
/// components of the same app (local service chaining).
pub const SERVICE_CHAINING_DOMAIN: &str = "spin.internal";

/// Pseudo-host that SDKs which cannot send authority-less URLs (notably the
/// JavaScript `fetch` wrapper) use for self-requests, e.g.
/// `http://self.alt/api`. Spin treats it exactly like a relative URL.
pub const SELF_ALT_HOST: &str = "self.alt";

/// A parsed `allowed_outbound_hosts` list for one component.
///
/// Build it once per component with [`AllowedHosts::parse`] and consult it
/// before every outbound connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    entries: Vec<Entry>,
}

/// A destination a component wants to reach.
///
/// `host` may be a DNS name, an IPv4 address, or an IPv6 address with or
/// without brackets. `port: None` means "the scheme's default port" (what a
/// URL without an explicit port means); for schemes without a default only
/// entries with a `*` port match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundTarget<'a> {
    /// URL scheme, e.g. `https`, `postgres`, `tcp`.
    pub scheme: &'a str,
    /// Host name or IP address.
    pub host: &'a str,
    /// Explicit port; `None` means the scheme's default.
    pub port: Option<u16>,
}

impl<'a> OutboundTarget<'a> {
    /// Convenience constructor.
    pub fn new(scheme: &'a str, host: &'a str, port: Option<u16>) -> Self {
        Self { scheme, host, port }
    }
}

/// Why an `allowed_outbound_hosts` (or legacy `allowed_http_hosts`) list
/// could not be used. Messages quote the offending entry and show a valid
/// form, because the usual reader is someone editing `spin.toml`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowedHostsError {
    /// `insecure:allow-all` appeared in `allowed_outbound_hosts`.
    #[error(
        "\"insecure:allow-all\" is not allowed in `allowed_outbound_hosts` (it is a Spin 1 \
         `allowed_http_hosts` value); use \"*://*:*\" if you really want to allow all outbound \
         traffic, which disables network sandboxing"
    )]
    InsecureAllowAll,

    /// The `render` callback failed for a templated entry (for example an
    /// unknown variable).
    #[error(
        "could not render the template in `allowed_outbound_hosts` entry {entry:?}: {message}"
    )]
    Template {
        /// The entry as written.
        entry: String,
        /// Why rendering failed.
        message: String,
    },

    /// An entry is not of the form `<scheme>://<host>[:<port>]`.
    #[error(
        "invalid `allowed_outbound_hosts` entry {entry:?}: {reason}; entries have the form \
         `<scheme>://<host>[:<port>]`, for example {example:?} (learn more: {learn})",
        learn = LEARN_MORE
    )]
    InvalidEntry {
        /// The entry as written in the manifest (before template rendering).
        entry: String,
        /// What is wrong with it.
        reason: String,
        /// A valid entry close to what the user seems to want.
        example: String,
    },

    /// An entry of the Spin 1 `allowed_http_hosts` setting is invalid.
    #[error(
        "invalid `allowed_http_hosts` entry {entry:?}: {reason}; entries are a host with an \
         optional port, for example \"example.com\" or \"localhost:8081\""
    )]
    InvalidLegacyHttpHost {
        /// The entry as written.
        entry: String,
        /// Why it is invalid.
        reason: String,
    },
}

impl AllowedHosts {
    /// Parses a component's `allowed_outbound_hosts` entries.
    ///
    /// Entries containing `{{` are passed whole to `render` (which resolves
    /// application variables) and the result is parsed; other entries are
    /// parsed as written, so `render` is never called for them. Any invalid
    /// entry fails the whole list, as in Spin, so a typo cannot silently
    /// narrow or widen what a component may reach.
    pub fn parse(
        entries: &[String],
        render: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<Self, AllowedHostsError> {
        let mut parsed = Vec::with_capacity(entries.len());
        for raw in entries {
            let written = raw.trim();
            if written == INSECURE_ALLOW_ALL {
                return Err(AllowedHostsError::InsecureAllowAll);
            }
            let templated = written.contains("{{");
            let text = if templated {
                render(written).map_err(|message| AllowedHostsError::Template {
                    entry: raw.clone(),
                    message,
                })?
            } else {
                written.to_owned()
            };
            let text = text.trim();
            if text == INSECURE_ALLOW_ALL {
                return Err(AllowedHostsError::InsecureAllowAll);
            }
            let entry = parse_entry(text).map_err(|invalid| AllowedHostsError::InvalidEntry {
                entry: raw.clone(),
                reason: if templated {
                    format!(
                        "it renders to {text:?}, which is invalid: {}",
                        invalid.reason
                    )
                } else {
                    invalid.reason
                },
                example: invalid.example,
            })?;
            parsed.push(entry);
        }
        Ok(Self { entries: parsed })
    }

    /// An allow-list that permits nothing: Spin's behaviour when a component
    /// has no `allowed_outbound_hosts`.
    pub fn none() -> Self {
        Self::default()
    }

    /// True when the list has no entries (nothing is allowed).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries (after template rendering, trimmed), for diagnostics.
    pub fn entries(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.original.as_str())
    }

    /// Whether any entry permits connecting to `target`.
    ///
    /// An entry matches when its scheme, host and port all match. An
    /// `http`/`https` target whose host is empty or `self.alt` is a
    /// self-request and is decided by [`AllowedHosts::allows_self`] instead,
    /// mirroring how Spin's outbound HTTP routes such requests.
    pub fn allows(&self, target: &OutboundTarget) -> bool {
        let scheme = target.scheme.trim().to_ascii_lowercase();
        if is_self_request_host(target.host) && matches!(scheme.as_str(), "" | "http" | "https") {
            return self.allows_self();
        }
        let Some(host) = TargetHost::parse(target.host) else {
            return false;
        };
        let port = target.port.or_else(|| Self::default_port(&scheme));
        self.entries.iter().any(|entry| {
            entry.scheme.matches(&scheme) && entry.host.matches(&host) && entry.port.matches(port)
        })
    }

    /// [`AllowedHosts::allows`] for a URL such as `https://api.example.com/v1`
    /// or `mysql://user:p#ss@db:3306/app`.
    ///
    /// Only the scheme, host and port are considered; credentials (which in
    /// database URLs often contain unescaped `#` or `@`) are skipped. A
    /// relative URL (`/api`) is a self-request. Anything that cannot be
    /// parsed, including addresses without a `scheme://`, is denied: a
    /// security check must fail closed.
    pub fn allows_url(&self, url: &str) -> bool {
        let url = url.trim();
        if url.starts_with('/') {
            return self.allows_self();
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return false;
        };
        // The authority ends at the first '/' or '?'. '#' is deliberately not
        // a terminator here because it is common inside passwords.
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
        let host_port = host_port.split('#').next().unwrap_or_default();
        let Ok(parsed) = url::Url::parse(&format!("{scheme}://{host_port}")) else {
            return false;
        };
        let Some(host) = parsed.host_str() else {
            return false;
        };
        self.allows(&OutboundTarget::new(parsed.scheme(), host, parsed.port()))
    }

    /// Whether the component may make requests to its own app by route: a
    /// relative URL such as `/api/users` or the `self.alt` pseudo-host.
    ///
    /// As in Spin, this is granted by an entry whose host is `self`,
    /// `self.alt` or `*` and whose scheme admits `http` or `https` (the port
    /// is irrelevant). Local service chaining (`<id>.spin.internal`) is *not*
    /// a self-request: those names are ordinary hosts checked by
    /// [`AllowedHosts::allows`], so `http://*.spin.internal` does not enable
    /// relative URLs and `http://self` does not enable chaining.
    pub fn allows_self(&self) -> bool {
        self.entries.iter().any(|entry| {
            matches!(entry.host, HostPattern::Any | HostPattern::ToSelf)
                && (entry.scheme.matches("http") || entry.scheme.matches("https"))
        })
    }

    /// The entry a user should add to allow `target`, e.g.
    /// `"https://api.example.com:8443"`.
    ///
    /// The port is omitted when it is the scheme's default (so the suggestion
    /// matches what users write), IPv6 hosts are bracketed, self-requests
    /// suggest `<scheme>://self`, and a target without a port on a scheme
    /// without a default gets `:*` so the suggestion is always a valid entry.
    pub fn suggestion(target: &OutboundTarget) -> String {
        let scheme = target.scheme.trim().to_ascii_lowercase();
        let scheme = if scheme.is_empty() {
            "http".to_owned()
        } else {
            scheme
        };
        let host = target.host.trim();
        if is_self_request_host(host) {
            return format!("{scheme}://self");
        }
        let host = if host.parse::<Ipv6Addr>().is_ok() {
            format!("[{host}]")
        } else {
            host.to_ascii_lowercase()
        };
        match (target.port, Self::default_port(&scheme)) {
            (Some(port), Some(default)) if port == default => format!("{scheme}://{host}"),
            (Some(port), _) => format!("{scheme}://{host}:{port}"),
            (None, Some(_)) => format!("{scheme}://{host}"),
            (None, None) => format!("{scheme}://{host}:*"),
        }
    }

    /// The port an entry or target without an explicit port refers to.
    ///
    /// This is exactly Spin's table; notably `rediss`, `mqtts`, `tcp`, `udp`
    /// and `*` have no default, so entries using them must give a port.
    pub fn default_port(scheme: &str) -> Option<u16> {
        match scheme {
            "http" => Some(80),
            "https" => Some(443),
            "redis" => Some(6379),
            "mysql" => Some(3306),
            "postgres" => Some(5432),
            "mqtt" => Some(1883),
            _ => None,
        }
    }
}

/// Why wasi:sockets may not use an address; see [`AllowedHosts::check_socket`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketDenied {
    /// No entry grants it; `address` (`tcp://127.0.0.1:5000`) is what was asked for and
    /// `suggestion` the entry that would allow it.
    NotGranted {
        /// What was asked for, e.g. `tcp://127.0.0.1:5000`.
        address: String,
        /// The `allowed_outbound_hosts` entry that would allow it.
        suggestion: String,
    },
    /// Binding a chosen address, listening or accepting: Spin components get no inbound
    /// sockets, whatever the list says.
    Inbound,
}

impl AllowedHosts {
    /// The wasi:sockets decision, with Spin's rules: a TCP connection is checked as
    /// `tcp://IP:PORT`, UDP traffic (send, receive, connect, explicit bind) as `udp://IP:PORT`,
    /// through [`AllowedHosts::allows`] like every other API, so `*://` entries, CIDR blocks
    /// and port ranges apply. The OS's implicit bind before a connect or first send
    /// (the unspecified address, port 0) is allowed: it is what every outbound socket does.
    /// IPv4-mapped IPv6 addresses are checked as the IPv4 address they reach.
    pub fn check_socket(
        &self,
        addr: std::net::SocketAddr,
        use_: wasmtime_wasi::sockets::SocketAddrUse,
    ) -> Result<(), SocketDenied> {
        use wasmtime_wasi::sockets::SocketAddrUse as Use;
        let implicit_bind = addr.ip().is_unspecified() && addr.port() == 0;
        let scheme = match use_ {
            Use::TcpBind if implicit_bind => return Ok(()),
            Use::TcpBind | Use::TcpListen | Use::TcpAccept => return Err(SocketDenied::Inbound),
            Use::TcpConnect => "tcp",
            Use::UdpBind if implicit_bind => return Ok(()),
            Use::UdpBind | Use::UdpSend | Use::UdpReceive => "udp",
        };
        let ip = addr.ip().to_canonical().to_string();
        let target = OutboundTarget::new(scheme, &ip, Some(addr.port()));
        if self.allows(&target) {
            return Ok(());
        }
        let host = if addr.ip().to_canonical().is_ipv6() {
            format!("[{ip}]")
        } else {
            ip.clone()
        };
        Err(SocketDenied::NotGranted {
            address: format!("{scheme}://{host}:{}", addr.port()),
            suggestion: Self::suggestion(&target),
        })
    }

    /// Whether `wasi:sockets/ip-name-lookup` may resolve `name`: only hosts some entry names
    /// (any scheme and port; `*` and `*.domain` count), so a component cannot probe DNS for
    /// names it could never reach. IP literals are answered without a lookup and are allowed.
    pub fn allows_name_lookup(&self, name: &str) -> bool {
        let Some(host) = TargetHost::parse(name) else {
            return false;
        };
        matches!(host, TargetHost::Ip(_)) || self.entries.iter().any(|e| e.host.matches(&host))
    }
}

/// The one log line for every denied outbound connection (HTTP, Redis, MQTT, PostgreSQL,
/// MySQL, sockets): what was asked for and the entry that would allow it.
pub fn log_denied(component: &str, api: &str, address: &str, suggestion: &str) {
    tracing::warn!(
        component = %component,
        "{api} connection to {address} denied: add \"{suggestion}\" to `allowed_outbound_hosts` in the component's spin.toml section"
    );
}

impl fmt::Display for AllowedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, entry) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{:?}", entry.original)?;
        }
        f.write_str("]")
    }
}

/// If `host` is a local service chaining name, `<component-id>.spin.internal`,
/// returns the component id.
///
/// A trailing `:port` is ignored so an authority can be passed as is. For the
/// wildcard entry host `*.spin.internal` this returns `Some("*")`, as Spin
/// does, which lets callers detect wildcard chaining. Deeper names such as
/// `a.b.spin.internal` are not chaining hosts.
pub fn is_service_chaining_host(host: &str) -> Option<&str> {
    let host = host.trim();
    let host = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let (component, domain) = host.split_once('.')?;
    (!component.is_empty() && domain.eq_ignore_ascii_case(SERVICE_CHAINING_DOMAIN))
        .then_some(component)
}

/// True for hosts that denote a self-request by route: an empty host (a
/// relative URL) or [`SELF_ALT_HOST`]. Outbound HTTP must send these to the
/// app's own origin rather than resolve them.
pub fn is_self_request_host(host: &str) -> bool {
    let host = host.trim();
    host.is_empty() || host.eq_ignore_ascii_case(SELF_ALT_HOST)
}

/// Translates a Spin 1 `allowed_http_hosts` list into equivalent
/// `allowed_outbound_hosts` entries, as Spin does when loading old manifests.
///
/// `insecure:allow-all` anywhere becomes `http://*:*`, `https://*:*` and
/// `http://self`; `self` becomes `http://self`; any other `host[:port]` (or
/// `http(s)://host[:port]`) is allowed over both `http` and `https`, on the
/// given port or else each scheme's default port.
pub fn convert_allowed_http_hosts(entries: &[String]) -> Result<Vec<String>, AllowedHostsError> {
    if entries.iter().any(|e| e == INSECURE_ALLOW_ALL) {
        return Ok(vec![
            "http://*:*".to_owned(),
            "https://*:*".to_owned(),
            "http://self".to_owned(),
        ]);
    }
    let mut converted = Vec::with_capacity(entries.len() * 2);
    for entry in entries {
        if entry == "self" {
            converted.push("http://self".to_owned());
            continue;
        }
        let invalid = |reason: String| AllowedHostsError::InvalidLegacyHttpHost {
            entry: entry.clone(),
            reason,
        };
        // `Url::parse("localhost:3001")` would read `localhost` as a scheme,
        // so only strings that look schemed are parsed as URLs directly.
        let url = if entry.contains("//") {
            let url =
                url::Url::parse(entry).map_err(|e| invalid(format!("not a valid URL ({e})")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid("only http and https URLs are allowed".to_owned()));
            }
            url
        } else {
            url::Url::parse(&format!("http://{entry}"))
                .map_err(|e| invalid(format!("not a valid host or host:port ({e})")))?
        };
        let host = url
            .host_str()
            .ok_or_else(|| invalid("no host name".to_owned()))?;
        if url.path().len() > 1 || url.query().is_some() {
            return Err(invalid("must not contain a path or query".to_owned()));
        }
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        converted.push(format!("http://{host}{port}"));
        converted.push(format!("https://{host}{port}"));
    }
    Ok(converted)
}

/// One parsed entry; `original` is kept for diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    original: String,
    scheme: SchemePattern,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SchemePattern {
    Any,
    /// Lower-cased, because URL parsers lower-case schemes.
    Exact(String),
}

impl SchemePattern {
    fn matches(&self, scheme: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(s) => s.eq_ignore_ascii_case(scheme),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// `*`
    Any,
    /// `self` / `self.alt`: matches no host; see [`AllowedHosts::allows_self`].
    ToSelf,
    /// `*.example.com`, stored as the normalized suffix `.example.com` so the
    /// apex and look-alikes (`myexample.com`) do not match.
    Subdomains(String),
    /// A normalized (lower-case, punycode) DNS name.
    Domain(String),
    Ip(IpAddr),
    Cidr(IpNet),
}

impl HostPattern {
    fn matches(&self, host: &TargetHost) -> bool {
        match (self, host) {
            (Self::Any, _) => true,
            (Self::ToSelf, _) => false,
            (Self::Subdomains(suffix), TargetHost::Domain(d)) => d.ends_with(suffix.as_str()),
            (Self::Domain(name), TargetHost::Domain(d)) => name == d,
            (Self::Ip(ip), TargetHost::Ip(t)) => ip == t,
            (Self::Cidr(net), TargetHost::Ip(t)) => net.contains(t),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    Any,
    Exact(u16),
    /// `start..end`, end exclusive like Spin's `Range<u16>`. As in Spin, a
    /// range with `start >= end` is accepted but matches no port.
    Range {
        start: u16,
        end: u16,
    },
}

impl PortPattern {
    fn matches(&self, port: Option<u16>) -> bool {
        match (self, port) {
            (Self::Any, _) => true,
            (Self::Exact(p), Some(t)) => *p == t,
            (Self::Range { start, end }, Some(t)) => (*start..*end).contains(&t),
            (_, None) => false,
        }
    }
}

/// A target host normalized the same way entry hosts are, so that
/// `Example.COM`, `[::1]` and `::1` compare as expected.
enum TargetHost {
    Ip(IpAddr),
    Domain(String),
}

impl TargetHost {
    fn parse(host: &str) -> Option<Self> {
        let host = host.trim();
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Some(Self::Ip(ip));
        }
        match Host::parse(host).ok()? {
            Host::Domain(d) => Some(Self::Domain(d)),
            Host::Ipv4(ip) => Some(Self::Ip(IpAddr::V4(ip))),
            Host::Ipv6(ip) => Some(Self::Ip(IpAddr::V6(ip))),
        }
    }
}

/// A parse failure before it is tied to the manifest entry.
struct Invalid {
    reason: String,
    example: String,
}

fn invalid(reason: impl Into<String>, example: impl Into<String>) -> Invalid {
    Invalid {
        reason: reason.into(),
        example: example.into(),
    }
}

/// Where the host part of an authority came from, which decides how it is
/// interpreted.
enum HostText<'a> {
    /// Inside `[...]`: an IPv6 address or IPv6 CIDR block.
    Bracketed(&'a str),
    /// `addr/len`: a CIDR block.
    Cidr(&'a str, &'a str),
    /// Anything else: name, wildcard, `self` or IPv4 address.
    Plain(&'a str),
}

fn parse_entry(text: &str) -> Result<Entry, Invalid> {
    let Some((scheme_text, rest)) = text.split_once("://") else {
        return Err(match text {
            "*" | ":" | "" | "?" => invalid(
                "this does not name a destination; to allow all outbound networking (which \
                 disables network sandboxing) use \"*://*:*\"",
                "https://example.com",
            ),
            _ => invalid(
                "the scheme is missing (such as `https://` or `*://`)",
                format!("https://{text}"),
            ),
        });
    };

    let scheme = parse_scheme(scheme_text, rest)?;
    let scheme_shown = match &scheme {
        SchemePattern::Any => "*",
        SchemePattern::Exact(s) => s.as_str(),
    };

    // Spin accepts an empty path ("http://example.com/"); drop it up front.
    let authority = rest.trim().trim_end_matches('/');
    if authority.contains(['?', '#']) {
        let base = authority.split(['?', '#']).next().unwrap_or_default();
        return Err(invalid(
            "a query or fragment is not allowed",
            format!("{scheme_shown}://{base}"),
        ));
    }
    if let Some((_, after)) = authority.rsplit_once('@') {
        return Err(invalid(
            "user credentials are not allowed",
            format!("{scheme_shown}://{after}"),
        ));
    }

    let (host_text, port_text) = split_host_port(authority, scheme_shown)?;
    let host_shown = match host_text {
        HostText::Bracketed(h) => format!("[{h}]"),
        HostText::Cidr(addr, len) => format!("{addr}/{len}"),
        HostText::Plain(h) => h.to_owned(),
    };
    let host = parse_host(host_text, scheme_shown)?;
    let port = parse_port(port_text, &scheme, scheme_shown, &host_shown)?;

    Ok(Entry {
        original: text.to_owned(),
        scheme,
        host,
        port,
    })
}

fn parse_scheme(scheme: &str, rest: &str) -> Result<SchemePattern, Invalid> {
    let scheme = scheme.trim();
    if scheme == "*" {
        return Ok(SchemePattern::Any);
    }
    if scheme.starts_with('{') {
        return Err(invalid(
            "scheme lists are not supported; write one entry per scheme",
            format!("https://{rest}"),
        ));
    }
    if scheme.is_empty() {
        return Err(invalid("the scheme is empty", format!("https://{rest}")));
    }
    // Spin accepts letters only, so `h2c` or `coap+tcp` are rejected there too.
    if !scheme.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(invalid(
            format!("the scheme {scheme:?} may contain only letters"),
            format!("https://{rest}"),
        ));
    }
    Ok(SchemePattern::Exact(scheme.to_ascii_lowercase()))
}

/// Splits `host[:port]`, `[v6][:port]` and `addr/len[:port]`; the port text
/// is empty when absent.
fn split_host_port<'a>(
    authority: &'a str,
    scheme: &str,
) -> Result<(HostText<'a>, &'a str), Invalid> {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((inner, after)) = bracketed.split_once(']') else {
            return Err(invalid(
                "the IPv6 address is missing its closing `]`",
                format!("{scheme}://[::1]:8080"),
            ));
        };
        return match after {
            "" => Ok((HostText::Bracketed(inner), "")),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((HostText::Bracketed(inner), port)),
                None => Err(invalid(
                    format!("unexpected {after:?} after the IPv6 address"),
                    format!("{scheme}://[{inner}]:8080"),
                )),
            },
        };
    }

    if let Some((addr, tail)) = authority.split_once('/') {
        let (len, port) = tail.split_once(':').unwrap_or((tail, ""));
        let is_cidr = addr.parse::<IpAddr>().is_ok()
            && !len.is_empty()
            && len.bytes().all(|b| b.is_ascii_digit());
        if is_cidr {
            return Ok((HostText::Cidr(addr, len), port));
        }
        return Err(invalid(
            "a path is not allowed",
            format!("{scheme}://{addr}"),
        ));
    }

    if authority.matches(':').count() > 1 {
        // Either a bare IPv6 address (possibly followed by a port) or junk.
        if authority.parse::<Ipv6Addr>().is_ok() {
            return Err(invalid(
                "IPv6 addresses must be enclosed in brackets",
                format!("{scheme}://[{authority}]"),
            ));
        }
        if let Some((addr, port)) = authority.rsplit_once(':') {
            if addr.parse::<Ipv6Addr>().is_ok() {
                return Err(invalid(
                    "IPv6 addresses must be enclosed in brackets",
                    format!("{scheme}://[{addr}]:{port}"),
                ));
            }
        }
        return Err(invalid(
            "only one `:` may separate the host from the port",
            format!("{scheme}://example.com:8080"),
        ));
    }

    Ok(match authority.rsplit_once(':') {
        Some((host, port)) => (HostText::Plain(host), port),
        None => (HostText::Plain(authority), ""),
    })
}

fn parse_host(host: HostText<'_>, scheme: &str) -> Result<HostPattern, Invalid> {
    match host {
        HostText::Bracketed(inner) => {
            if let Some((addr, len)) = inner.split_once('/') {
                return parse_cidr(addr, len, scheme);
            }
            inner
                .parse::<Ipv6Addr>()
                .map(|ip| HostPattern::Ip(IpAddr::V6(ip)))
                .map_err(|_| {
                    invalid(
                        format!("[{inner}] is not an IPv6 address"),
                        format!("{scheme}://[::1]:8080"),
                    )
                })
        }
        HostText::Cidr(addr, len) => parse_cidr(addr, len, scheme),
        HostText::Plain(text) => parse_plain_host(text.trim(), scheme),
    }
}

fn parse_cidr(addr: &str, len: &str, scheme: &str) -> Result<HostPattern, Invalid> {
    // ipnet accepts host bits (`127.0.0.1/24`), as Spin does; truncate so the
    // stored block is canonical.
    format!("{addr}/{len}")
        .parse::<IpNet>()
        .map(|net| HostPattern::Cidr(net.trunc()))
        .map_err(|_| {
            invalid(
                format!("{addr}/{len} is not a valid CIDR block"),
                format!("{scheme}://10.0.0.0/8:*"),
            )
        })
}

fn parse_plain_host(text: &str, scheme: &str) -> Result<HostPattern, Invalid> {
    match text {
        "" => {
            return Err(invalid(
                "the host is missing",
                format!("{scheme}://example.com"),
            ))
        }
        "*" => return Ok(HostPattern::Any),
        "self" | SELF_ALT_HOST => return Ok(HostPattern::ToSelf),
        _ => {}
    }
    if text.starts_with('{') {
        return Err(invalid(
            "host lists are not supported; write one entry per host",
            format!("{scheme}://example.com"),
        ));
    }
    if let Some(domain) = text.strip_prefix("*.") {
        if domain.contains('*') {
            return Err(invalid(
                "a wildcard is allowed only as the first label (`*.example.com`)",
                format!("{scheme}://*.example.com"),
            ));
        }
        return match Host::parse(domain) {
            Ok(Host::Domain(d)) if !d.is_empty() => Ok(HostPattern::Subdomains(format!(".{d}"))),
            _ => Err(invalid(
                format!("{domain:?} is not a domain name"),
                format!("{scheme}://*.example.com"),
            )),
        };
    }
    if text.contains('*') {
        return Err(invalid(
            "a wildcard may only be the whole host (`*`) or the first label (`*.example.com`)",
            format!("{scheme}://*.example.com"),
        ));
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(HostPattern::Ip(ip));
    }
    match Host::parse(text) {
        Ok(Host::Domain(d)) => Ok(HostPattern::Domain(d)),
        Ok(Host::Ipv4(ip)) => Ok(HostPattern::Ip(IpAddr::V4(ip))),
        Ok(Host::Ipv6(ip)) => Ok(HostPattern::Ip(IpAddr::V6(ip))),
        Err(e) => Err(invalid(
            format!("{text:?} is not a valid host name ({e})"),
            format!("{scheme}://example.com"),
        )),
    }
}

fn parse_port(
    text: &str,
    scheme: &SchemePattern,
    scheme_shown: &str,
    host_shown: &str,
) -> Result<PortPattern, Invalid> {
    let text = text.trim();
    let example = |port: &str| format!("{scheme_shown}://{host_shown}:{port}");
    if text.is_empty() {
        let default = match scheme {
            SchemePattern::Exact(s) => AllowedHosts::default_port(s),
            SchemePattern::Any => None,
        };
        return default.map(PortPattern::Exact).ok_or_else(|| {
            invalid(
                format!("no port is given and the scheme `{scheme_shown}` has no default port"),
                example("8080"),
            )
        });
    }
    if text == "*" {
        return Ok(PortPattern::Any);
    }
    if text.starts_with('{') {
        return Err(invalid(
            "port lists are not supported; use a range or one entry per port",
            example("8000..8010"),
        ));
    }
    if let Some((start, end)) = text.split_once("..") {
        return match (parse_port_number(start), parse_port_number(end)) {
            (Some(start), Some(end)) => Ok(PortPattern::Range { start, end }),
            _ => Err(invalid(
                format!(
                    "port range {text:?} must be two port numbers `start..end` (end exclusive)"
                ),
                example("8000..8010"),
            )),
        };
    }
    if let Some((start, end)) = text.split_once('-') {
        if let (Some(start), Some(end)) = (parse_port_number(start), parse_port_number(end)) {
            let end = end.saturating_add(1);
            return Err(invalid(
                format!("port range {text:?} must be written `start..end` with an exclusive end"),
                example(&format!("{start}..{end}")),
            ));
        }
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return parse_port_number(text)
            .map(PortPattern::Exact)
            .ok_or_else(|| invalid(format!("port {text} is out of range"), example("8080")));
    }
    Err(invalid(
        format!("port {text:?} is not a number, `*` or a range"),
        example("8080"),
    ))
}

fn parse_port_number(text: &str) -> Option<u16> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests;
