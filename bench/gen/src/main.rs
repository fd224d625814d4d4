//! `bench-gen`: loads synthetic tenants, agents and catalogs into a
//! Switchboard database through the store (`switchboard_store::synthetic`)
//! and prints a JSON report with each tenant's API key and id ranges.

use clap::Parser;
use switchboard_store::synthetic::{load_synthetic, Spec};
use switchboard_store::StoreOptions;

#[derive(Parser)]
#[command(about = "Bulk-load synthetic data for benchmarks; prints a JSON report")]
struct Args {
    /// SQLite file (or sqlite: URL) or postgres:// URL.
    #[arg(long, env = "SWITCHBOARD_DATABASE_URL")]
    database_url: String,
    /// PostgreSQL schema (created if missing).
    #[arg(long, env = "SWITCHBOARD_DB_SCHEMA")]
    db_schema: Option<String>,
    #[arg(long, default_value_t = 1)]
    tenants: u32,
    /// Agents of each tenant.
    #[arg(long, default_value_t = 1000)]
    agents: u64,
    #[arg(long, default_value_t = 50)]
    skills: u32,
    #[arg(long, default_value_t = 5)]
    call_centers: u32,
    #[arg(long, default_value_t = 20)]
    services: u32,
    #[arg(long, default_value_t = 30)]
    groups: u32,
    /// Tenant names are `<prefix>-<n>`.
    #[arg(long, default_value = "bench")]
    name_prefix: String,
    /// Agents per transaction.
    #[arg(long, default_value_t = 100_000)]
    batch: u64,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(tracing_subscriber::filter::LevelFilter::INFO).init();
    let a = Args::parse();
    let opts = StoreOptions { pg_schema: a.db_schema.clone(), ..StoreOptions::default() };
    let spec = Spec {
        tenants: a.tenants,
        agents_per_tenant: a.agents,
        skills: a.skills,
        call_centers: a.call_centers,
        services: a.services,
        groups: a.groups,
        name_prefix: a.name_prefix,
        batch: a.batch,
        ..Spec::default()
    };
    match load_synthetic(&a.database_url, &opts, &spec).await {
        Ok(report) => println!("{}", serde_json::to_string_pretty(&report).expect("report encodes")),
        Err(e) => {
            eprintln!("bench-gen: {e}");
            std::process::exit(1);
        }
    }
}
