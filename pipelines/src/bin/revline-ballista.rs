//! `revline-ballista`: an Apache Ballista scheduler or executor that knows Revline's SQL
//! functions (and, with `--config`, the lake's object store), for `[engine] kind = "ballista"`.
//! Built with `--features ballista`.
//!
//! ```text
//! revline-ballista scheduler --bind 0.0.0.0 --port 50050
//! revline-ballista executor --scheduler-host scheduler --scheduler-port 50050 --port 50051 --grpc-port 50052
//! ```

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use revline::config::Config;
use revline::engine::ballista::{ExecutorOptions, run_executor, run_scheduler};

#[derive(Parser)]
#[command(
    name = "revline-ballista",
    about = "Ballista scheduler and executor for Revline"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a scheduler.
    Scheduler {
        /// Address to bind.
        #[arg(long, default_value = "0.0.0.0")]
        bind: String,
        /// gRPC port clients (`df://host:port`) and executors connect to.
        #[arg(long, default_value_t = 50050)]
        port: u16,
        /// A revline config whose lake (on object storage) the cluster reads.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Runs an executor.
    Executor {
        /// Address to bind and advertise to the scheduler and other executors.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Arrow Flight port (shuffle reads).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// gRPC port.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Scheduler host.
        #[arg(long, default_value = "localhost")]
        scheduler_host: String,
        /// Scheduler port.
        #[arg(long, default_value_t = 50050)]
        scheduler_port: u16,
        /// Concurrent tasks (default: the machine's cores).
        #[arg(long)]
        vcores: Option<usize>,
        /// Folder for shuffle files (default: a temporary folder).
        #[arg(long)]
        work_dir: Option<String>,
        /// A revline config whose lake (on object storage) the cluster reads.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn lake_of(config: Option<PathBuf>) -> anyhow::Result<Option<revline_core::lake::Lake>> {
    match config {
        None => Ok(None),
        Some(path) => Ok(Some(Config::load(&path)?.lake.open()?)),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Scheduler { bind, port, config } => {
            run_scheduler(&bind, port, lake_of(config)?).await?
        }
        Command::Executor {
            bind,
            port,
            grpc_port,
            scheduler_host,
            scheduler_port,
            vcores,
            work_dir,
            config,
        } => {
            let opts = ExecutorOptions {
                bind,
                port,
                grpc_port,
                scheduler_host,
                scheduler_port,
                vcores: vcores
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
                work_dir,
            };
            run_executor(opts, lake_of(config)?).await?
        }
    }
    Ok(())
}
