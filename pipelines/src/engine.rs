//! The SQL engine sessions run on (`[engine]`): DataFusion in this process, or Apache
//! Ballista (feature `ballista`) on a cluster or an in-process scheduler and executor.
//!
//! On Ballista the client plans each query and sends the logical plan to the scheduler, which
//! plans it physically and ships stages to executors; every table in a plan therefore has to
//! be serialisable. The catalog ([`crate::models::catalog`]) takes care of that when
//! [`is_distributed`] is true: lake tables are registered as Parquet listing tables over the
//! files of the current Delta snapshot (not Delta's own provider, which Ballista cannot ship),
//! empty tables as `EmptyTable` and seeds as `VALUES` views. Functions travel by name: the JSON
//! functions are registered in the client, in the scheduler's sessions and in the executors'
//! function registry (see [`ballista::scheduler_session`] and [`ballista::executor_functions`]).

use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::{SessionConfig, SessionContext};
use revline_core::lake::Lake;
use revline_core::{Error, Result};

use crate::config::{Config, EngineKind};

/// Marks a session whose queries run on a Ballista cluster (a [`SessionConfig`] extension).
#[derive(Debug)]
pub struct Distributed;

/// True if `ctx` runs its queries on Ballista.
pub fn is_distributed(ctx: &SessionContext) -> bool {
    ctx.state()
        .config()
        .get_extension::<Distributed>()
        .is_some()
}

/// The session settings every engine starts from.
pub fn base_config() -> SessionConfig {
    SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema("datafusion", "public")
}

/// Registers the SQL functions models may use beyond DataFusion's own: the JSON functions
/// (`json_get_str`, `json_get_int`, `json_get_array`, ...) for raw JSON columns.
pub fn register_functions(
    registry: &mut dyn datafusion::execution::FunctionRegistry,
) -> Result<()> {
    datafusion_functions_json::register_all(registry)
        .map_err(|e| Error::internal(format!("cannot register the JSON functions: {e}")))
}

/// A fresh session (no tables yet) on the configured engine, with the JSON functions.
pub async fn context(config: &Config, lake: &Lake) -> Result<SessionContext> {
    match config.engine.kind {
        EngineKind::DataFusion => {
            let mut ctx = SessionContext::new_with_config(base_config());
            register_functions(&mut ctx)?;
            Ok(ctx)
        }
        EngineKind::Ballista => ballista_context(config, lake).await,
    }
}

#[cfg(feature = "ballista")]
async fn ballista_context(config: &Config, lake: &Lake) -> Result<SessionContext> {
    ballista::context(config.engine.remote_url(), lake).await
}

#[cfg(not(feature = "ballista"))]
async fn ballista_context(_config: &Config, _lake: &Lake) -> Result<SessionContext> {
    Err(Error::config(
        "`[engine] kind = \"ballista\"` needs a revline built with Ballista: \
         cargo build -p revline --features ballista",
    ))
}

/// Registers the lake's object store (when it is not a local folder) in `runtime` under the
/// bucket's URL, so listing tables of `s3://bucket/...` files can be read.
pub fn register_lake_store(runtime: &RuntimeEnv, lake: &Lake) -> Result<()> {
    let root = lake.root();
    if root.scheme() == "file" {
        return Ok(());
    }
    let mut bucket = root.clone();
    bucket.set_path("/");
    let (store, _) = revline_core::lake::cloud::build_store(&bucket, lake.storage_options())?;
    runtime.register_object_store(&bucket, store);
    Ok(())
}

/// Ballista: the client session, and the pieces the `revline-ballista` scheduler and executor
/// need so plans using Revline's functions run there.
#[cfg(feature = "ballista")]
pub mod ballista {
    use std::sync::Arc;

    use super::*;
    use ::ballista::prelude::SessionContextExt;
    use ballista_core::registry::BallistaFunctionRegistry;
    use datafusion::execution::SessionState;

    /// A client session on the scheduler at `url` (`df://host:port`), or on a scheduler and
    /// executor started in this process when `url` is `None`.
    pub async fn context(url: Option<&str>, lake: &Lake) -> Result<SessionContext> {
        // Ballista's scheduler re-plans stages (join selection) after DataFusion has built
        // dynamic join filters, which DataFusion refuses (the job then never finishes): plan
        // without dynamic filters on Ballista.
        let config = base_config()
            .with_extension(Arc::new(Distributed))
            .set_bool("datafusion.optimizer.enable_dynamic_filter_pushdown", false);
        let mut local = SessionContext::new_with_config(config);
        register_functions(&mut local)?;
        // In standalone mode the executor shares this runtime (and its object stores).
        register_lake_store(&local.runtime_env(), lake)?;
        let state = local.state();
        let fail = |e: datafusion::error::DataFusionError| {
            Error::config(format!(
                "cannot start a Ballista session{}: {e}",
                url.map(|u| format!(" on {u}")).unwrap_or_default()
            ))
        };
        let mut ctx = match url {
            Some(url) => SessionContext::remote_with_state(url, state)
                .await
                .map_err(fail)?,
            None => SessionContext::standalone_with_state(state)
                .await
                .map_err(fail)?,
        };
        // Ballista's upgrade of the session replaces its scalar functions with Ballista's
        // list: add Revline's again.
        register_functions(&mut ctx)?;
        Ok(ctx)
    }

