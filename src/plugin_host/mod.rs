//! The sandboxed host for indicator-check plugins: WebAssembly components implementing
//! `wit/indicator.wit` (`jixiao:indicator@1.0.0`). The only module that imports wasmtime.
//!
//! One shared `Engine` compiles each component once; compiled code is cached on disk by
//! wasmtime's cache (keyed by the wasmtime version, the engine's settings and the component's
//! hash), so restarts are fast; an `InstancePre` per plugin is reused for every instantiation,
//! and instances come from wasmtime's pooling allocator. Plugins import nothing: no file system,
//! network, clock, randomness or environment. Every call is bounded in time (epoch deadline),
//! memory (`StoreLimits`) and output size; a plugin that traps, loops, exhausts memory, floods
//! its output or implements another interface version becomes a `PluginFailure`, never a crash
//! of the server.
//!
//! An instance that returned normally is kept warm and serves up to `Limits::reuse_calls` calls
//! (plugins are pure functions of their input by contract, and nothing they keep can reach the
//! host); an instance whose call failed in any way is dropped, so the next call starts clean.
//! `reuse_calls = 1` gives every call a fresh instance.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit/indicator.wit",
        world: "indicator-check",
    });
}

pub use bindings::{Finding, Indicator, Level1, Operator, PluginInfo, Project, Severity};

/// The interface version this host implements.
pub const INTERFACE_VERSION: &str = "1.0.0";

/// Bounds on one plugin call.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock CPU budget per call (epoch deadline).
    pub time: Duration,
    /// Largest linear memory a plugin may grow to.
    pub memory_bytes: usize,
    /// Most findings a call may return.
    pub max_findings: usize,
    /// Most bytes of text (codes and messages) a call may return.
    pub max_output_bytes: usize,
    /// Calls one instance serves before it is replaced (1: a fresh instance per call).
    pub reuse_calls: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time: Duration::from_millis(50),
            memory_bytes: 32 << 20,
            max_findings: 1_000,
            max_output_bytes: 1 << 20,
            reuse_calls: 1_000,
        }
    }
}

/// The epoch ticks once per this interval; deadlines are counted in ticks.
const TICK: Duration = Duration::from_millis(5);

/// Why a plugin could not be loaded or called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginFailure {
    #[error("not a valid component: {0}")]
    Invalid(String),
    #[error("implements interface {found}, this server implements {INTERFACE_VERSION}")]
    WrongInterface { found: String },
    #[error("ran longer than its time limit of {0} ms")]
    Timeout(u64),
    #[error("exceeded its memory limit of {0} MiB")]
    OutOfMemory(usize),
    #[error("returned too much output ({0})")]
    OutputTooLarge(String),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("no plugin named '{0}' is installed")]
    Unknown(String),
}

impl PluginFailure {
    /// A short name of the failure, for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginFailure::Invalid(_) => "invalid",
            PluginFailure::WrongInterface { .. } => "wrong_interface",
            PluginFailure::Timeout(_) => "timeout",
            PluginFailure::OutOfMemory(_) => "out_of_memory",
            PluginFailure::OutputTooLarge(_) => "output_too_large",
            PluginFailure::Trap(_) => "trap",
            PluginFailure::Unknown(_) => "not_installed",
        }
    }
}

/// A loaded plugin.
pub struct Plugin {
    pub info: PluginInfo,
    pub sha256: String,
    pre: bindings::IndicatorCheckPre<CallState>,
    /// Instances that returned normally, ready for another call.
    warm: Mutex<Vec<Warm>>,
}

/// An instance kept between calls, with the store that owns it.
struct Warm {
    store: Store<CallState>,
    bindings: bindings::IndicatorCheck,
    calls: u32,
}

/// Warm instances kept per plugin (about the number of threads that call plugins at once).
const WARM_PER_PLUGIN: usize = 8;

