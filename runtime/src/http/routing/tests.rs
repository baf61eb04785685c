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