    /// The scheduler's session for each client session: Ballista's defaults plus Revline's
    /// functions, so plans naming them can be decoded and planned.
    pub fn scheduler_session(config: SessionConfig) -> datafusion::common::Result<SessionState> {
        let config = config.set_bool("datafusion.optimizer.enable_dynamic_filter_pushdown", false);
        let mut state = ballista_core::utils::default_session_builder(config)?;
        datafusion_functions_json::register_all(&mut state)?;
        Ok(state)
    }

    /// The function registry executors decode physical plans with: DataFusion's and Ballista's
    /// functions plus Revline's.
    pub fn executor_functions() -> Result<BallistaFunctionRegistry> {
        let state = scheduler_session(ballista_core::utils::default_config_producer())
            .map_err(|e| Error::internal(format!("cannot build the function registry: {e}")))?;
        Ok(BallistaFunctionRegistry::from(&state))
    }

    fn ballista_err(what: &str) -> impl Fn(ballista_core::error::BallistaError) -> Error + '_ {
        move |e| Error::internal(format!("{what}: {e}"))
    }

    /// Runs a scheduler on `bind:port` until the process ends. With `lake`, its sessions can
    /// read a lake on object storage.
    pub async fn run_scheduler(bind: &str, port: u16, lake: Option<Lake>) -> Result<()> {
        use ballista_scheduler::cluster::BallistaCluster;
        use ballista_scheduler::config::SchedulerConfig;
        let config = SchedulerConfig {
            bind_host: bind.to_string(),
            external_host: bind.to_string(),
            bind_port: port,
            override_session_builder: Some(Arc::new(
                move |c: SessionConfig| -> datafusion::common::Result<SessionState> {
                    let state = scheduler_session(c)?;
                    if let Some(lake) = &lake {
                        register_lake_store(state.runtime_env(), lake).map_err(|e| {
                            datafusion::error::DataFusionError::External(Box::new(e))
                        })?;
                    }
                    Ok(state)
                },
            )),
            ..SchedulerConfig::default()
        };
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(ballista_err("cannot set up the scheduler"))?;
        let addr: std::net::SocketAddr = format!("{bind}:{port}")
            .parse()
            .map_err(|e| Error::config(format!("bad scheduler address {bind}:{port}: {e}")))?;
        ballista_scheduler::scheduler_process::start_server(cluster, addr, Arc::new(config))
            .await
            .map_err(ballista_err("the scheduler stopped"))
    }

    /// Where an executor listens and which scheduler it serves.
    #[derive(Debug, Clone)]
    pub struct ExecutorOptions {
        /// Address to bind and advertise.
        pub bind: String,
        /// Arrow Flight port (shuffle data).
        pub port: u16,
        /// gRPC port.
        pub grpc_port: u16,
        /// Scheduler host.
        pub scheduler_host: String,
        /// Scheduler port.
        pub scheduler_port: u16,
        /// Task slots.
        pub vcores: usize,
        /// Folder for shuffle files.
        pub work_dir: Option<String>,
    }

    /// Runs an executor until the process ends. With `lake`, its tasks can read a lake on
    /// object storage.
    pub async fn run_executor(opts: ExecutorOptions, lake: Option<Lake>) -> Result<()> {
        use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
        let mut config = ExecutorProcessConfig {
            bind_host: opts.bind.clone(),
            external_host: Some(opts.bind.clone()),
            port: opts.port,
            grpc_port: opts.grpc_port,
            scheduler_host: opts.scheduler_host.clone(),
            scheduler_port: opts.scheduler_port,
            scheduler_connect_timeout_seconds: 30,
            vcores: opts.vcores.max(1),
            work_dir: opts.work_dir.clone(),
            override_function_registry: Some(Arc::new(executor_functions()?)),
            ..Default::default()
        };
        if let Some(lake) = lake.filter(|l| l.root().scheme() != "file") {
            config.override_runtime_producer = Some(Arc::new(
                move |_: &SessionConfig| -> datafusion::common::Result<Arc<RuntimeEnv>> {
                    let runtime =
                        datafusion::execution::runtime_env::RuntimeEnvBuilder::new().build()?;
                    register_lake_store(&runtime, &lake)
                        .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
                    Ok(Arc::new(runtime))
                },
            ));
        }
        start_executor_process(Arc::new(config))
            .await
            .map_err(ballista_err("the executor stopped"))
    }
}

#[cfg(all(test, not(feature = "ballista")))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_build_without_ballista_refuses_the_ballista_engine_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("revline.toml");
        let config = Config::parse(
            &file,
            "[lake]\npath = \"lake\"\n\n[engine]\nkind = \"ballista\"\n",
            &|_| None,
        )
        .unwrap();
        let lake = config.lake.open().unwrap();
        let Err(err) = context(&config, &lake).await else {
            panic!("the default build must refuse the Ballista engine");
        };
        let err = err.to_string();
        assert!(
            err.contains("needs a revline built with Ballista")
                && err.contains("--features ballista"),
            "{err}"
        );
    }
}
