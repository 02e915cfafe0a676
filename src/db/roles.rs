//! PostgreSQL roles (DESIGN §8, README "PostgreSQL roles"): an owner role runs the migrations
//! and owns every table and trigger; the service runs as another role that may do with each
//! table exactly what the service does — read and add rows to the append-only tables, change
//! rows only where a row has a lifecycle, remove rows only from the two working tables — and,
//! not owning anything, can neither drop a trigger nor alter or truncate a table.
//!
//! The rights are granted by [`grant`] (`onecard db grant --to <role>`, run as the owner after
//! every `onecard migrate`), not by default privileges in the migrations: a migration does not
//! know the service role's name, default privileges would give every new table the same rights,
//! and a table that nobody classified here is refused by [`grant`] instead of quietly getting
//! too much or too little. [`grant`] revokes first and grants again, so it is idempotent and
//! also takes back whatever was granted by hand.
//!
//! Also the pending-migrations check the service makes at start ([`pending`]): diesel's harness
//! creates its bookkeeping table first, which the service role may not.

use diesel::migration::MigrationSource;
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text};
use diesel::{sql_query, Connection};

/// What the service role may do with a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// `SELECT`: read only.
    Read,
    /// `SELECT, INSERT`: append-only (a database trigger refuses changes besides).
    Append,
    /// `SELECT, INSERT, UPDATE`: rows with a lifecycle (status moves, counters, balances);
    /// the guarded ones have triggers that allow only the service's moves.
    Change,
    /// `SELECT, INSERT, UPDATE, DELETE`: working rows the service itself removes.
    Work,
}

impl Access {
    /// The privileges, as `GRANT` spells them.
    pub fn privileges(self) -> &'static str {
        match self {
            Access::Read => "SELECT",
            Access::Append => "SELECT, INSERT",
            Access::Change => "SELECT, INSERT, UPDATE",
            Access::Work => "SELECT, INSERT, UPDATE, DELETE",
        }
    }
}

/// Every table the migrations make, and what the service does with it. A migration that adds a
/// table adds it here (`onecard db grant` refuses a database with a table missing here).
pub const TABLES: &[(&str, Access)] = &[
    ("__diesel_schema_migrations", Access::Read),
    // The ledger and the audit trail: append-only.
    ("ledger_entries", Access::Append),
    ("ledger_postings", Access::Append),
    ("entry_posters", Access::Append),
    ("audit_log", Access::Append),
    ("accounts", Access::Append),
    ("fee_items", Access::Append),
    ("fee_item_concessions", Access::Append),
    // Master data added, never changed (migration 000027).
    ("departments", Access::Append),
    ("department_windows", Access::Append),
    ("payment_lines", Access::Append),
    ("payment_cards", Access::Append),
    ("settlement_files", Access::Append),
    ("settlement_records", Access::Append),
    ("bank_statements", Access::Append),
    ("statement_bookings", Access::Append),
    ("settlement_file_withdrawals", Access::Append),
    ("remittance_subjects", Access::Append),
    ("remittance_documents", Access::Append),
    ("persons", Access::Append),
    // The chain head and the maintained balances the writer moves.
    ("ledger_head", Access::Change),
    ("account_balances", Access::Change),
    ("account_day_totals", Access::Change),
    // Rows with a lifecycle (the money ones guarded by triggers, migration 000023).
    ("payments", Access::Change),
    ("receipts", Access::Change),
    ("receipt_series", Access::Change),
    ("refunds", Access::Change),
    ("refund_requests", Access::Change),
    ("remittances", Access::Change),
    ("business_days", Access::Change),
    ("idempotency_keys", Access::Change),
    ("api_tokens", Access::Change),
    ("staff_users", Access::Change),
    ("staff_sessions", Access::Change),
    // Keys: a rotation closes the old key's validity (guarded by triggers, migration 000021).
    ("signing_keys", Access::Change),
    ("treasury_secrets", Access::Change),
    // Rows the service removes: a withdrawn file's statement lines, expired request nonces.
    ("statement_lines", Access::Work),
    // Imports under way in short transactions (SQLite only; migration 000026).
    ("settlement_file_stages", Access::Work),
    // Reconciliation runs, staged in short transactions and published by one (migration
    // 000031): a stage's rows are removed when its run fails or its process died; triggers
    // refuse to remove a published run, its outcomes or its exceptions, and fix a run's row.
    ("recon_runs", Access::Work),
    ("recon_outcomes", Access::Work),
    ("recon_exceptions", Access::Work),
    ("treasury_request_nonces", Access::Work),
    // What several instances share (migration 000022): rate-limit windows, page tasks and the
    // nightly lease come and go; a finished night is recorded and updated as it runs.
    ("rate_windows", Access::Work),
    ("web_tasks", Access::Work),
    ("job_leases", Access::Work),
    ("nightly_runs", Access::Change),
];

