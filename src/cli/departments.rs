//! `onecard departments`: the departments (执收部门) and their windows, as
//! `/v1/departments` serves them. Each addition is audited as by `cli`.

use std::process::ExitCode;

use clap::Subcommand;
use onecard::catalogue::departments;

use super::{open_app, print_json};

#[derive(Subcommand)]
pub enum DepartmentsCommand {
    /// Add a department; prints it as JSON. An existing code is refused.
    Add {
        /// 1–32 of A–Z, a–z, 0–9, '-' and '_', e.g. D01.
        #[arg(long)]
        code: String,
        /// Chinese name.
        #[arg(long)]
        name: String,
        /// English name.
        #[arg(long)]
        name_en: Option<String>,
    },
    /// Add a window to a department; prints it as JSON. An existing code is refused.
    AddWindow {
        /// The department's code.
        #[arg(long)]
        department: String,
        /// The window's code, unique within the department, e.g. W01.
        #[arg(long)]
        code: String,
        /// Chinese name.
        #[arg(long)]
        name: String,
        /// English name.
        #[arg(long)]
        name_en: Option<String>,
    },
    /// Every department with its windows, as JSON.
    List,
}

pub fn run(
    config: onecard::config::Config,
    command: DepartmentsCommand,
) -> Result<ExitCode, String> {
    let ctx = open_app(config)?;
    let mut conn = ctx.conn().map_err(|e| e.to_string())?;
    let shown = match command {
        DepartmentsCommand::Add {
            code,
            name,
            name_en,
        } => serde_json::to_value(
            departments::add_department(&mut conn, &code, &name, name_en.as_deref(), "cli")
                .map_err(|e| e.to_string())?,
        ),
        DepartmentsCommand::AddWindow {
            department,
            code,
            name,
            name_en,
        } => serde_json::to_value(
            departments::add_window(
                &mut conn,
                &department,
                &code,
                &name,
                name_en.as_deref(),
                "cli",
            )
            .map_err(|e| e.to_string())?,
        ),
        DepartmentsCommand::List => {
            let directory = departments::load(&mut conn).map_err(|e| e.to_string())?;
            let all: Vec<_> = directory.departments().collect();
            serde_json::to_value(all)
        }
    }
    .map_err(|e| e.to_string())?;
    print_json(&shown).map(|()| ExitCode::SUCCESS)
}
