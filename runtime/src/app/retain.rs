//! Selective deployment (`SPIN_COMPONENTS_TO_RETAIN`): keep only some components of an app and
//! the triggers that lead to them, refusing a selection that would break service chaining.

use std::collections::BTreeSet;

use super::{AppError, LockedApp};
use crate::outbound::allowed_hosts::{convert_allowed_http_hosts, is_service_chaining_host};

/// Parses the comma-separated list the operator sets (empty entries ignored); `None` when the
/// list names nothing, which means "run every component".
pub fn parse_component_list(value: &str) -> Option<Vec<String>> {
    let ids: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    (!ids.is_empty()).then_some(ids)
}

/// The app with only `retained` components and the triggers whose component is one of them.
/// As Spin does, a retained component may not chain (`http://<id>.spin.internal`) to one that
/// is dropped, nor use wildcard chaining; templated hosts are not checked.
pub fn retain_components(mut app: LockedApp, retained: &[String]) -> Result<LockedApp, AppError> {
    let wanted: BTreeSet<&str> = retained.iter().map(String::as_str).collect();
    for id in &wanted {
        if app.component(id).is_none() {
            let known: Vec<&str> = app.components.iter().map(|c| c.id.as_str()).collect();
            return Err(AppError::Invalid(format!(
                "SPIN_COMPONENTS_TO_RETAIN names component `{id}`, which the app does not have (components: {}); fix the SpinApp's `components` list",
                known.join(", ")
            )));
        }
    }
    for id in &wanted {
        let Some(component) = app.component(id) else {
            continue;
        };
        let mut hosts = component.metadata_strings("allowed_outbound_hosts");
        hosts.extend(
            convert_allowed_http_hosts(&component.metadata_strings("allowed_http_hosts"))
                .unwrap_or_default(),
        );
        for host in hosts.iter().filter(|h| !h.contains("{{")) {
            let authority = host
                .split_once("://")
                .map_or(host.as_str(), |(_, rest)| rest);
            let authority = authority.split('/').next().unwrap_or(authority);
            match is_service_chaining_host(authority) {
                Some("*") => {
                    return Err(AppError::Invalid(format!(
                        "selected component `{id}` cannot use wildcard service chaining (allowed_outbound_hosts = [\"{host}\"]) when only some components are retained; retain every component or name the chained ones"
                    )))
                }
                Some(target) if !wanted.contains(target) => {
                    return Err(AppError::Invalid(format!(
                        "selected component `{id}` chains to component `{target}` (allowed_outbound_hosts = [\"{host}\"]), which is not retained; add `{target}` to the SpinApp's `components`"
                    )))
                }
                _ => {}
            }
        }
    }
    app.triggers.retain(|t| {
        t.trigger_config
            .get("component")
            .and_then(|c| c.as_str())
            .is_some_and(|c| wanted.contains(c))
    });
    app.components.retain(|c| wanted.contains(c.id.as_str()));
    Ok(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> LockedApp {
        LockedApp::from_json(
            br#"{
              "spin_lock_version": 0,
              "triggers": [
                {"id": "t-a", "trigger_type": "http", "trigger_config": {"route": "/a", "component": "a"}},
                {"id": "t-b", "trigger_type": "http", "trigger_config": {"route": "/b", "component": "b"}},
                {"id": "t-s", "trigger_type": "http", "trigger_config": {"route": "/s", "static_response": {"body": "x"}}}
              ],
              "components": [
                {"id": "a", "source": {"content_type": "application/wasm", "source": "file:///a.wasm"},
                 "metadata": {"allowed_outbound_hosts": ["http://b.spin.internal"]}},
                {"id": "b", "source": {"content_type": "application/wasm", "source": "file:///b.wasm"}},
                {"id": "w", "source": {"content_type": "application/wasm", "source": "file:///w.wasm"},
                 "metadata": {"allowed_outbound_hosts": ["http://*.spin.internal", "http://{{ host }}"]}}
              ]
            }"#,
        )
        .unwrap()
    }

    fn ids(app: &LockedApp) -> (Vec<&str>, Vec<&str>) {
        (
            app.components.iter().map(|c| c.id.as_str()).collect(),
            app.triggers.iter().map(|t| t.id.as_str()).collect(),
        )
    }

    #[test]
    fn keeps_only_the_named_components_and_their_triggers() {
        let kept = retain_components(app(), &["b".into()]).unwrap();
        assert_eq!(ids(&kept), (vec!["b"], vec!["t-b"]));
        let kept = retain_components(app(), &["a".into(), "b".into()]).unwrap();
        assert_eq!(ids(&kept), (vec!["a", "b"], vec!["t-a", "t-b"]));
    }

    #[test]
    fn refuses_what_would_break() {
        let cases = [
            (vec!["nope"], "does not have"),
            (vec!["a"], "chains to component `b`"),
            (vec!["w", "a", "b"], "wildcard service chaining"),
        ];
        for (list, expected) in cases {
            let list: Vec<String> = list.into_iter().map(String::from).collect();
            let err = retain_components(app(), &list).unwrap_err().to_string();
            assert!(err.contains(expected), "{list:?}: {err}");
        }
    }

    #[test]
    fn parses_the_env_list() {
        assert_eq!(parse_component_list(""), None);
        assert_eq!(parse_component_list(" , "), None);
        assert_eq!(
            parse_component_list("a, b,,c"),
            Some(vec!["a".into(), "b".into(), "c".into()])
        );
    }
}
