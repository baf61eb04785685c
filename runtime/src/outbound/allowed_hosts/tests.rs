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
