//! Operator commands on the same binary: people and bearer tokens, straight on the database.

use crate::config::DatabaseArgs;
use anyhow::{bail, Context};
use app::auth::{hash_password, new_token, token_hash};
use app::domain::{
    format_time, validate_display_name, validate_email, validate_expiry_days, validate_password,
    Scopes, UserRole,
};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
use app::store::Store;
use clap::Subcommand;

mod invite;
pub use invite::{run_invite, InviteCommand};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a person. The password comes from AUTOPILOT_PASSWORD or is asked for.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "member", value_parser = ["admin", "member"])]
        role: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Set a new password (ends all of that person's sessions).
    Passwd {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Disable a person: they can no longer sign in, their sessions end and their tokens are
    /// deleted (enabling them again gives none back).
    Disable {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Enable a disabled person again.
    Enable {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List everyone.
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a bearer token for a person; it is printed once and only its hash is stored.
    Create {
        #[arg(long)]
        email: String,
        /// A name to tell tokens apart, e.g. "ci" or "deploy-script".
        #[arg(long)]
        name: String,
        /// What it may do, a comma list of: read, write, move, admin, runner, mcp (the role
        /// still applies: `admin` on a member's token gives nothing).
        #[arg(long)]
        scope: String,
        /// It stops working after this many days (default: never).
        #[arg(long)]
        expires_in_days: Option<i64>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List a person's tokens that are not revoked (name, scopes, created, last used,
    /// expires).
    List {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Revoke a person's tokens of that name.
    Revoke {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy a whole board (people, tokens, issues, comments, attachments, history, runs,
    /// runners, settings; not sessions) into an empty database, keeping every id. The usual
    /// move: `--from sqlite://autopilot.db --to postgresql://…`. Stop the servers first.
    Copy {
        /// The database to read.
        #[arg(long)]
        from: String,
        /// The empty database to fill (its schema is created if missing).
        #[arg(long)]
        to: String,
    },
    /// Write a consistent copy of a SQLite board to FILE while it is in use (no need to stop
    /// the servers). FILE must not exist; it is made readable by its owner only (0600), and
    /// holds no sessions. On PostgreSQL use `pg_dump`.
    Backup {
        file: std::path::PathBuf,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Check a SQLite backup (or board) without changing it: integrity, and what it holds.
    Check { file: std::path::PathBuf },
}

pub async fn run_db(command: DbCommand) -> anyhow::Result<()> {
    match command {
        DbCommand::Copy { from, to } => {
            let source = open(&DatabaseArgs {
                database_url: Some(from),
                ..Default::default()
            })
            .await?;
            // The copy's target is usually a new database: it may be made here.
            let target = Store::open(&to)
                .await
                .with_context(|| format!("opening the database {}", app::store::masked_url(&to)))?;
            let report = app::store::copy_board(&source, &target)
                .await
                .map_err(|err| anyhow::anyhow!("copying the board: {err}"))?;
            for (table, rows) in report.tables {
                println!("{table:>18}: {rows} row(s)");
            }
            println!("copied; point DATABASE_URL at the new database and start the servers");
            Ok(())
        }
        DbCommand::Backup { file, db } => {
            let store = open(&db).await?;
            store
                .backup_to(&file)
                .await
                .map_err(|err| anyhow::anyhow!("backing up: {err}"))?;
            let report = app::store::check_backup(&file)
                .await
                .map_err(|err| anyhow::anyhow!("the backup does not check out: {err}"))?;
            println!("backed up to {}: {}", file.display(), describe(&report));
            Ok(())
        }
        DbCommand::Check { file } => {
            let report = app::store::check_backup(&file)
                .await
                .map_err(|err| anyhow::anyhow!("{err}"))?;
            println!("{} is sound: {}", file.display(), describe(&report));
            Ok(())
        }
    }
}

fn describe(report: &app::store::BackupReport) -> String {
    format!(
        "{} issues, {} comments, {} runs, {} people (schema {})",
        report.issues, report.comments, report.runs, report.users, report.schema
    )
}

/// An existing database: the command line never makes a new one (only `serve` does), so a
/// command run from the wrong directory says so instead of working on an empty board.
async fn open(db: &DatabaseArgs) -> anyhow::Result<Store> {
    let options = app::store::OpenOptions {
        create_if_missing: false,
        ..Default::default()
    };
    let url = db.url();
    Store::open_with(&url, &options)
        .await
        .with_context(|| format!("opening the database {}", app::store::masked_url(&url)))
}

/// The new password: `AUTOPILOT_PASSWORD`, or typed twice without echo.
fn read_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("AUTOPILOT_PASSWORD") {
        validate_password(&password)?;
        return Ok(password);
    }
    let password = rpassword::prompt_password("Password (12 characters or more): ")?;
    validate_password(&password)?;
    if rpassword::prompt_password("Same password again: ")? != password {
        bail!("the two passwords differ");
    }
    Ok(password)
}

async fn find_user(store: &Store, email: &str) -> anyhow::Result<app::domain::User> {
    let email = validate_email(email)?;
    store
        .user_by_email(&email)
        .await
        .map_err(|_| anyhow::anyhow!("no user with the email {email}"))
}

pub async fn run_user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            email,
            name,
            role,
            db,
        } => {
            let email = validate_email(&email)?;
            let name = validate_display_name(&name)?;
            let role: UserRole = role.parse()?;
            let store = open(&db).await?;
            let hash = hash_password(read_password()?).await?;
            let user = store.create_user(&email, &name, role, &hash).await?;
            println!(
                "added {} <{}> as {}",
                user.display_name,
                user.email,
                role.as_str()
            );
        }
        UserCommand::Passwd { email, db } => {
            let store = open(&db).await?;
            let user = find_user(&store, &email).await?;
            let hash = hash_password(read_password()?).await?;
            store.set_password_hash(user.id, &hash).await?;
            println!(
                "password changed for {}; their sessions are ended",
                user.email
            );
        }
        UserCommand::Disable { email, db } => {
            let store = open(&db).await?;
            let user = find_user(&store, &email).await?;
            store.set_disabled(user.id, true).await?;
            println!(
                "disabled {}; their sessions are ended and their tokens deleted",
                user.email
            );
        }
        UserCommand::Enable { email, db } => {
            let store = open(&db).await?;
            let user = find_user(&store, &email).await?;
            store.set_disabled(user.id, false).await?;
            println!("enabled {}", user.email);
        }
        UserCommand::List { db } => {
            let store = open(&db).await?;
            for user in store.list_users().await? {
                let state = if user.is_disabled() {
                    "disabled"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}",
                    user.email,
                    user.display_name,
                    user.role.as_str(),
                    state
                );
            }
        }
    }
    Ok(())
}

pub async fn run_token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            email,
            name,
            scope,
            expires_in_days,
            db,
        } => {
            let scopes = Scopes::parse(&scope)?;
            let expires_in_days = validate_expiry_days(expires_in_days)?;
            let store = open(&db).await?;
            let user = find_user(&store, &email).await?;
            let name = validate_display_name(&name)?;
            let token = new_token();
            let expires_at = expires_in_days.map(|days| app::store::now_ms() + days * DAY_MS);
            store
                .create_scoped_token(user.id, &name, &token_hash(&token), scopes, expires_at)
                .await?;
            eprintln!(
                "token '{name}' for {} with {scopes} (shown once; keep it secret):",
                user.email
            );
            println!("{token}");
        }
        TokenCommand::List { email, db } => {
            let store = open(&db).await?;
            let user = find_user(&store, &email).await?;
            let when = |at: Option<i64>| at.map_or_else(|| "never".to_string(), format_time);
            println!("name\tscopes\tcreated\tlast used\texpires");
            for token in store.list_api_tokens(user.id).await? {
                let scopes = match token.scopes() {
                    (_, true) => "legacy (full rights: replace it)".to_string(),
                    (scopes, false) => scopes.to_string(),
                };
                println!(
                    "{}\t{scopes}\t{}\t{}\t{}",
                    token.name,
                    format_time(token.created_at),
                    when(token.last_used_at),
                    when(token.expires_at)
                );
            }
        }
        TokenCommand::Revoke { email, name, db } => {
            let store = open(&db).await?;
            let user = find_user(&store, &email).await?;
            let revoked = store.revoke_api_tokens(user.id, &name).await?;
            if revoked == 0 {
                bail!("{} has no live token named '{name}'", user.email);
            }
            println!("revoked {revoked} token(s)");
        }
    }
    Ok(())
}
