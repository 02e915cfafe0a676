//! The administrative commands: API tokens, staff users, persons and the chart's accounts.

use std::process::ExitCode;

use clap::Subcommand;

use onecard::auth::{self, Role};
use onecard::config::Config;

use super::{open_app, print_json};

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Make a staff user. The password is read from the first line of stdin; with a terminal
    /// on stdin a strong one is generated and printed once instead.
    Create {
        /// clerk, finance, supervisor, auditor, treasury or admin.
        #[arg(long)]
        role: String,
        /// The name they sign in with.
        #[arg(long)]
        name: String,
        /// The person they are (`onecard persons create`); a new person of --name if omitted.
        #[arg(long)]
        person: Option<String>,
    },
    /// Every staff user: id, name, role, person, status, created, disabled, locked until
    /// (tab-separated, times UTC; never a password).
    List,
    /// Disable a user: their sessions end at once and sign-in refuses them.
    Disable {
        /// The user's name or id.
        user: String,
    },
    /// Enable a disabled user again (they sign in afresh).
    Enable {
        /// The user's name or id.
        user: String,
    },
    /// Give a user a generated password, printed once on stdout; ends their sessions and
    /// clears a lock-out.
    ResetPassword {
        /// The user's name or id.
        user: String,
    },
}

#[derive(Subcommand)]
pub enum PersonsCommand {
    /// Make a person; prints the id alone on stdout (give it to `keys create --person` and
    /// `users create --person`).
    Create {
        /// Their name.
        #[arg(long)]
        name: String,
    },
    /// Every person: id and name, tab-separated.
    List,
}

