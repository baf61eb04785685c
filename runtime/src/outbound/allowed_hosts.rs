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
    pub scheme: &'a str,
    pub host: &'a str,
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
    Template { entry: String, message: String },

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
    InvalidLegacyHttpHost { entry: String, reason: String },
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
    NotGranted { address: String, suggestion: String },
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
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// A renderer for lists that should contain no templates.
    fn no_templates(entry: &str) -> Result<String, String> {
        Err(format!("unexpected template {entry:?}"))
    }

    fn owned(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|s| s.to_string()).collect()
    }

    fn parse(entries: &[&str]) -> AllowedHosts {
        match AllowedHosts::parse(&owned(entries), &no_templates) {
            Ok(hosts) => hosts,
            Err(e) => panic!("{entries:?} should parse: {e}"),
        }
    }

    fn parse_one(entry: &str) -> Entry {
        let hosts = parse(&[entry]);
        assert_eq!(hosts.entries.len(), 1);
        hosts.entries[0].clone()
    }

    fn parse_err(entries: &[&str]) -> AllowedHostsError {
        match AllowedHosts::parse(&owned(entries), &no_templates) {
            Ok(hosts) => panic!("{entries:?} should not parse, got {hosts:?}"),
            Err(e) => e,
        }
    }

    fn domain(d: &str) -> HostPattern {
        HostPattern::Domain(d.to_owned())
    }

    fn exact(s: &str) -> SchemePattern {
        SchemePattern::Exact(s.to_owned())
    }

    fn cidr(s: &str) -> HostPattern {
        HostPattern::Cidr(s.parse().expect("test CIDR"))
    }

    #[test]
    fn default_ports_match_spin() {
        // One row per line keeps the table readable.
        #[rustfmt::skip]
        let table: &[(&str, Option<u16>)] = &[
            ("http", Some(80)),
            ("https", Some(443)),
            ("redis", Some(6379)),
            ("mysql", Some(3306)),
            ("postgres", Some(5432)),
            ("mqtt", Some(1883)),
            // Spin has no default for these, so entries must give a port.
            ("rediss", None),
            ("mqtts", None),
            ("tcp", None),
            ("udp", None),
            ("*", None),
            ("", None),
        ];
        for (scheme, port) in table {
            assert_eq!(AllowedHosts::default_port(scheme), *port, "{scheme}");
        }
    }

    #[test]
    fn valid_entries_parse_to_expected_patterns() {
        use HostPattern as H;
        use PortPattern as P;
        use SchemePattern as S;
        let v4 = |a, b, c, d| H::Ip(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
        // One row per line keeps the table readable.
        #[rustfmt::skip]
        let table: Vec<(&str, SchemePattern, HostPattern, PortPattern)> = vec![
            // Default ports per scheme.
            ("http://spin.fermyon.dev", exact("http"), domain("spin.fermyon.dev"), P::Exact(80)),
            ("https://spin.fermyon.dev", exact("https"), domain("spin.fermyon.dev"), P::Exact(443)),
            ("redis://cache", exact("redis"), domain("cache"), P::Exact(6379)),
            ("mysql://db.example.com", exact("mysql"), domain("db.example.com"), P::Exact(3306)),
            ("postgres://pg", exact("postgres"), domain("pg"), P::Exact(5432)),
            ("mqtt://broker", exact("mqtt"), domain("broker"), P::Exact(1883)),
            // An empty path is tolerated, and so (as in Spin) is an empty port.
            ("http://example.com:", exact("http"), domain("example.com"), P::Exact(80)),
            ("http://spin.fermyon.dev/", exact("http"), domain("spin.fermyon.dev"), P::Exact(80)),
            ("http://spin.fermyon.dev:4444/", exact("http"), domain("spin.fermyon.dev"), P::Exact(4444)),
            // Explicit ports, wildcards and ranges.
            ("https://spin.fermyon.dev:5555", exact("https"), domain("spin.fermyon.dev"), P::Exact(5555)),
            ("rediss://cache:6380", exact("rediss"), domain("cache"), P::Exact(6380)),
            ("tcp://127.0.0.1:5000", exact("tcp"), v4(127, 0, 0, 1), P::Exact(5000)),
            ("http://127.0.0.1:*", exact("http"), v4(127, 0, 0, 1), P::Any),
            ("http://spin.fermyon.dev:4444..5555", exact("http"), domain("spin.fermyon.dev"), P::Range { start: 4444, end: 5555 }),
            ("*://spin.fermyon.dev:7777", S::Any, domain("spin.fermyon.dev"), P::Exact(7777)),
            ("*://example.com:4567", S::Any, domain("example.com"), P::Exact(4567)),
            ("*://*:*", S::Any, H::Any, P::Any),
            ("https://*:*", exact("https"), H::Any, P::Any),
            ("http://*", exact("http"), H::Any, P::Exact(80)),
            // Hosts: localhost, IPs, subdomain wildcards, self.
            ("http://localhost", exact("http"), domain("localhost"), P::Exact(80)),
            ("http://localhost:3001", exact("http"), domain("localhost"), P::Exact(3001)),
            ("http://192.168.1.1", exact("http"), v4(192, 168, 1, 1), P::Exact(80)),
            ("http://192.168.1.1:3002", exact("http"), v4(192, 168, 1, 1), P::Exact(3002)),
            ("http://[::1]:8001", exact("http"), H::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)), P::Exact(8001)),
            ("http://[::1]", exact("http"), H::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)), P::Exact(80)),
            ("http://*.example.com", exact("http"), H::Subdomains(".example.com".into()), P::Exact(80)),
            ("http://*.spin.internal", exact("http"), H::Subdomains(".spin.internal".into()), P::Exact(80)),
            ("http://self", exact("http"), H::ToSelf, P::Exact(80)),
            ("https://self.alt", exact("https"), H::ToSelf, P::Exact(443)),
            // CIDR blocks, IPv4 and IPv6; host bits are truncated like Spin.
            ("*://127.0.0.0/24:80", S::Any, cidr("127.0.0.0/24"), P::Exact(80)),
            ("*://127.0.0.1/24:63551", S::Any, cidr("127.0.0.0/24"), P::Exact(63551)),
            ("https://192.168.1.0/24", exact("https"), cidr("192.168.1.0/24"), P::Exact(443)),
            ("postgres://10.0.0.0/8", exact("postgres"), cidr("10.0.0.0/8"), P::Exact(5432)),
            ("*://ff00::/8:80", S::Any, cidr("ff00::/8"), P::Exact(80)),
            ("https://fd00::/8", exact("https"), cidr("fd00::/8"), P::Exact(443)),
            ("https://[2001:db8::/32]:*", exact("https"), cidr("2001:db8::/32"), P::Any),
            // Normalization: surrounding space, case, punycode.
            ("  https://Example.COM  ", exact("https"), domain("example.com"), P::Exact(443)),
            ("HTTPS://example.com", exact("https"), domain("example.com"), P::Exact(443)),
            ("https://bücher.example", exact("https"), domain("xn--bcher-kva.example"), P::Exact(443)),
        ];
        for (entry, scheme, host, port) in table {
            let parsed = parse_one(entry);
            assert_eq!(
                (&parsed.scheme, &parsed.host, &parsed.port),
                (&scheme, &host, &port),
                "{entry}"
            );
        }
    }

    #[test]
    fn invalid_entries_are_rejected_naming_the_entry_and_an_example() {
        // (entry, fragment of the reason, example that must be shown)
        // One row per line keeps the table readable.
        #[rustfmt::skip]
        let table: &[(&str, &str, &str)] = &[
            ("spin.fermyon.dev", "scheme is missing", "https://spin.fermyon.dev"),
            ("spin.fermyon.dev:80", "scheme is missing", "https://spin.fermyon.dev:80"),
            ("localhost:3001", "scheme is missing", "https://localhost:3001"),
            ("*", "does not name a destination", "https://example.com"),
            ("", "does not name a destination", "https://example.com"),
            ("://example.com:80", "scheme is empty", "https://example.com:80"),
            ("h2c://example.com:80", "only letters", "https://example.com:80"),
            ("{http,https}://example.com", "scheme lists", "https://example.com"),
            ("http://spin.fermyon.dev/a", "path", "http://spin.fermyon.dev"),
            ("http://spin.fermyon.dev:6666/a/b", "path", "http://spin.fermyon.dev:6666"),
            ("http://*.fermyon.dev/a", "path", "http://*.fermyon.dev"),
            ("https://example.com?x=1", "query", "https://example.com"),
            ("https://example.com#top", "fragment", "https://example.com"),
            ("mysql://user:pw@db.example.com", "credentials", "mysql://db.example.com"),
            ("*://127.0.0.0/24", "no default port", "*://127.0.0.0/24:8080"),
            ("*://example.com", "no default port", "*://example.com:8080"),
            ("*://self", "no default port", "*://self:8080"),
            ("tcp://127.0.0.1", "no default port", "tcp://127.0.0.1:8080"),
            ("rediss://cache.example.com", "no default port", "rediss://cache.example.com:8080"),
            ("http://example.com:http", "not a number", "http://example.com:8080"),
            ("http://example.com:70000", "out of range", "http://example.com:8080"),
            ("http://example.com:8000-8010", "exclusive end", "http://example.com:8000..8011"),
            ("http://example.com:8000..", "port range", "http://example.com:8000..8010"),
            ("http://example.com:{80,443}", "port lists", "http://example.com:8000..8010"),
            ("http://", "host is missing", "http://example.com"),
            ("http://:80", "host is missing", "http://example.com"),
            ("http://{a,b}.com", "host lists", "http://example.com"),
            ("http://*example.com", "wildcard", "http://*.example.com"),
            ("http://a.*.example.com", "wildcard", "http://*.example.com"),
            ("http://*.*.example.com", "first label", "http://*.example.com"),
            ("http://*.", "not a domain name", "http://*.example.com"),
            ("http://*.10.0.0.1", "not a domain name", "http://*.example.com"),
            ("http://::1", "brackets", "http://[::1]"),
            ("http://2001:db8::1", "brackets", "http://[2001:db8::1]"),
            ("http://example.com:80:90", "only one `:`", "http://example.com:8080"),
            ("http://[::1", "closing", "http://[::1]:8080"),
            ("http://[::1]x", "after the IPv6", "http://[::1]:8080"),
            ("http://[example.com]", "not an IPv6", "http://[::1]:8080"),
            ("*://10.0.0.0/33:80", "CIDR", "*://10.0.0.0/8:*"),
            ("http://exa mple.com", "not a valid host", "http://example.com"),
        ];
        for (entry, reason_part, example) in table {
            let err = parse_err(&[entry]);
            let AllowedHostsError::InvalidEntry {
                entry: named,
                reason,
                example: shown,
            } = &err
            else {
                panic!("{entry:?}: unexpected error {err:?}");
            };
            assert_eq!(named, entry);
            assert!(reason.contains(reason_part), "{entry:?}: reason {reason:?}");
            assert_eq!(shown, example, "{entry:?}");
            let message = err.to_string();
            assert!(message.contains(&format!("{entry:?}")), "{message}");
            assert!(message.contains(&format!("{example:?}")), "{message}");
            assert!(message.contains(LEARN_MORE), "{message}");
            // Every example offered must itself be a valid entry.
            parse(&[example]);
        }
    }

    #[test]
    fn one_bad_entry_fails_the_whole_list() {
        let err = parse_err(&["https://good.example.com", "bad.example.com"]);
        assert!(
            matches!(err, AllowedHostsError::InvalidEntry { ref entry, .. } if entry == "bad.example.com")
        );
    }

    #[test]
    fn insecure_allow_all_is_rejected_with_a_hint() {
        for list in [
            &["insecure:allow-all"][..],
            &["https://spin.fermyon.dev", "insecure:allow-all"][..],
        ] {
            let err = parse_err(list);
            assert_eq!(err, AllowedHostsError::InsecureAllowAll, "{list:?}");
            assert!(err.to_string().contains("*://*:*"));
        }
    }

    #[test]
    fn urls_are_matched_like_spin() {
        // (allowed_outbound_hosts, url, allowed?)
        // One row per line keeps the table readable.
        #[rustfmt::skip]
        let table: &[(&[&str], &str, bool)] = &[
            // Spin: specific hosts.
            (&["*://spin.fermyon.dev:443", "http://example.com:8383"], "http://example.com:8383/foo/bar", true),
            (&["*://spin.fermyon.dev:443", "http://example.com:8383"], "https://spin.fermyon.dev", true),
            (&["*://spin.fermyon.dev:443", "http://example.com:8383"], "https://spin.fermyon.dev/", true),
            (&["*://spin.fermyon.dev:443", "http://example.com:8383"], "http://example.com/", false),
            (&["*://spin.fermyon.dev:443", "http://example.com:8383"], "http://google.com/", false),
            // Spin: trailing slash in the entry.
            (&["https://my.api.com/"], "https://my.api.com", true),
            (&["https://my.api.com/"], "https://my.api.com/", true),
            // Spin: subdomain wildcards cover subdomains only, not the apex.
            (&["http://*.example.com", "http://*.example2.com:8383"], "http://a.example.com/foo/bar", true),
            (&["http://*.example.com", "http://*.example2.com:8383"], "http://a.b.example.com/foo/bar", true),
            (&["http://*.example.com", "http://*.example2.com:8383"], "http://a.b.example2.com:8383/foo/bar", true),
            (&["http://*.example.com", "http://*.example2.com:8383"], "http://a.b.example2.com/foo/bar", false),
            (&["http://*.example.com", "http://*.example2.com:8383"], "http://example.com/foo/bar", false),
            (&["http://*.example.com", "http://*.example2.com:8383"], "http://example.com:8383/foo/bar", false),
            (&["http://*.example.com", "http://*.example2.com:8383"], "http://myexample.com/foo/bar", false),
            // Spin: credentials with '#' in database URLs.
            (&["mysql://xyz.com"], "mysql://user:pass#word@xyz.com", true),
            (&["mysql://xyz.com"], "mysql://user%3Apass%23word@xyz.com", true),
            (&["mysql://xyz.com"], "mysql://user:p@ss@xyz.com/db", true),
            (&["mysql://xyz.com"], "mysql://xyz.com@evil.com", false),
            // Spin: '@' in a path is not userinfo.
            (&["https://example.com"], "https://example.com/file@0.1.0.json", true),
            (&["https://example.com"], "https://user:password@example.com/file@0.1.0.json", true),
            // Spin: CIDR with host bits set.
            (&["*://127.0.0.1/24:63551"], "tcp://127.0.0.1:63551", true),
            (&["*://127.0.0.1/24:63551"], "tcp://127.0.0.200:63551", true),
            (&["*://127.0.0.1/24:63551"], "tcp://127.0.1.1:63551", false),
            // Default ports: an entry without a port means the default only.
            (&["https://api.example.com"], "https://api.example.com:443/x", true),
            (&["https://api.example.com"], "https://api.example.com:8443/x", false),
            (&["http://api.example.com"], "https://api.example.com/", false),
            (&["redis://cache"], "redis://cache", true),
            (&["redis://cache"], "redis://cache:6379", true),
            (&["redis://cache"], "redis://cache:6380", false),
            (&["postgres://db"], "postgres://u:p@db/app", true),
            (&["mqtt://broker"], "mqtt://broker:1883", true),
            // Port ranges are end-exclusive, exactly like Spin's Range<u16>.
            (&["http://example.com:8000..8010"], "http://example.com:8000/", true),
            (&["http://example.com:8000..8010"], "http://example.com:8009/", true),
            (&["http://example.com:8000..8010"], "http://example.com:8010/", false),
            (&["http://example.com:8000..8010"], "http://example.com/", false),
            // Spin accepts an inverted range, which then matches nothing.
            (&["http://example.com:8010..8000"], "http://example.com:8005/", false),
            // Wildcards.
            (&["*://*:*"], "https://anything.example:1234/x", true),
            (&["*://*:*"], "redis://10.1.2.3", true),
            (&["https://*:*"], "http://example.com", false),
            (&["http://127.0.0.1:*"], "http://127.0.0.1:3000/", true),
            (&["http://127.0.0.1:*"], "http://localhost:3000/", false),
            // Case-insensitive hosts and schemes.
            (&["https://Example.com"], "HTTPS://EXAMPLE.COM/", true),
            (&["https://*.Example.com"], "https://API.example.com/", true),
            // IPv6.
            (&["http://[::1]:8001"], "http://[::1]:8001/", true),
            (&["http://[::1]:8001"], "http://[0:0::1]:8001/", true),
            (&["https://fd00::/8"], "https://[fd12::1]/", true),
            (&["https://fd00::/8"], "https://[fe80::1]/", false),
            (&["https://10.0.0.0/8"], "https://10.255.0.1/", true),
            (&["https://10.0.0.0/8"], "https://example.com/", false),
            // No name resolution: IP entries do not allow names and vice versa.
            (&["http://127.0.0.1"], "http://localhost/", false),
            (&["http://localhost"], "http://127.0.0.1/", false),
            // Unparseable or schemeless URLs fail closed.
            (&["*://*:*"], "example.com:80", false),
            (&["*://*:*"], "http://", false),
            (&["*://*:*"], "", false),
        ];
        for (entries, url, expected) in table {
            let hosts = parse(entries);
            assert_eq!(hosts.allows_url(url), *expected, "{entries:?} vs {url}");
        }
    }

    #[test]
    fn targets_are_matched_like_spin() {
        let t = OutboundTarget::new;
        // (allowed_outbound_hosts, target, allowed?)
        // One row per line keeps the table readable.
        #[rustfmt::skip]
        let table: &[(&[&str], OutboundTarget, bool)] = &[
            (&["*://spin.fermyon.dev:443"], t("https", "spin.fermyon.dev", None), true),
            (&["http://example.com:8383"], t("http", "example.com", Some(8383)), true),
            // Socket-style targets (wasi-sockets uses tcp/udp schemes).
            (&["*://127.0.0.0/24:80"], t("tcp", "127.0.0.5", Some(80)), true),
            (&["*://127.0.0.0/24:80"], t("udp", "127.0.0.5", Some(81)), false),
            (&["tcp://[::1]:*"], t("tcp", "::1", Some(9000)), true),
            (&["tcp://[::1]:*"], t("tcp", "[::1]", Some(9000)), true),
            // No port on a scheme without a default: only a `*` port matches.
            (&["tcp://example.com:80"], t("tcp", "example.com", None), false),
            (&["tcp://example.com:*"], t("tcp", "example.com", None), true),
            // Explicit default port equals an omitted one.
            (&["https://example.com:443"], t("https", "example.com", None), true),
            (&["https://example.com"], t("https", "example.com", Some(443)), true),
            // `self` never matches an actual host name.
            (&["http://self"], t("http", "self", None), false),
            (&["http://self"], t("http", "example.com", None), false),
            // Invalid target hosts are denied.
            (&["*://*:*"], t("http", "exa mple.com", None), false),
        ];
        for (entries, target, expected) in table {
            assert_eq!(
                parse(entries).allows(target),
                *expected,
                "{entries:?} vs {target:?}"
            );
        }
    }

    #[test]
    fn none_and_empty_lists_allow_nothing() {
        let everything = [
            "http://example.com",
            "https://127.0.0.1",
            "redis://cache",
            "/relative",
            "http://self.alt/api",
            "http://authz.spin.internal/",
        ];
        for hosts in [AllowedHosts::none(), parse(&[])] {
            assert!(hosts.is_empty());
            assert!(!hosts.allows_self());
            for url in everything {
                assert!(!hosts.allows_url(url), "{url}");
            }
        }
    }

    #[test]
    fn templates_are_rendered_before_parsing() {
        let vars = HashMap::from([
            ("api_host", "api.example.com"),
            ("db_port", "5433"),
            ("junk", "api.example.com/path"),
        ]);
        let render = |entry: &str| -> Result<String, String> {
            // A tiny `{{ name }}` renderer standing in for Spin's expressions.
            let mut out = String::new();
            let mut rest = entry;
            while let Some(start) = rest.find("{{") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                let end = after.find("}}").ok_or("unterminated template")?;
                let name = after[..end].trim();
                out.push_str(vars.get(name).ok_or(format!("no variable {name:?}"))?);
                rest = &after[end + 2..];
            }
            out.push_str(rest);
            Ok(out)
        };

        let hosts = AllowedHosts::parse(
            &owned(&["https://{{ api_host }}", "postgres://db:{{db_port}}"]),
            &render,
        )
        .expect("templates render");
        assert!(hosts.allows_url("https://api.example.com/v1"));
        assert!(hosts.allows_url("postgres://db:5433/app"));
        assert!(!hosts.allows_url("postgres://db/app"));

        let err = AllowedHosts::parse(&owned(&["https://{{ missing }}"]), &render).unwrap_err();
        assert_eq!(
            err,
            AllowedHostsError::Template {
                entry: "https://{{ missing }}".into(),
                message: "no variable \"missing\"".into()
            }
        );
        assert!(err.to_string().contains("https://{{ missing }}"));

        let err = AllowedHosts::parse(&owned(&["https://{{ junk }}"]), &render).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("https://{{ junk }}"), "{message}");
        assert!(
            message.contains("https://api.example.com/path"),
            "{message}"
        );
        assert!(message.contains("path"), "{message}");

        // Entries without templates never reach the renderer.
        let hosts = AllowedHosts::parse(&owned(&["https://plain.example.com"]), &no_templates);
        assert!(hosts.is_ok());
    }

    #[test]
    fn self_requests_follow_spin() {
        // (allowed_outbound_hosts, allows_self?)
        // One row per line keeps the table readable.
        #[rustfmt::skip]
        let table: &[(&[&str], bool)] = &[
            (&["http://self"], true),
            (&["https://self"], true),
            (&["https://self.alt"], true),
            (&["http://self:3000"], true),
            (&["*://self:*"], true),
            (&["*://*:*"], true),
            (&["http://*"], true),
            (&["redis://self"], false),
            (&["http://*.spin.internal"], false),
            (&["http://authz.spin.internal"], false),
            (&["https://example.com"], false),
            (&[], false),
        ];
        for (entries, expected) in table {
            let hosts = parse(entries);
            assert_eq!(hosts.allows_self(), *expected, "{entries:?}");
            // Relative URLs and the self.alt pseudo-host are self-requests,
            // whichever of http/https they use.
            for url in ["/api/users", "http://self.alt/api", "https://self.alt/api"] {
                assert_eq!(hosts.allows_url(url), *expected, "{entries:?} vs {url}");
            }
            let relative = OutboundTarget::new("http", "", None);
            assert_eq!(hosts.allows(&relative), *expected, "{entries:?}");
        }
        // `redis://self.alt` is not an HTTP self-request, so `self` cannot
        // grant it; only a host wildcard matches the literal name.
        assert!(!parse(&["http://self", "redis://self"]).allows_url("redis://self.alt"));
    }

    #[test]
    fn service_chaining_hosts_are_recognized() {
        // One row per line keeps the table readable.
        #[rustfmt::skip]
        let table: &[(&str, Option<&str>)] = &[
            ("authz.spin.internal", Some("authz")),
            ("my-component.spin.internal:80", Some("my-component")),
            ("Reporting.SPIN.internal", Some("Reporting")),
            ("*.spin.internal", Some("*")),
            ("a.b.spin.internal", None),
            ("spin.internal", None),
            (".spin.internal", None),
            ("authz.spin.internal.example.com", None),
            ("example.com", None),
            ("[::1]:80", None),
            ("", None),
        ];
        for (host, expected) in table {
            assert_eq!(is_service_chaining_host(host), *expected, "{host}");
        }
    }

    #[test]
    fn service_chaining_is_permitted_by_ordinary_entries() {
        let hosts = parse(&[
            "http://authz.spin.internal",
            "https://reporting.spin.internal",
        ]);
        assert!(hosts.allows_url("http://authz.spin.internal/check"));
        assert!(hosts.allows_url("https://reporting.spin.internal/"));
        assert!(!hosts.allows_url("http://billing.spin.internal/"));
        // As in Spin, the entry's scheme is checked like any other entry.
        assert!(!hosts.allows_url("https://authz.spin.internal/"));

        let wildcard = parse(&["http://*.spin.internal"]);
        assert!(wildcard.allows_url("http://authz.spin.internal/"));
        assert!(wildcard.allows_url("http://billing.spin.internal/"));
        assert!(!wildcard.allows_url("http://spin.internal/"));
    }

    #[test]
    fn suggestions_are_valid_entries_that_allow_the_target() {
        let t = OutboundTarget::new;
        // One row per line keeps the table readable.
        #[rustfmt::skip]
        let table: &[(OutboundTarget, &str)] = &[
            (t("https", "api.example.com", Some(8443)), "https://api.example.com:8443"),
            (t("https", "api.example.com", Some(443)), "https://api.example.com"),
            (t("https", "api.example.com", None), "https://api.example.com"),
            (t("http", "API.Example.com", Some(80)), "http://api.example.com"),
            (t("redis", "cache", Some(6379)), "redis://cache"),
            (t("rediss", "cache", Some(6380)), "rediss://cache:6380"),
            (t("mysql", "db", None), "mysql://db"),
            (t("tcp", "10.0.0.1", Some(5000)), "tcp://10.0.0.1:5000"),
            (t("tcp", "10.0.0.1", None), "tcp://10.0.0.1:*"),
            (t("http", "::1", Some(8080)), "http://[::1]:8080"),
            (t("http", "[::1]", Some(8080)), "http://[::1]:8080"),
            (t("http", "authz.spin.internal", None), "http://authz.spin.internal"),
            (t("https", "self.alt", None), "https://self"),
            (t("http", "", None), "http://self"),
        ];
        for (target, expected) in table {
            let suggestion = AllowedHosts::suggestion(target);
            assert_eq!(suggestion, *expected, "{target:?}");
            assert!(
                parse(&[&suggestion]).allows(target),
                "{suggestion} should allow {target:?}"
            );
        }
    }

    #[test]
    fn spin_documentation_examples() {
        // "Making HTTP Requests": specific hosts, default vs explicit ports.
        let hosts = parse(&[
            "https://random-data-api.fermyon.app",
            "http://api.example.com:8080",
        ]);
        assert!(hosts.allows_url("https://random-data-api.fermyon.app/animals/json"));
        assert!(hosts.allows_url("http://api.example.com:8080/x"));
        assert!(!hosts.allows_url("http://api.example.com/x"));
        assert!(!hosts.allows_url("https://random-data-api.fermyon.app:8443/"));
        // Subdomain wildcard.
        let hosts = parse(&["https://*.example.com"]);
        assert!(hosts.allows_url("https://www.example.com/"));
        assert!(!hosts.allows_url("https://example.com/"));
        // IPv4 CIDR.
        let hosts = parse(&["https://192.168.1.0/24"]);
        assert!(hosts.allows_url("https://192.168.1.77/"));
        assert!(!hosts.allows_url("https://192.168.2.1/"));
        // Development-time "anything over https".
        let hosts = parse(&["https://*:*"]);
        assert!(hosts.allows_url("https://whatever.example:9999/"));
        assert!(!hosts.allows_url("http://whatever.example/"));
        // Manifest reference example.
        let hosts = parse(&[
            "mysql://db.example.com",
            "*://example.com:4567",
            "http://127.0.0.1:*",
        ]);
        assert!(hosts.allows_url("mysql://spin:spin@db.example.com/dev"));
        assert!(!hosts.allows_url("mysql://db.example.com:3307/dev"));
        assert!(hosts.allows_url("redis://example.com:4567"));
        assert!(hosts.allows_url("http://127.0.0.1:3000/"));
        assert!(!hosts.allows_url("https://127.0.0.1:3000/"));
        // Self-requests: "either form enables both relative and self.alt URLs".
        for entry in ["http://self", "https://self.alt"] {
            let hosts = parse(&[entry]);
            assert!(hosts.allows_url("/api"), "{entry}");
            assert!(hosts.allows_url("http://self.alt/api"), "{entry}");
        }
    }

    #[test]
    fn legacy_allowed_http_hosts_are_converted_like_spin() {
        // One row per line keeps the table readable.
        #[rustfmt::skip]
        let table: &[(&[&str], &[&str])] = &[
            (&[], &[]),
            (&["insecure:allow-all"], &["http://*:*", "https://*:*", "http://self"]),
            (&["example.com", "insecure:allow-all"], &["http://*:*", "https://*:*", "http://self"]),
            (&["self"], &["http://self"]),
            (&["example.com"], &["http://example.com", "https://example.com"]),
            (&["localhost:8081"], &["http://localhost:8081", "https://localhost:8081"]),
            (&["https://api.example.com/"], &["http://api.example.com", "https://api.example.com"]),
            (&["[::1]:3000"], &["http://[::1]:3000", "https://[::1]:3000"]),
        ];
        for (legacy, expected) in table {
            let converted = convert_allowed_http_hosts(&owned(legacy)).expect("converts");
            assert_eq!(converted, owned(expected), "{legacy:?}");
            // The result is always a valid allowed_outbound_hosts list.
            AllowedHosts::parse(&converted, &no_templates).expect("converted list parses");
        }
        for bad in ["example.com/path", "ftp://example.com", "http://"] {
            let err = convert_allowed_http_hosts(&owned(&[bad])).unwrap_err();
            assert!(
                matches!(err, AllowedHostsError::InvalidLegacyHttpHost { ref entry, .. } if entry == bad),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().contains("localhost:8081"));
        }
    }

    #[test]
    fn display_lists_entries_as_written() {
        let hosts = parse(&["https://Example.com", "redis://cache:*"]);
        assert_eq!(
            hosts.to_string(),
            r#"["https://Example.com", "redis://cache:*"]"#
        );
        assert_eq!(
            hosts.entries().collect::<Vec<_>>(),
            ["https://Example.com", "redis://cache:*"]
        );
    }

    #[test]
    fn sockets_are_checked_as_tcp_and_udp_targets() {
        use std::net::SocketAddr;
        use wasmtime_wasi::sockets::SocketAddrUse as Use;
        let hosts = parse(&[
            "tcp://127.0.0.1:7000",
            "*://10.1.0.0/16:5000..5010",
            "udp://[::1]:53",
            "*://db.internal:5432",
        ]);
        let addr = |s: &str| s.parse::<SocketAddr>().expect("test address");
        let denied = |address: &str, suggestion: &str| {
            Err(SocketDenied::NotGranted {
                address: address.into(),
                suggestion: suggestion.into(),
            })
        };
        #[rustfmt::skip]
        let cases: &[(&str, Use, Result<(), SocketDenied>)] = &[
            ("127.0.0.1:7000", Use::TcpConnect, Ok(())),
            ("[::ffff:127.0.0.1]:7000", Use::TcpConnect, Ok(())),
            ("127.0.0.1:7001", Use::TcpConnect, denied("tcp://127.0.0.1:7001", "tcp://127.0.0.1:7001")),
            ("127.0.0.2:7000", Use::TcpConnect, denied("tcp://127.0.0.2:7000", "tcp://127.0.0.2:7000")),
            // `tcp://` does not grant UDP.
            ("127.0.0.1:7000", Use::UdpSend, denied("udp://127.0.0.1:7000", "udp://127.0.0.1:7000")),
            ("10.1.200.3:5009", Use::TcpConnect, Ok(())),
            ("10.1.200.3:5009", Use::UdpSend, Ok(())),
            ("10.1.200.3:5010", Use::TcpConnect, denied("tcp://10.1.200.3:5010", "tcp://10.1.200.3:5010")),
            ("10.2.0.1:5000", Use::TcpConnect, denied("tcp://10.2.0.1:5000", "tcp://10.2.0.1:5000")),
            ("[::1]:53", Use::UdpReceive, Ok(())),
            ("[::1]:53", Use::TcpConnect, denied("tcp://[::1]:53", "tcp://[::1]:53")),
            // The implicit bind before a connect or send is what every client socket does.
            ("0.0.0.0:0", Use::TcpBind, Ok(())),
            ("[::]:0", Use::UdpBind, Ok(())),
            // No inbound sockets, even on a granted address.
            ("127.0.0.1:7000", Use::TcpBind, Err(SocketDenied::Inbound)),
            ("0.0.0.0:0", Use::TcpListen, Err(SocketDenied::Inbound)),
            ("127.0.0.1:7000", Use::TcpAccept, Err(SocketDenied::Inbound)),
            ("10.1.0.1:5000", Use::UdpBind, Ok(())),
            ("0.0.0.0:5000", Use::UdpBind, denied("udp://0.0.0.0:5000", "udp://0.0.0.0:5000")),
        ];
        for (a, use_, want) in cases {
            assert_eq!(&hosts.check_socket(addr(a), *use_), want, "{a} {use_:?}");
        }
        // A name entry never grants the address it resolves to.
        assert!(hosts
            .check_socket(addr("127.0.0.1:5432"), Use::TcpConnect)
            .is_err());
        assert!(AllowedHosts::none()
            .check_socket(addr("127.0.0.1:80"), Use::TcpConnect)
            .is_err());
        let all = parse(&["*://*:*"]);
        assert_eq!(
            all.check_socket(addr("192.0.2.1:1"), Use::TcpConnect),
            Ok(())
        );
    }

    #[test]
    fn templated_socket_grants_are_rendered() {
        let vars: HashMap<&str, &str> = [("echo_port", "7400")].into();
        let render = |t: &str| {
            let name = t
                .trim_start_matches("tcp://127.0.0.1:{{")
                .trim_end_matches("}}")
                .trim();
            vars.get(name)
                .map(|v| format!("tcp://127.0.0.1:{v}"))
                .ok_or(format!("no {name}"))
        };
        let hosts = AllowedHosts::parse(&owned(&["tcp://127.0.0.1:{{ echo_port }}"]), &render)
            .expect("renders");
        let use_ = wasmtime_wasi::sockets::SocketAddrUse::TcpConnect;
        assert_eq!(
            hosts.check_socket("127.0.0.1:7400".parse().unwrap(), use_),
            Ok(())
        );
        assert!(hosts
            .check_socket("127.0.0.1:7401".parse().unwrap(), use_)
            .is_err());
    }

    #[test]
    fn name_lookups_only_for_named_hosts() {
        let hosts = parse(&[
            "postgres://db.internal",
            "tcp://*.example.com:80",
            "mqtt://10.0.0.1",
        ]);
        assert!(hosts.allows_name_lookup("db.internal"));
        assert!(hosts.allows_name_lookup("DB.Internal"));
        assert!(hosts.allows_name_lookup("a.example.com"));
        assert!(!hosts.allows_name_lookup("example.com"));
        assert!(!hosts.allows_name_lookup("localhost"));
        assert!(!hosts.allows_name_lookup("not a name"));
        // Literals resolve to themselves: nothing is looked up.
        assert!(hosts.allows_name_lookup("10.9.9.9"));
        assert!(parse(&["*://*:*"]).allows_name_lookup("anything.test"));
        assert!(!AllowedHosts::none().allows_name_lookup("localhost"));
        assert!(!parse(&["http://self"]).allows_name_lookup("self"));
    }
}