/// Why the rights could not be granted.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// Roles are PostgreSQL's; SQLite has none.
    #[error("roles are for PostgreSQL; an SQLite database is one file the service owns")]
    NotPostgres,
    /// No such role.
    #[error("there is no role '{0}': create it first (CREATE ROLE {0} LOGIN PASSWORD '…')")]
    UnknownRole(String),
    /// The service role would bypass every guard.
    #[error("role '{0}' {1}: it could drop the append-only triggers whatever is granted; give the service a role of its own")]
    TooStrong(String, &'static str),
    /// Run by someone who does not own the tables.
    #[error("run this as the role that ran `onecard migrate` (it owns the tables); '{user}' does not own {table}")]
    NotOwner {
        /// The connected role.
        user: String,
        /// A table it does not own.
        table: String,
    },
    /// Migrations are pending, or the database has tables this binary does not know.
    #[error("{0}")]
    Schema(String),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
}

/// One table's grant, as `onecard db grant` prints it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Granted {
    /// The table.
    pub table: String,
    /// What the service role may do with it.
    pub access: Access,
    /// The privileges granted.
    pub privileges: &'static str,
}

#[derive(QueryableByName)]
struct TableRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    owner: String,
}

#[derive(QueryableByName)]
struct RoleRow {
    #[diesel(sql_type = Bool)]
    superuser: bool,
    #[diesel(sql_type = Bool)]
    bypass_rls: bool,
    #[diesel(sql_type = Bool)]
    member_of_owner: bool,
}

#[derive(QueryableByName)]
struct Current {
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    user: String,
}

/// A quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Gives `role` exactly the rights of [`TABLES`] on the tables of the connection's current
/// schema (usage of the schema and of its sequences, nothing else), taking back whatever it had
/// first. Run as the owner of the tables, after every migration; one transaction.
pub fn grant(conn: &mut super::DbConn, role: &str) -> Result<Vec<Granted>, GrantError> {
    let super::DbConn::Postgres(pg) = conn else {
        return Err(GrantError::NotPostgres);
    };
    if pending(pg)? {
        return Err(GrantError::Schema(
            "the database has pending migrations; run `onecard migrate` first".into(),
        ));
    }
    pg.transaction(|pg| grant_pg(pg, role))
}

fn grant_pg(pg: &mut PgConnection, role: &str) -> Result<Vec<Granted>, GrantError> {
    let here: Current =
        sql_query("SELECT current_schema() AS schema, current_user AS user").get_result(pg)?;
    let tables: Vec<TableRow> = sql_query(
        "SELECT tablename::text AS name, tableowner::text AS owner FROM pg_tables \
         WHERE schemaname = current_schema() ORDER BY tablename",
    )
    .load(pg)?;
    if let Some(t) = tables.iter().find(|t| t.owner != here.user) {
        return Err(GrantError::NotOwner {
            user: here.user,
            table: t.name.clone(),
        });
    }
    let found: Option<RoleRow> = sql_query(
        "SELECT rolsuper AS superuser, rolbypassrls AS bypass_rls, \
         pg_has_role(oid, (SELECT oid FROM pg_roles WHERE rolname = current_user), 'MEMBER') \
         AS member_of_owner FROM pg_roles WHERE rolname = $1",
    )
    .bind::<Text, _>(role)
    .get_result(pg)
    .optional()?;
    let Some(found) = found else {
        return Err(GrantError::UnknownRole(role.to_string()));
    };
    if role == here.user {
        return Err(GrantError::TooStrong(role.into(), "owns the tables"));
    }
    if found.superuser {
        return Err(GrantError::TooStrong(role.into(), "is a superuser"));
    }
    if found.member_of_owner {
        return Err(GrantError::TooStrong(
            role.into(),
            "is a member of the owner role",
        ));
    }
    if found.bypass_rls {
        return Err(GrantError::TooStrong(role.into(), "bypasses row security"));
    }
    let unknown: Vec<&str> = tables
        .iter()
        .map(|t| t.name.as_str())
        .filter(|name| !TABLES.iter().any(|(known, _)| known == name))
        .collect();
    if !unknown.is_empty() {
        return Err(GrantError::Schema(format!(
            "no access is decided for table(s) {} (src/db/roles.rs TABLES); nothing was granted",
            unknown.join(", ")
        )));
    }
    let missing: Vec<&str> = TABLES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !tables.iter().any(|t| t.name == *name))
        .collect();
    if !missing.is_empty() {
        return Err(GrantError::Schema(format!(
            "schema {} lacks table(s) {}: is this the database `onecard migrate` ran on?",
            here.schema,
            missing.join(", ")
        )));
    }
    let (schema, who) = (ident(&here.schema), ident(role));
    let mut sql = format!(
        "REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {who};\n\
         REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {who};\n\
         REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {schema} FROM {who};\n\
         REVOKE ALL ON SCHEMA {schema} FROM {who};\n\
         GRANT USAGE ON SCHEMA {schema} TO {who};\n\
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {who};\n"
    );
    let mut granted = Vec::with_capacity(TABLES.len());
    for (table, access) in TABLES {
        sql.push_str(&format!(
            "GRANT {} ON TABLE {schema}.{} TO {who};\n",
            access.privileges(),
            ident(table)
        ));
        granted.push(Granted {
            table: (*table).to_string(),
            access: *access,
            privileges: access.privileges(),
        });
    }
    diesel::connection::SimpleConnection::batch_execute(pg, &sql)?;
    Ok(granted)
}