#[derive(Subcommand)]
pub enum AccountsCommand {
    /// Open a sub-account under 2103 (one per revenue subject) or the expense parent, as
    /// `POST /v1/ledger/accounts` does; prints it as JSON.
    Create {
        /// `<parent>.<letters or digits>`, e.g. 2103.1030499.
        #[arg(long)]
        code: String,
        /// Chinese name.
        #[arg(long)]
        name: String,
        /// The grouping account: 2103 or 5001.
        #[arg(long)]
        parent: String,
        /// English name (default: the Chinese one).
        #[arg(long)]
        name_en: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a token; prints it alone on stdout (treasury: the token, then the HMAC secret).
    Create {
        /// clerk, finance, supervisor, auditor, treasury or admin.
        #[arg(long)]
        role: String,
        /// Who or what the token is for.
        #[arg(long)]
        name: String,
        /// The person it belongs to (`onecard persons create`); a new person of --name if
        /// omitted.
        #[arg(long)]
        person: Option<String>,
        /// Days until it expires (then 401 `token_expired`); never if omitted.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=36_500))]
        expires_in: Option<u32>,
    },
    /// Every token: id, name, role, person, created, expires, last used, revoked
    /// (tab-separated, times UTC; never the token, which is not stored).
    List,
    /// Revoke a token: from now on it is refused (401 `token_revoked`).
    Revoke {
        /// The token's id (`keys list` shows it).
        id: String,
    },
    /// Make a new signing key current; the old one is retired (still published at
    /// GET /v1/signing-keys, its private half not kept). Prints the new key id.
    RotateSigning {
        /// The key file is lost for good: record the loss and start a new key id.
        #[arg(long)]
        after_loss: bool,
    },
    /// Make a treasury token's next request-signing secret; prints it alone on stdout. The
    /// previous secret stays accepted during the overlap.
    RotateSecret {
        /// The token id (16 hex digits).
        token_id: String,
        /// Hours during which the previous secret is still accepted.
        #[arg(long, default_value_t = onecard::auth::treasury_secrets::DEFAULT_OVERLAP_HOURS)]
        overlap_hours: u32,
    },
    /// The HMAC master key file is lost for good: make a new one and record the loss.
    ReplaceMaster {
        /// Required: says the old file is gone for good.
        #[arg(long, required = true)]
        after_loss: bool,
    },
}

/// A connection for the key commands that run when the service cannot start (a key file lost):
/// SQLite migrated on the spot, PostgreSQL must be migrated.
fn conn_without_keys(config: &Config) -> Result<onecard::db::DbConn, String> {
    use onecard::db::{self, DbTarget};
    let mut conn = config.database.connect().map_err(|e| e.to_string())?;
    if matches!(config.database, DbTarget::Sqlite(_)) {
        db::migrate(&mut conn).map_err(|e| e.to_string())?;
    } else if db::has_pending_migrations(&mut conn).map_err(|e| e.to_string())? {
        return Err("the database has pending migrations; run `onecard migrate` first".into());
    }
    Ok(conn)
}

/// The key rotations and the recoveries after a loss.
fn rotate_key(config: Config, command: KeysCommand) -> Result<ExitCode, String> {
    use onecard::app::key_files;
    let text = |e: key_files::KeyAdminError| e.to_string();
    match command {
        KeysCommand::RotateSigning { after_loss: true } => {
            let mut conn = conn_without_keys(&config)?;
            let (lost, kid) =
                key_files::rotate_signing_after_loss(&mut conn, &config.key_dir, "cli")
                    .map_err(text)?;
            eprintln!(
                "signing key {} recorded lost; new signing key {kid}",
                lost.as_deref().unwrap_or("(none registered)")
            );
            println!("{kid}");
        }
        KeysCommand::RotateSigning { after_loss: false } => {
            let ctx = open_app(config)?;
            let mut conn = ctx.conn().map_err(|e| e.to_string())?;
            let (old, kid) =
                key_files::rotate_signing(&mut conn, &ctx.keys, "cli").map_err(text)?;
            eprintln!(
                "signing key {} retired; new signing key {kid} (back up the key folder now)",
                old.as_deref().unwrap_or("(none)")
            );
            println!("{kid}");
        }
        KeysCommand::RotateSecret {
            token_id,
            overlap_hours,
        } => {
            let ctx = open_app(config)?;
            let mut conn = ctx.conn().map_err(|e| e.to_string())?;
            let now = chrono::Utc::now().naive_utc();
            let secret = onecard::auth::treasury_secrets::rotate(
                &mut conn,
                &ctx.keys,
                &token_id,
                overlap_hours,
                "cli",
                now,
            )
            .map_err(|e| e.to_string())?;
            eprintln!(
                "the previous secret of {token_id} is accepted for {overlap_hours} more hour(s)"
            );
            println!("{secret}");
        }
        KeysCommand::ReplaceMaster { .. } => {
            let mut conn = conn_without_keys(&config)?;
            let holds = key_files::replace_master_after_loss(&mut conn, &config.key_dir, "cli")
                .map_err(text)?;
            eprintln!(
                "new HMAC master key made; what depended on the old one: {}",
                if holds.is_empty() {
                    "nothing".into()
                } else {
                    holds.join(", ")
                }
            );
        }
        KeysCommand::Create { .. } | KeysCommand::List | KeysCommand::Revoke { .. } => {
            return keys(config, command)
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A stored time as the listings print it (UTC), or `-`.
fn shown(at: Option<chrono::NaiveDateTime>) -> String {
    at.map_or_else(
        || "-".to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

pub fn keys(config: Config, command: KeysCommand) -> Result<ExitCode, String> {
    // Rotations run without opening the service: the key they replace may be missing.
    if matches!(
        command,
        KeysCommand::RotateSigning { .. }
            | KeysCommand::RotateSecret { .. }
            | KeysCommand::ReplaceMaster { .. }
    ) {
        return rotate_key(config, command);
    }
    let ctx = open_app(config)?;
    let mut conn = ctx.conn().map_err(|e| e.to_string())?;
    let now = chrono::Utc::now().naive_utc();
    match command {
        KeysCommand::Create {
            role,
            name,
            person,
            expires_in,
        } => {
            let role: Role = role.parse().map_err(|e: auth::AuthError| e.to_string())?;
            let expires_at = expires_in.map(|d| now + chrono::Duration::days(i64::from(d)));
            let new = auth::NewToken {
                role,
                name: &name,
                person: person.as_deref(),
                expires_at,
                created_by: "cli",
            };
            let issued =
                auth::create_token_as(&mut conn, &ctx.keys, new).map_err(|e| e.to_string())?;
            println!("{}", issued.token);
            if let Some(secret) = issued.secret {
                println!("{secret}");
            }
            if let Some(at) = expires_at {
                eprintln!("token {} expires {} UTC", issued.id, shown(Some(at)));
            }
        }
        KeysCommand::List => {
            println!("id\tname\trole\tperson\tcreated\texpires\tlast_used\trevoked");
            let mut after: Option<String> = None;
            loop {
                let page = auth::tokens::list(&mut conn, after.as_deref(), 1000)
                    .map_err(|e| e.to_string())?;
                for t in page.iter().take(1000) {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        t.id,
                        t.name,
                        t.role,
                        t.person_id.as_deref().unwrap_or("-"),
                        shown(Some(t.created_at)),
                        shown(t.expires_at),
                        shown(t.last_used_at),
                        shown(t.revoked_at),
                    );
                }
                if page.len() <= 1000 {
                    break;
                }
                after = page.get(999).map(|t| t.id.clone());
            }
        }
        KeysCommand::Revoke { id } => {
            let id = id.trim();
            let earlier = auth::tokens::get(&mut conn, id)
                .map_err(|e| e.to_string())?
                .and_then(|t| t.revoked_at);
            let found =
                auth::tokens::revoke(&mut conn, id, "cli", now).map_err(|e| e.to_string())?;
            match found {
                None => return Err(format!("no token '{id}' (onecard keys list shows them)")),
                Some(t) if earlier.is_some() => {
                    eprintln!(
                        "token {} was revoked already ({} UTC)",
                        t.id,
                        shown(t.revoked_at)
                    );
                }
                Some(t) => eprintln!("token {} '{}' ({}) revoked", t.id, t.name, t.role),
            }
        }
        KeysCommand::RotateSigning { .. }
        | KeysCommand::RotateSecret { .. }
        | KeysCommand::ReplaceMaster { .. } => {
            unreachable!("rotations return before the service is opened")
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn persons(config: Config, command: PersonsCommand) -> Result<ExitCode, String> {
    let ctx = open_app(config)?;
    let mut conn = ctx.conn().map_err(|e| e.to_string())?;
    match command {
        PersonsCommand::Create { name } => {
            let id = auth::persons::create(&mut conn, &name, "cli").map_err(|e| e.to_string())?;
            println!("{id}");
        }
        PersonsCommand::List => {
            for p in auth::persons::list(&mut conn).map_err(|e| e.to_string())? {
                println!("{}\t{}", p.id, p.name);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn users(config: Config, command: UsersCommand) -> Result<ExitCode, String> {
    match command {
        UsersCommand::Create { role, name, person } => create_user(config, role, name, person),
        other => manage_user(config, other),
    }
}

/// `users list`, `disable`, `enable`, `reset-password`.
fn manage_user(config: Config, command: UsersCommand) -> Result<ExitCode, String> {
    use auth::users;
    let ctx = open_app(config)?;
    let mut conn = ctx.conn().map_err(|e| e.to_string())?;
    let now = chrono::Utc::now().naive_utc();
    let missing = |user: &str| format!("no staff user '{user}' (onecard users list shows them)");
    match command {
        UsersCommand::Create { .. } => {}
        UsersCommand::List => {
            println!("id\tname\trole\tperson\tstatus\tcreated\tdisabled\tlocked_until");
            let mut after: Option<String> = None;
            loop {
                let page =
                    users::list(&mut conn, after.as_deref(), 1000).map_err(|e| e.to_string())?;
                for u in page.iter().take(1000) {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        u.id,
                        u.name,
                        u.role,
                        u.person_id.as_deref().unwrap_or("-"),
                        u.status(now),
                        shown(Some(u.created_at)),
                        shown(u.disabled_at),
                        shown(u.locked_until),
                    );
                }
                if page.len() <= 1000 {
                    break;
                }
                after = page.get(999).map(|u| u.id.clone());
            }
        }
        UsersCommand::Disable { user } => {
            let u = users::disable(&mut conn, &user, "cli", now)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| missing(&user))?;
            eprintln!(
                "user {} '{}' disabled; their sessions have ended",
                u.id, u.name
            );
        }
        UsersCommand::Enable { user } => {
            let u = users::enable(&mut conn, &user, "cli", now)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| missing(&user))?;
            eprintln!("user {} '{}' enabled", u.id, u.name);
        }
        UsersCommand::ResetPassword { user } => {
            let reset =
                users::reset_password(&mut conn, &user, "cli", now, auth::staff::PBKDF2_ITERATIONS)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| missing(&user))?;
            eprintln!(
                "user {} '{}': new password below (shown once); their sessions have ended",
                reset.user.id, reset.user.name
            );
            println!("{}", reset.password);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn create_user(
    config: Config,
    role: String,
    name: String,
    person: Option<String>,
) -> Result<ExitCode, String> {
    use std::io::IsTerminal;
    let role: Role = role.parse().map_err(|e: auth::AuthError| e.to_string())?;
    let (password, generated) = if std::io::stdin().is_terminal() {
        (
            auth::staff::generate_password().map_err(|e| e.to_string())?,
            true,
        )
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("reading the password from stdin: {e}"))?;
        (line.trim_end_matches(['\r', '\n']).to_string(), false)
    };
    let ctx = open_app(config)?;
    let mut conn = ctx.conn().map_err(|e| e.to_string())?;
    let (name, person) = (name.as_str(), person.as_deref());
    let user = auth::staff::NewUser {
        role,
        name,
        person,
        created_by: "cli",
    };
    let id =
        auth::staff::create_user_as(&mut conn, user, &password, auth::staff::PBKDF2_ITERATIONS)
            .map_err(|e| e.to_string())?;
    eprintln!("user {id} '{name}' ({role}) created");
    if generated {
        println!("{password}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn accounts(config: Config, command: AccountsCommand) -> Result<ExitCode, String> {
    let AccountsCommand::Create {
        code,
        name,
        parent,
        name_en,
    } = command;
    let req = onecard::ledger::accounts::NewSubAccount {
        code,
        name,
        name_en,
        parent,
    };
    let ctx = open_app(config)?;
    let mut conn = ctx.conn().map_err(|e| e.to_string())?;
    let account = onecard::ledger::accounts::open(&mut conn, &ctx.chart, &req, "cli")
        .map_err(|e| e.to_string())?;
    print_json(&account).map(|()| ExitCode::SUCCESS)
}