/// Instance slots in the pooling allocator; a call that finds none free gets a failure.
const POOL_INSTANCES: u32 = 256;

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.info.name)
            .field("version", &self.info.version)
            .field("sha256", &self.sha256)
            .finish()
    }
}

struct CallState {
    limits: StoreLimits,
}

/// The host: the engine, the loaded plugins by name and version, the epoch ticker.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<CallState>,
    limits: Limits,
    plugins: RwLock<BTreeMap<String, BTreeMap<String, Arc<Plugin>>>>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost").field("limits", &self.limits).finish()
    }
}

impl Drop for PluginHost {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl PluginHost {
    /// A host whose compiled code is cached in `cache_dir` (created if needed).
    pub fn new(cache_dir: Option<&Path>, limits: Limits) -> anyhow::Result<PluginHost> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        // Epoch interruption is cheaper than fuel and stops a runaway guest.
        config.epoch_interruption(true);
        // Pre-reserved instance slots make instantiation cheap; each memory slot reserves (not
        // commits) address space for the memory limit plus guard pages.
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 4)
            .total_memories(POOL_INSTANCES)
            .total_tables(POOL_INSTANCES * 4)
            .max_memories_per_component(2)
            .max_memory_size(limits.memory_bytes);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        // A reservation near the memory limit (rather than wasmtime's 4 GiB) keeps hundreds of
        // slots affordable; measured on `bench plugins`, the explicit bounds checks this brings
        // cost under 3% of plugin throughput.
        config.memory_reservation((limits.memory_bytes as u64).next_power_of_two().max(64 << 20));
        config.memory_guard_size(32 << 20);
        if let Some(dir) = cache_dir {
            std::fs::create_dir_all(dir)?;
            let mut cc = wasmtime::CacheConfig::new();
            cc.with_directory(dir.to_path_buf());
            config.cache(Some(wasmtime::Cache::new(cc)?));
        }
        let engine = Engine::new(&config)?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker_engine = engine.clone();
        let ticker_stop = Arc::clone(&stop);
        std::thread::Builder::new().name("plugin-epoch".into()).spawn(move || {
            while !ticker_stop.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                ticker_engine.increment_epoch();
            }
        })?;
        // Plugins import nothing, so the linker stays empty: anything a component imports is
        // refused at instantiation.
        let linker = Linker::new(&engine);
        Ok(PluginHost { engine, linker, limits, plugins: RwLock::new(BTreeMap::new()), stop })
    }

    /// Compiles, checks and registers a component: it must instantiate against this host's
    /// interface, `describe` must name interface 1.0.0, and a smoke check on a sample project
    /// must finish within the limits.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<Plugin>, PluginFailure> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        let component = Component::new(&self.engine, bytes).map_err(|e| PluginFailure::Invalid(format!("{e:#}")))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| PluginFailure::WrongInterface { found: format!("unknown ({e})") })?;
        let pre = bindings::IndicatorCheckPre::new(pre)
            .map_err(|e| PluginFailure::WrongInterface { found: format!("unknown ({e})") })?;
        let info = self.call(&pre, |b, s| b.call_describe(s))?;
        if info.interface_version != INTERFACE_VERSION {
            return Err(PluginFailure::WrongInterface { found: info.interface_version });
        }
        let plugin = Plugin { info, sha256, pre, warm: Mutex::new(Vec::new()) };
        self.run_plugin(&plugin, &sample_project())?;
        let plugin = Arc::new(plugin);
        self.plugins
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(plugin.info.name.clone())
            .or_default()
            .insert(plugin.info.version.clone(), Arc::clone(&plugin));
        Ok(plugin)
    }

    /// Loads every `*.wasm` in a folder; returns what loaded and what failed, by file.
    pub fn load_dir(&self, dir: &Path) -> (Vec<Arc<Plugin>>, Vec<(PathBuf, PluginFailure)>) {
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else { return (ok, failed) };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        files.sort();
        for f in files {
            match std::fs::read(&f).map_err(|e| PluginFailure::Invalid(e.to_string())).and_then(|b| self.load(&b)) {
                Ok(p) => ok.push(p),
                Err(e) => failed.push((f, e)),
            }
        }
        (ok, failed)
    }

    /// The latest version of a plugin, or a named version.
    pub fn get(&self, name: &str, version: Option<&str>) -> Option<Arc<Plugin>> {
        let map = self.plugins.read().unwrap_or_else(|e| e.into_inner());
        let versions = map.get(name)?;
        match version {
            Some(v) => versions.get(v).cloned(),
            None => versions
                .values()
                .max_by(|a, b| version_key(&a.info.version).cmp(&version_key(&b.info.version)))
                .cloned(),
        }
    }

    /// Every loaded plugin version.
    pub fn list(&self) -> Vec<Arc<Plugin>> {
        self.plugins.read().unwrap_or_else(|e| e.into_inner()).values().flat_map(|v| v.values().cloned()).collect()
    }

    /// The latest version of every plugin that names `sector` among its sectors (plugins for
    /// every sector, "*", are named by the workflow directly).
    pub fn for_sector(&self, sector: &str) -> Vec<Arc<Plugin>> {
        let names: Vec<String> = {
            let map = self.plugins.read().unwrap_or_else(|e| e.into_inner());
            map.keys().cloned().collect()
        };
        names.iter().filter_map(|n| self.get(n, None)).filter(|p| p.info.sectors.iter().any(|s| s == sector)).collect()
    }

    /// Whether a plugin (and version, if given) is loaded.
    pub fn has(&self, name: &str, version: Option<&str>) -> bool {
        self.get(name, version).is_some()
    }

    /// Runs a plugin's check on a project.
    pub fn check(&self, name: &str, version: Option<&str>, project: &Project) -> Result<Vec<Finding>, PluginFailure> {
        let plugin = self.get(name, version).ok_or_else(|| PluginFailure::Unknown(name.to_string()))?;
        self.run_plugin(&plugin, project)
    }

    /// Runs a loaded plugin's check on a project, within the limits.
    pub fn run_plugin(&self, plugin: &Plugin, project: &Project) -> Result<Vec<Finding>, PluginFailure> {
        let warm = plugin.warm.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut w = match warm {
            Some(w) => w,
            None => {
                let mut store = self.new_store();
                let bindings = plugin.pre.instantiate(&mut store).map_err(|e| self.classify(e))?;
                Warm { store, bindings, calls: 0 }
            }
        };
        w.store.set_epoch_deadline(self.ticks());
        let findings = w.bindings.call_check(&mut w.store, project).map_err(|e| self.classify(e))?;
        w.calls += 1;
        if w.calls < self.limits.reuse_calls {
            let mut idle = plugin.warm.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < WARM_PER_PLUGIN {
                idle.push(w);
            }
        }
        if findings.len() > self.limits.max_findings {
            return Err(PluginFailure::OutputTooLarge(format!(
                "{} findings, at most {}",
                findings.len(),
                self.limits.max_findings
            )));
        }
        let bytes: usize = findings.iter().map(|f| f.code.len() + f.message_zh.len() + f.message_en.len()).sum();
        if bytes > self.limits.max_output_bytes {
            return Err(PluginFailure::OutputTooLarge(format!(
                "{bytes} bytes of text, at most {}",
                self.limits.max_output_bytes
            )));
        }
        Ok(findings)
    }

    fn ticks(&self) -> u64 {
        (self.limits.time.as_millis() / TICK.as_millis()).max(1) as u64
    }

    /// A store bounded by the limits.
    fn new_store(&self) -> Store<CallState> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .instances(4)
            .tables(4)
            .memories(2)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(&self.engine, CallState { limits });
        store.limiter(|s| &mut s.limits);
        store
    }

    /// One call in a fresh, bounded store.
    fn call<T>(
        &self,
        pre: &bindings::IndicatorCheckPre<CallState>,
        f: impl FnOnce(&bindings::IndicatorCheck, &mut Store<CallState>) -> wasmtime::Result<T>,
    ) -> Result<T, PluginFailure> {
        let mut store = self.new_store();
        store.set_epoch_deadline(self.ticks());
        let result = pre.instantiate(&mut store).and_then(|b| f(&b, &mut store));
        result.map_err(|e| self.classify(e))
    }

    fn classify(&self, e: wasmtime::Error) -> PluginFailure {
        if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
            return match trap {
                wasmtime::Trap::Interrupt => PluginFailure::Timeout(self.limits.time.as_millis() as u64),
                _ => {
                    let text = format!("{e:#}");
                    if text.contains("memory") && (text.contains("grow") || text.contains("limit")) {
                        PluginFailure::OutOfMemory(self.limits.memory_bytes >> 20)
                    } else {
                        PluginFailure::Trap(trap.to_string())
                    }
                }
            };
        }
        let text = format!("{e:#}");
        if text.contains("memory") && (text.contains("grow") || text.contains("limit") || text.contains("maximum")) {
            PluginFailure::OutOfMemory(self.limits.memory_bytes >> 20)
        } else {
            PluginFailure::Trap(text.lines().next().unwrap_or("").chars().take(300).collect())
        }
    }
}

fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// The project every plugin is smoke-tested on before it is accepted.
pub fn sample_project() -> Project {
    let ind = |level1, level2: &str, name: &str, operator, value: &str, unit: &str, weight: &str| Indicator {
        level1,
        level2: level2.into(),
        name: name.into(),
        operator,
        value: value.into(),
        unit: unit.into(),
        weight: weight.into(),
        basis: "计划标准".into(),
        core: false,
    };
    Project {
        code: "SMOKE-0001".into(),
        sector: "health".into(),
        amount_fen: 120_000_000,
        fiscal_year: 2023,
        is_new: false,
        indicators: vec![
            ind(Level1::Output, "数量指标", "适龄儿童免疫规划疫苗接种率", Operator::Ge, "90", "%", "30"),
            ind(Level1::Output, "时效指标", "资金拨付及时率", Operator::Ge, "95", "%", "20"),
            ind(Level1::Benefit, "社会效益指标", "居民健康水平", Operator::Qualitative, "有效提升", "", "30"),
            ind(Level1::Satisfaction, "服务对象满意度指标", "服务对象满意度", Operator::Ge, "90", "%", "10"),
        ],
    }
}

/// A stored project as the plugins see it.
pub fn project_for_plugins(p: &crate::domain::project::Project) -> Project {
    use crate::domain::{Level1 as L, Operator as O};
    Project {
        code: p.code.clone(),
        sector: p.sector.clone(),
        amount_fen: p.amount.fen(),
        fiscal_year: p.fiscal_year,
        is_new: p.is_new,
        indicators: p
            .indicators
            .iter()
            .map(|i| Indicator {
                level1: match i.level1 {
                    L::Output => Level1::Output,
                    L::Benefit => Level1::Benefit,
                    L::Satisfaction => Level1::Satisfaction,
                    L::Cost => Level1::Cost,
                },
                level2: i.level2.clone(),
                name: i.name.clone(),
                operator: match i.operator {
                    O::Ge => Operator::Ge,
                    O::Le => Operator::Le,
                    O::Eq => Operator::Eq,
                    O::Qualitative => Operator::Qualitative,
                },
                value: i.value.to_string(),
                unit: i.unit.clone(),
                weight: i.weight.to_string(),
                basis: serde_json::to_value(i.basis)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                core: i.core,
            })
            .collect(),
    }
}

/// A plugin's self-description as JSON (for the API and the store).
pub fn info_json(i: &PluginInfo) -> serde_json::Value {
    serde_json::json!({"name": i.name, "version": i.version, "sectors": i.sectors, "interface_version": i.interface_version})
}
