//! `autopilot invite`: invite links from the command line, on the same database.

use super::open;
use crate::config::DatabaseArgs;
use anyhow::bail;
use app::domain::UserRole;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum InviteCommand {
    /// Make an invite link: it makes one account with the role, once, until it expires.
    /// Prints the link (only a hash of its secret is stored).
    Create {
        #[arg(long, default_value = "member", value_parser = ["admin", "member"])]
        role: String,
        #[arg(long, default_value_t = app::domain::INVITE_DEFAULT_DAYS)]
        expires_in_days: i64,
        /// The board's address, to print a whole link (`https://board.example.com`).
        #[arg(long, env = "AUTOPILOT_PUBLIC_URL")]
        public_url: Option<String>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List invitations: id, role, state, expiry, who used it.
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Revoke an invitation not yet used (its id from `invite list`).
    Revoke {
        id: i64,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

pub async fn run_invite(command: InviteCommand) -> anyhow::Result<()> {
    match command {
        InviteCommand::Create {
            role,
            expires_in_days,
            public_url,
            db,
        } => {
            let role: UserRole = role.parse()?;
            let lifetime = app::domain::invite_lifetime_ms(expires_in_days)?;
            let store = open(&db).await?;
            let (invite, secret) = store.create_invitation(role, lifetime, None).await?;
            let path = app::domain::invite_path(&secret);
            let base = public_url
                .as_deref()
                .unwrap_or_default()
                .trim_end_matches('/');
            eprintln!(
                "invitation {} for a {} until {} (the link is shown once; send it to the person):",
                invite.id,
                role.as_str(),
                app::domain::format_time(invite.expires_at)
            );
            if base.is_empty() {
                eprintln!("(set AUTOPILOT_PUBLIC_URL or --public-url to print the whole link)");
            }
            println!("{base}{path}");
        }
        InviteCommand::List { db } => {
            let store = open(&db).await?;
            let now = app::store::now_ms();
            for invite in store.list_invitations().await? {
                println!(
                    "{}\t{}\t{}\texpires {}\t{}",
                    invite.id,
                    invite.role.as_str(),
                    invite.state(now).as_str(),
                    app::domain::format_time(invite.expires_at),
                    invite.used_by_email.as_deref().unwrap_or("-")
                );
            }
        }
        InviteCommand::Revoke { id, db } => {
            let store = open(&db).await?;
            let invite = match store.revoke_invitation(id).await {
                Err(app::error::AppError::NotFound(_)) => bail!("no invitation with the id {id}"),
                other => other?,
            };
            match invite.state(app::store::now_ms()) {
                app::domain::InviteState::Revoked => println!("revoked invitation {id}"),
                other => bail!("invitation {id} is {}: nothing to revoke", other.as_str()),
            }
        }
    }
    Ok(())
}
