//! Image references as the plugin checks them (`github.com/novln/docker-parser`,
//! which carries an old copy of docker/distribution's reference grammar):
//!
//! ```text
//! reference := name [ ":" tag ] [ "@" digest ]
//! name      := [hostname "/"] component ("/" component)*
//! hostname  := hostcomponent ("." hostcomponent)* [":" port]
//! component := [a-z0-9]+ (separator [a-z0-9]+)*     separator := [._] | "__" | "-"+
//! tag       := [\w][\w.-]{0,127}
//! digest    := algorithm ":" hex   (sha256/sha384/sha512 with the exact hex length)
//! ```
//!
//! plus: an `http://` or `https://` prefix is dropped first, the name is at most
//! 255 characters, a repository path under Docker Hub must be lowercase, and a
//! name that is a bare 64-hex image id is refused. The app name is the last
//! `/`-separated segment of the repository path (`ghcr.io/a/b/app:v1` → `app`).

/// The SpinApp name `spin kube scaffold` derives from `--from`, or `None` when
/// the plugin would call the reference invalid.
pub fn app_name(reference: &str) -> Option<String> {
    let name = parse_name(reference)?;
    let last = name.rsplit('/').next().unwrap_or(name);
    Some(last.to_string())
}

/// Validates the whole reference and returns its name part (no tag, no digest).
fn parse_name(reference: &str) -> Option<&str> {
    let r = reference
        .strip_prefix("http://")
        .or_else(|| reference.strip_prefix("https://"))
        .unwrap_or(reference);

    let (name_and_tag, digest) = match r.split_once('@') {
        Some((nt, d)) => (nt, Some(d)),
        None => (r, None),
    };
    if let Some(d) = digest {
        if !valid_digest(d) {
            return None;
        }
    }
    // A tag never contains '/' (or ':'), so the last ':' with no '/' after it
    // starts the tag; any other ':' belongs to a registry port.
    let (name, tag) = match name_and_tag.rfind(':') {
        Some(i) if !name_and_tag[i + 1..].contains('/') => {
            (&name_and_tag[..i], Some(&name_and_tag[i + 1..]))
        }
        _ => (name_and_tag, None),
    };
    if let Some(t) = tag {
        if !valid_tag(t) {
            return None;
        }
    }
    if name.is_empty() || name.len() > 255 || !valid_name(name) {
        return None;
    }
    normalize_ok(name).then_some(name)
}

fn valid_name(name: &str) -> bool {
    let segments: Vec<&str> = name.split('/').collect();
    let all_components = |s: &[&str]| s.iter().all(|c| valid_component(c));
    all_components(&segments)
        || (segments.len() >= 2 && valid_hostname(segments[0]) && all_components(&segments[1..]))
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or one or more `-`.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_hostname(h: &str) -> bool {
    let (host, port) = match h.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (h, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|x| x.is_ascii_digit()) {
            return false;
        }
    }
    host.split('.').all(|part| {
        let b = part.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
    })
}

fn valid_tag(t: &str) -> bool {
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

fn valid_digest(d: &str) -> bool {
    let Some((algorithm, hex)) = d.split_once(':') else {
        return false;
    };
    // algorithm := [A-Za-z][A-Za-z0-9]* ([-_+.] [A-Za-z][A-Za-z0-9]*)*
    let algorithm_ok = algorithm.split(['-', '_', '+', '.']).all(|part| {
        let b = part.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(|x| x.is_ascii_alphanumeric())
    });
    let expected_len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    algorithm_ok && hex.len() == expected_len && hex.bytes().all(|x| x.is_ascii_hexdigit())
}

/// docker's `splitHostname` + `normalize` + `validateName`: the first segment
/// is a registry only if it has a '.' or ':' or is `localhost`; otherwise the
/// whole name is a Docker Hub path and must be lowercase; Docker Hub names
/// lose their `library/` prefix and must not be a 64-hex image id.
fn normalize_ok(name: &str) -> bool {
    let (host, remote) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest),
        _ => ("docker.io", name),
    };
    let docker_hub = host == "docker.io" || host == "index.docker.io";
    let remote_full = if docker_hub && !remote.contains('/') {
        format!("library/{remote}")
    } else {
        remote.to_string()
    };
    if remote_full.to_lowercase() != remote_full {
        return false;
    }
    let normalized = if docker_hub {
        remote_full
            .strip_prefix("library/")
            .unwrap_or(&remote_full)
            .to_string()
    } else {
        name.to_string()
    };
    let is_image_id = normalized.len() == 64
        && normalized
            .bytes()
            .all(|x| x.is_ascii_digit() || (b'a'..=b'f').contains(&x));
    !is_image_id && !normalized.is_empty()
}

