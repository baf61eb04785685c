//! Prometheus metrics of the reconcilers (`/metrics`).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Label set of per-controller metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabel {
    /// `spinapp` or `spinappexecutor`.
    pub controller: &'static str,
}

/// Label set of `spin_operator_api_requests`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabel {
    /// HTTP method, or `watch` for watch requests.
    pub verb: String,
}

/// Label set of `spin_operator_reconcile_errors`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabel {
    /// `spinapp` or `spinappexecutor`.
    pub controller: &'static str,
    /// Error reason, as in the condition reason.
    pub reason: String,
}

/// The operator's Prometheus metrics, all prefixed `spin_operator_`.
pub struct Metrics {
    /// Registry every metric is registered in; encoded for `/metrics`.
    pub registry: Registry,
    /// `reconciles`: reconciliations run.
    pub reconciles: Family<ControllerLabel, Counter>,
    /// `reconcile_errors`: failed reconciliations, by reason.
    pub errors: Family<ErrorLabel, Counter>,
    /// `reconcile_duration_seconds`: time per reconciliation (1 ms to ~8 s buckets).
    pub duration: Family<ControllerLabel, Histogram>,
    /// Reconciles running right now (the part of the work queue being worked on).
    pub in_flight: Family<ControllerLabel, Gauge>,
    /// Objects known to the controller's cache: what a full resync would queue.
    pub objects: Family<ControllerLabel, Gauge<i64, AtomicI64Wrapper>>,
    /// `leader`: 1 while this replica holds the leader lease.
    pub is_leader: Gauge,
    /// SpinApps whose current generation has no status yet: the backlog of the work queue.
    pub pending: Family<ControllerLabel, Gauge<i64, AtomicI64Wrapper>>,
    /// Requests this process sent to the API server (what the operator costs the control plane).
    pub api_requests: Family<RequestLabel, Counter>,
}

/// prometheus-client's default gauge atomic, spelled out so the type above stays readable.
pub type AtomicI64Wrapper = std::sync::atomic::AtomicI64;

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("spin_operator");
        let reconciles = Family::<ControllerLabel, Counter>::default();
        let errors = Family::<ErrorLabel, Counter>::default();
        let duration = Family::<ControllerLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        });
        let in_flight = Family::<ControllerLabel, Gauge>::default();
        let objects = Family::<ControllerLabel, Gauge<i64, AtomicI64Wrapper>>::default();
        let is_leader = Gauge::default();
        let pending = Family::<ControllerLabel, Gauge<i64, AtomicI64Wrapper>>::default();
        let api_requests = Family::<RequestLabel, Counter>::default();
        registry.register("reconciles", "Reconciliations run", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Reconciliations that failed, by reason",
            errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time spent in one reconciliation",
            duration.clone(),
        );
        registry.register(
            "reconcile_in_flight",
            "Reconciliations running now",
            in_flight.clone(),
        );
        registry.register(
            "watched_objects",
            "Objects in the controller cache",
            objects.clone(),
        );
        registry.register(
            "leader",
            "1 when this replica holds the leader lease",
            is_leader.clone(),
        );
        registry.register(
            "reconcile_pending",
            "Objects whose latest change is not reconciled yet (work queue backlog)",
            pending.clone(),
        );
        registry.register(
            "api_requests",
            "Requests sent to the Kubernetes API server",
            api_requests.clone(),
        );
        Metrics {
            registry,
            reconciles,
            errors,
            duration,
            in_flight,
            objects,
            is_leader,
            pending,
            api_requests,
        }
    }
}

impl Metrics {
    /// Starts timing one reconcile; the guard records it when dropped.
    pub fn start(&self, controller: &'static str) -> ReconcileTimer<'_> {
        let label = ControllerLabel { controller };
        self.reconciles.get_or_create(&label).inc();
        self.in_flight.get_or_create(&label).inc();
        ReconcileTimer {
            metrics: self,
            label,
            start: std::time::Instant::now(),
        }
    }

    /// Counts one API request (called by the client's request layer).
    pub fn api_request(&self, method: &http::Method, uri: &http::Uri) {
        let watch = uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
        let verb = if watch {
            "watch".to_string()
        } else {
            method.as_str().to_ascii_lowercase()
        };
        self.api_requests
            .get_or_create(&RequestLabel { verb })
            .inc();
    }

    /// Counts one failed reconcile of `controller` with `reason`.
    pub fn error(&self, controller: &'static str, reason: &str) {
        self.errors
            .get_or_create(&ErrorLabel {
                controller,
                reason: reason.to_string(),
            })
            .inc();
    }

    /// The registry in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Times one reconcile; records its duration and ends its in-flight count when dropped.
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    label: ControllerLabel,
    start: std::time::Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        let elapsed: Duration = self.start.elapsed();
        self.metrics
            .duration
            .get_or_create(&self.label)
            .observe(elapsed.as_secs_f64());
        self.metrics.in_flight.get_or_create(&self.label).dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_requests_by_verb_with_watches_apart_and_errors_by_reason() {
        let m = Metrics::default();
        let get = http::Method::GET;
        for uri in [
            "/apis/core.spinkube.dev/v1alpha1/spinapps?watch=true&resourceVersion=1",
            "/api/v1/secrets?labelSelector=a&watch=1",
            "/apis/core.spinkube.dev/v1alpha1/spinapps",
            "/api/v1/namespaces/x/services/y?watchful=true",
        ] {
            m.api_request(&get, &uri.parse().expect("uri"));
        }
        m.api_request(
            &http::Method::PATCH,
            &"/apis/apps/v1/namespaces/x/deployments/y?fieldManager=spin-operator"
                .parse()
                .expect("uri"),
        );
        m.error("spinapp", "Blocked");
        let text = m.encode();
        for want in [
            "spin_operator_reconcile_errors_total{controller=\"spinapp\",reason=\"Blocked\"} 1",
            "spin_operator_api_requests_total{verb=\"watch\"} 2",
            "spin_operator_api_requests_total{verb=\"get\"} 2",
            "spin_operator_api_requests_total{verb=\"patch\"} 1",
        ] {
            assert!(text.contains(want), "{want} in:\n{text}");
        }
    }
}
