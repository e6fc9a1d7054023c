//! `pedigree-ledger`: runs the ledger configured by `PEDIGREE_*` environment
//! variables (see the README). The same as `pedigree ledger`.

use pedigree_ledger::{Application, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PEDIGREE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let app = Application::build(Settings::from_env()?)?;
    app.run_until_stopped().await?;
    Ok(())
}
