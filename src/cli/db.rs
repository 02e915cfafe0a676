//! `onecard db`: the PostgreSQL roles (README "PostgreSQL roles").

use std::process::ExitCode;

use clap::Subcommand;

use onecard::config::Config;
use onecard::db::{self, roles};

use super::print_json;

#[derive(Subcommand)]
pub enum DbCommand {
    /// PostgreSQL: give the service's role exactly what it needs on every table (read and
    /// append the ledger, audit and payment tables; change only rows with a lifecycle) and
    /// take back anything else. Run with the owner's URL after every `onecard migrate`;
    /// running it again changes nothing. Prints each table's grant.
    Grant {
        /// The role the service connects as (not the owner, not a superuser).
        #[arg(long)]
        to: String,
    },
}

pub fn run(config: Config, command: DbCommand) -> Result<ExitCode, String> {
    match command {
        DbCommand::Grant { to } => {
            let mut conn = config.database.connect().map_err(|e| e.to_string())?;
            let granted = roles::grant(&mut conn, &to).map_err(|e| e.to_string())?;
            print_json(&granted)?;
            eprintln!(
                "granted {} table(s) to {to} on {}",
                granted.len(),
                db::redact(&config.database_url)
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A start that failed for want of a privilege, with what the operator does about it.
pub fn hint(message: String) -> String {
    if message.contains("permission denied") {
        format!(
            "{message}\n(the service's role lacks a privilege: run `onecard db grant --to <role>` \
             with the owner's URL after every `onecard migrate`; README: PostgreSQL roles)"
        )
    } else {
        message
    }
}