#[cfg(test)]
mod tests {
    use super::app_name;

    /// The plugin's own table (pkg/cmd/scaffold_test.go, TestGetNameFromImageReference).
    #[test]
    fn names_from_the_plugin_tests() {
        for (reference, name) in [
            ("bacongobbler/hello-rust", "hello-rust"),
            ("bacongobbler/hello-rust:v1.0.0", "hello-rust"),
            ("ghcr.io/bacongobbler/hello-rust", "hello-rust"),
            ("ghcr.io/bacongobbler/hello-rust:v1.0.0", "hello-rust"),
            (
                "ghcr.io/spinkube/spinkube/runtime-class-manager:v1",
                "runtime-class-manager",
            ),
            ("nginx:latest", "nginx"),
            ("nginx", "nginx"),
            (
                "ttl.sh/hello-spinkube@sha256:cc4b191d11728b4e9e024308f0c03aded893da2002403943adc9deb8c4ca1644",
                "hello-spinkube",
            ),
        ] {
            assert_eq!(app_name(reference).as_deref(), Some(name), "{reference}");
        }
    }

    #[test]
    fn more_valid_references() {
        for (reference, name) in [
            ("localhost:5000/foo/bar:1.1", "bar"),
            ("localhost/app", "app"),
            ("Registry.Example.com:443/team/app", "app"),
            ("https://localhost.localdomain:5000/foo/bar:latest", "bar"),
            ("http://ghcr.io/a/b", "b"),
            ("docker.io/library/nginx", "nginx"),
            ("index.docker.io/nginx", "nginx"),
            ("a__b/c-----d/e.f_g", "e.f_g"),
            ("foo.com", "foo.com"),
            ("app:5000", "app"),
            ("ghcr.io/a/app:v1@sha256:cc4b191d11728b4e9e024308f0c03aded893da2002403943adc9deb8c4ca1644", "app"),
        ] {
            assert_eq!(app_name(reference).as_deref(), Some(name), "{reference}");
        }
    }

    #[test]
    fn invalid_references() {
        for reference in [
            "",
            "invalid image reference!",
            "sftp://user:passwd@example.com/foo/bar:latest",
            "Foo/bar",
            "ghcr.io/Foo/bar",
            "ghcr.io/foo/bar:",
            "ghcr.io/foo/bar:-v1",
            "ghcr.io//bar",
            "ghcr.io/foo/",
            "/foo",
            "foo..bar",
            "foo___bar",
            "foo-",
            "foo@sha256:abc",
            "foo@md5:cc4b191d11728b4e9e024308f0c03aded893da2002403943adc9deb8c4ca1644",
            "foo@sha256:cc4b191d11728b4e9e024308f0c03aded893da2002403943adc9deb8c4ca164",
            "cc4b191d11728b4e9e024308f0c03aded893da2002403943adc9deb8c4ca1644",
            "ghcr.io:/foo",
            "-host.io/foo",
        ] {
            assert_eq!(app_name(reference), None, "{reference:?}");
        }
        let long = format!("ghcr.io/{}", "a".repeat(250));
        assert_eq!(app_name(&long), None);
    }
}
