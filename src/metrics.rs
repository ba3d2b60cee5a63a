//! Process metrics exposed at `/metrics` in the Prometheus text format: HTTP latency, jobs
//! processed and failed, worker restarts, schedule fires; queue depth and cases per stage are
//! read from the database at scrape time.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginFailureLabels {
    /// The plugin's name, or "(upload)" for a component refused before it had one.
    pub plugin: String,
    /// invalid, wrong_interface, timeout, out_of_memory, output_too_large, trap or not_installed.
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    pub stage: String,
    pub status: String,
}

#[derive(Debug)]
pub struct Metrics {
    pub registry: Registry,
    pub http: Family<HttpLabels, Histogram>,
    pub jobs_processed: Counter,
    pub jobs_queued: Counter,
    pub plugin_failures: Family<PluginFailureLabels, Counter>,
    pub jobs_failed: Counter,
    pub worker_restarts: Counter,
    pub schedule_fires: Counter,
    pub queue_depth: Gauge,
    pub pending_inputs: Gauge,
    pub cases: Family<StageLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("jixiao");
        let http = Family::<HttpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0])
        });
        registry.register("http_request_duration_seconds", "HTTP request latency", http.clone());
        let jobs_processed = Counter::default();
        registry.register("jobs_processed", "Jobs completed by this process", jobs_processed.clone());
        let jobs_queued = Counter::default();
        registry.register("jobs_queued", "Jobs queued by this process's dispatcher", jobs_queued.clone());
        let plugin_failures = Family::<PluginFailureLabels, Counter>::default();
        registry.register(
            "plugin_failures",
            "Plugin loads and calls that failed, by plugin and reason",
            plugin_failures.clone(),
        );
        let jobs_failed = Counter::default();
        registry.register("jobs_failed", "Jobs that failed in this process", jobs_failed.clone());
        let worker_restarts = Counter::default();
        registry.register("worker_restarts", "Job workers restarted after an error", worker_restarts.clone());
        let schedule_fires = Counter::default();
        registry.register("schedule_fires", "Schedule fires recorded by this process", schedule_fires.clone());
        let queue_depth = Gauge::default();
        registry.register("queue_depth", "Jobs waiting in the queue", queue_depth.clone());
        let pending_inputs = Gauge::default();
        registry.register("pending_case_inputs", "Case inputs recorded but not yet applied", pending_inputs.clone());
        let cases = Family::<StageLabels, Gauge>::default();
        registry.register("cases", "Cases per stage and status", cases.clone());
        Metrics {
            registry,
            http,
            jobs_processed,
            jobs_queued,
            plugin_failures,
            jobs_failed,
            worker_restarts,
            schedule_fires,
            queue_depth,
            pending_inputs,
            cases,
        }
    }
}

impl Metrics {
    /// Counts a plugin load or call that failed.
    pub fn plugin_failed(&self, plugin: &str, reason: &str) {
        self.plugin_failures
            .get_or_create(&PluginFailureLabels { plugin: plugin.to_string(), reason: reason.to_string() })
            .inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