/// Whether the connected role owns any table of its current schema: true when the service runs
/// as the owner, which could drop the append-only triggers (`serve` warns).
pub fn owns_tables(conn: &mut super::DbConn) -> Result<bool, diesel::result::Error> {
    #[derive(QueryableByName)]
    struct Owns {
        #[diesel(sql_type = Bool)]
        owns: bool,
    }
    match conn {
        super::DbConn::Postgres(pg) => Ok(sql_query(
            "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() \
             AND tableowner = current_user) AS owns",
        )
        .get_result::<Owns>(pg)?
        .owns),
        super::DbConn::Sqlite(_) => Ok(false),
    }
}

/// Whether a PostgreSQL database lacks a migration this binary carries, read with `SELECT`
/// alone (a database never migrated has pending migrations).
pub fn pending(pg: &mut PgConnection) -> Result<bool, diesel::result::Error> {
    #[derive(QueryableByName)]
    struct Table {
        #[diesel(sql_type = Nullable<Text>)]
        name: Option<String>,
    }
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = Text)]
        version: String,
    }
    let schema: Table = sql_query("SELECT current_schema() AS name").get_result(pg)?;
    if schema.name.is_none() {
        // Not even USAGE of a schema on the search path: nothing is granted to this role yet.
        return Err(diesel::result::Error::QueryBuilderError(
            "permission denied for every schema on this role's search path".into(),
        ));
    }
    let table: Table = sql_query("SELECT to_regclass('__diesel_schema_migrations')::text AS name")
        .get_result(pg)?;
    if table.name.is_none() {
        return Ok(true);
    }
    let applied: Vec<Version> =
        sql_query("SELECT version FROM __diesel_schema_migrations").load(pg)?;
    let carried = MigrationSource::<Pg>::migrations(&super::POSTGRES_MIGRATIONS)
        .map_err(diesel::result::Error::QueryBuilderError)?;
    Ok(carried.iter().any(|m| {
        let version = m.name().version().to_string();
        !applied.iter().any(|a| a.version == version)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_named_once() {
        let mut names: Vec<&str> = TABLES.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a table is listed twice");
    }

    #[test]
    fn the_append_only_tables_get_no_update_or_delete() {
        for table in [
            "ledger_entries",
            "ledger_postings",
            "audit_log",
            "payment_lines",
        ] {
            let access = TABLES.iter().find(|(n, _)| *n == table).map(|(_, a)| *a);
            assert_eq!(access, Some(Access::Append), "{table}");
        }
        assert!(!Access::Append.privileges().contains("UPDATE"));
        assert!(!Access::Change.privileges().contains("DELETE"));
        assert!(TABLES
            .iter()
            .all(|(_, a)| !a.privileges().contains("TRUNCATE")));
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("svc"), "\"svc\"");
        assert_eq!(ident("a\"; DROP"), "\"a\"\"; DROP\"");
    }
}
