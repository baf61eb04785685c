use super::*;

fn run(args: &[&str]) -> Result<ScaffoldOptions, String> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    match parse(&args)? {
        Parsed::Run(o) => Ok(*o),
        Parsed::Help => Err("help".into()),
    }
}

#[test]
fn defaults_are_the_plugins() {
    let o = run(&["-f", "x"]).unwrap();
    assert_eq!(o.replicas, 2);
    assert_eq!(o.max_replicas, 3);
    assert_eq!(o.target_cpu_utilization, 60);
    assert_eq!(o.target_memory_utilization, 60);
    assert_eq!(o.executor, "containerd-shim-spin");
    assert!(o.from_set);
    assert!(!run(&[]).unwrap().from_set);
}

#[test]
fn flag_spellings() {
    for args in [
        &["--from", "img", "--replicas", "5"][..],
        &["--from=img", "--replicas=5"],
        &["-f", "img", "-r", "5"],
        &["-fimg", "-r5"],
        &["-f=img", "-r=5"],
        &["extra", "-f", "img", "word", "-r", "0x5"],
    ] {
        let o = run(args).unwrap();
        assert_eq!((o.from.as_str(), o.replicas), ("img", 5), "{args:?}");
    }
    // `--` stops flag parsing.
    assert_eq!(run(&["-f", "a", "--", "-f", "b"]).unwrap().from, "a");
    // A flag's value may start with '-'.
    assert_eq!(run(&["--out", "-x"]).unwrap().out, "-x");
}

#[test]
fn slices_accumulate_and_split_on_commas() {
    let o = run(&[
        "-s",
        "a,b",
        "--image-pull-secret",
        "c",
        "--component=x",
        "--component",
        "y,z",
    ])
    .unwrap();
    assert_eq!(o.image_pull_secrets, ["a", "b", "c"]);
    assert_eq!(o.components, ["x", "y", "z"]);
    assert!(run(&["-s", ""]).unwrap().image_pull_secrets.is_empty());
}

#[test]
fn variables_merge() {
    let o = run(&[
        "-v",
        "foo=yoo",
        "--variable",
        "bar=yee,baz=1",
        "-v",
        "foo=x=y",
        "-v",
        "c=1,2",
    ])
    .unwrap();
    let got: Vec<(&str, &str)> = o
        .variables
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        got,
        [("bar", "yee"), ("baz", "1"), ("c", "1,2"), ("foo", "x=y")]
    );
    let o = run(&["-v", "\"k=v\""]).unwrap();
    assert_eq!(o.variables.get("k").map(String::as_str), Some("v"));
}

#[test]
fn errors_use_pflags_words() {
    assert_eq!(
        run(&["-v", "foo"]).unwrap_err(),
        "invalid argument \"foo\" for \"-v, --variable\" flag: foo must be formatted as key=value"
    );
    assert_eq!(
        run(&["-v", "a=1,b,c=2"]).unwrap_err(),
        "invalid argument \"a=1,b,c=2\" for \"-v, --variable\" flag: b must be formatted as key=value"
    );
    assert_eq!(
        run(&["--replicas", "two"]).unwrap_err(),
        "invalid argument \"two\" for \"-r, --replicas\" flag: strconv.ParseInt: parsing \"two\": invalid syntax"
    );
    assert_eq!(
        run(&["--max-replicas=3000000000"]).unwrap_err(),
        "invalid argument \"3000000000\" for \"--max-replicas\" flag: strconv.ParseInt: parsing \"3000000000\": value out of range"
    );
    assert_eq!(run(&["--nope"]).unwrap_err(), "unknown flag: --nope");
    assert_eq!(
        run(&["-x"]).unwrap_err(),
        "unknown shorthand flag: 'x' in -x"
    );
    assert_eq!(
        run(&["--from"]).unwrap_err(),
        "flag needs an argument: --from"
    );
    assert_eq!(
        run(&["-f"]).unwrap_err(),
        "flag needs an argument: 'f' in -f"
    );
    assert_eq!(run(&["---x"]).unwrap_err(), "bad flag syntax: ---x");
    assert_eq!(
        run(&["--azure-identity=maybe"]).unwrap_err(),
        "invalid argument \"maybe\" for \"--azure-identity\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax"
    );
}

#[test]
fn help_wins_after_a_clean_parse() {
    assert!(matches!(parse(&["-h".to_string()]), Ok(Parsed::Help)));
    assert!(parse(&["--help".to_string(), "--nope".to_string()]).is_err());
}

#[test]
fn usage_is_cobras_layout() {
    let u = usage("kube scaffold");
    assert!(u.starts_with("Usage:\n  kube scaffold [flags]\n\nFlags:\n      --autoscaler string "));
    // The widest name column gets three spaces before its usage, the rest align with it.
    let widest = "      --autoscaler-target-memory-utilization int32";
    assert!(u.contains(&format!("\n{widest}   The target memory utilization")));
    let col = widest.len() + 3;
    let line = |left: &str, right: &str| format!("\n{left:<col$}{right}\n");
    assert!(u.contains(&line("  -h, --help", "help for scaffold")));
    assert!(u.contains(&line(
        "      --executor string",
        "The executor used to run the application (default \"containerd-shim-spin\")"
    )));
    assert!(u.ends_with(&line(
        "  -v, --variable stringToString",
        "Application variable (name=value) to be provided to the application (default [])"
    )));
}
