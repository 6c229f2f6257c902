//! The API contract, checked by a tool nobody here wrote: Schemathesis reads the OpenAPI spec
//! the built server serves at `/api/openapi.json`, generates requests from it (valid and
//! invalid ones, and chains of calls that follow the spec's links) and checks every answer
//! against the spec. Once as an admin and once as a member, on SQLite and on PostgreSQL:
//!
//!     cargo build -p server --features app/ssr --bin autopilot --example api_contract
//!     target/debug/examples/api_contract both target/debug/autopilot
//!
//! Arguments: the engines (`sqlite`, `postgres` or `both`, the default), the binary (default
//! target/debug/autopilot) and, to try a spec before the binary serves it, `--spec FILE`.
//! Schemathesis comes from `scripts/setup.sh --tests` (a venv under the tools cache;
//! `AUTOPILOT_SCHEMATHESIS` names another `st`); its settings, and why, are in
//! `api_contract.toml` beside this file. Its own report and closing summary print as they
//! come; the driver exits non-zero when any run failed.
//!
//! Each engine gets a fresh database with an admin, a member (each with a bearer token) and a
//! few issues in every column, one with a comment, an attachment and a finished run, so that
//! requests for ids find real rows. PostgreSQL is a throwaway cluster from Debian's package
//! that the driver starts itself (as the tests do).

use app::auth::{hash_password, new_token, token_hash};
use app::domain::{Actor, Role, UserRole};
use app::store::Store;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[path = "../../app/tests/support/engines.rs"]
#[allow(unused_macros)]
mod engines;
mod support;

/// The longest one Schemathesis run may take (each takes about a minute on 2 cores; four
/// of them fit in the outer `timeout 20m` of scripts/test.sh).
const RUN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(4 * 60);

/// The server logs its warnings and errors (a 5xx shows up here too), but not the session
/// layer's warning for each malformed session cookie, which Schemathesis sends by the thousand.
// The feedback route's warning per refused post is left out too: Schemathesis posts from one
// address far past the per-minute limit (429s the contract lists), hundreds of lines a run.
const SERVER_ENV: &[(&str, &str)] = &[(
    "RUST_LOG",
    "warn,tower_sessions=error,server::routes::feedback=error",
)];

/// Schemathesis' settings, beside this file.
const SETTINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/api_contract.toml");

struct Options {
    engines: Vec<&'static str>,
    bin: String,
    /// A spec file to use instead of the one the binary serves.
    spec: Option<PathBuf>,
}

/// One Schemathesis run and how it went.
struct Outcome {
    engine: &'static str,
    who: &'static str,
    passed: bool,
    seconds: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse_args()?;
    let st = schemathesis()?;
    // Only started when asked for: a SQLite-only run needs no PostgreSQL.
    let cluster = options
        .engines
        .contains(&"postgres")
        .then(engines::start_cluster);
    let mut outcomes = Vec::new();
    for &engine in &options.engines {
        let started = Instant::now();
        let board = scratch(engine, cluster.as_ref()).await?;
        let member =
            add_person(&board.store, "member@example.com", "Ann", UserRole::Member).await?;
        seed(&board.store).await?;
        let server = support::BuiltServer::start_with(&options.bin, &board.url, SERVER_ENV).await?;
        println!(
            "\n== {engine}: the server at {} (ready after {:.1} s)",
            server.base,
            started.elapsed().as_secs_f64()
        );
        for (who, token) in [("admin", &board.token), ("member", &member)] {
            println!("\n-- Schemathesis on {engine}, as the {who}");
            let started = Instant::now();
            let passed = run_schemathesis(&st, &server.base, token, options.spec.as_deref())?;
            outcomes.push(Outcome {
                engine,
                who,
                passed,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
    }
    if let Some(cluster) = cluster {
        cluster.stop("fast");
    }

    println!("\n== the API contract");
    for o in &outcomes {
        let verdict = if o.passed { "passed" } else { "FAILED" };
        println!(
            "{:<9} as {:<7} {verdict} ({:.0} s)",
            o.engine, o.who, o.seconds
        );
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    if failed > 0 {
        // A plain message and exit code, not an error's backtrace: the runs said what failed.
        eprintln!("{failed} of {} Schemathesis runs failed", outcomes.len());
        std::process::exit(1);
    }
    Ok(())
}

fn parse_args() -> anyhow::Result<Options> {
    let mut options = Options {
        engines: vec!["sqlite", "postgres"],
        bin: "target/debug/autopilot".into(),
        spec: None,
    };
    let mut positional = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--spec" => {
                let file = args.next().ok_or_else(|| anyhow::anyhow!("--spec FILE"))?;
                options.spec = Some(std::fs::canonicalize(file)?);
            }
            _ if positional == 0 => {
                options.engines = match arg.as_str() {
                    "sqlite" => vec!["sqlite"],
                    "postgres" => vec!["postgres"],
                    "both" => vec!["sqlite", "postgres"],
                    other => anyhow::bail!("engine {other:?}: sqlite, postgres or both"),
                };
                positional += 1;
            }
            _ if positional == 1 => {
                options.bin = arg;
                positional += 1;
            }
            other => anyhow::bail!("unexpected argument {other:?}"),
        }
    }
    Ok(options)
}

/// The `st` that `scripts/setup.sh --tests` installs, or `AUTOPILOT_SCHEMATHESIS`.
fn schemathesis() -> anyhow::Result<PathBuf> {
    let st = match std::env::var_os("AUTOPILOT_SCHEMATHESIS") {
        Some(path) => PathBuf::from(path),
        None => {
            let tools = std::env::var_os("AUTOPILOT_TOOLS_DIR")
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME")
                        .map(|home| PathBuf::from(home).join(".cache/autopilot-tools"))
                })
                .ok_or_else(|| anyhow::anyhow!("no HOME to find the tools cache in"))?;
            tools.join("schemathesis/bin/st")
        }
    };
    anyhow::ensure!(
        st.exists(),
        "Schemathesis is not at {} (scripts/setup.sh --tests installs it)",
        st.display()
    );
    Ok(st)
}

/// Runs Schemathesis against the server at `base` with `token`; whether it passed.
fn run_schemathesis(
    st: &Path,
    base: &str,
    token: &str,
    spec: Option<&Path>,
) -> anyhow::Result<bool> {
    // Its working directory is a scratch one: Schemathesis may keep a cache or reports in it,
    // and must not pick up a config file from the repository by chance.
    let scratch = tempfile::tempdir()?;
    let mut cmd = Command::new(st);
    cmd.current_dir(scratch.path())
        .arg("--config-file")
        .arg(SETTINGS)
        .arg("run")
        .args(["--header", &format!("Authorization: Bearer {token}")]);
    match spec {
        Some(file) => cmd.arg(file).args(["--url", base]),
        None => cmd.arg(format!("{base}/api/openapi.json")),
    };
    let mut child = cmd
        .spawn()
        .map_err(|e| anyhow::anyhow!("running {}: {e}", st.display()))?;
    // Our own deadline, so a stuck run fails here and the server and the PostgreSQL cluster
    // are still stopped (an outer `timeout` would leave them running).
    let deadline = Instant::now() + RUN_DEADLINE;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.success());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            println!("Schemathesis did not finish within {RUN_DEADLINE:?}: stopped");
            return Ok(false);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// A fresh database of `engine` with an admin and the admin's token.
async fn scratch(
    engine: &str,
    cluster: Option<&engines::Cluster>,
) -> anyhow::Result<support::ScratchBoard> {
    let dir = tempfile::tempdir()?;
    let url = match cluster.filter(|_| engine == "postgres") {
        None => format!("sqlite://{}", dir.path().join("contract.db").display()),
        Some(cluster) => {
            use sqlx::Connection;
            let name = format!("contract_{}", app::store::now_ms());
            let mut admin =
                sqlx::PgConnection::connect(&format!("{}/postgres", cluster.url())).await?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await?;
            format!("{}/{name}", cluster.url())
        }
    };
    support::ScratchBoard::on(&url, Some(dir)).await
}

/// A person with a bearer token, which is returned.
async fn add_person(
    store: &Store,
    email: &str,
    name: &str,
    role: UserRole,
) -> anyhow::Result<String> {
    let hash = hash_password(support::PASSWORD.into()).await?;
    let person = store.create_user(email, name, role, &hash).await?;
    let token = new_token();
    store
        .create_api_token(person.id, "contract", &token_hash(&token))
        .await?;
    Ok(token)
}

/// Rows for requests to find: issues in every column, and one in review with a finished run
/// (its log and patch), a comment and an attachment.
async fn seed(store: &Store) -> anyhow::Result<()> {
    support::seed(store, 0, 10).await?;
    let reviewed = support::seed_patch(store, 20).await?;
    let admin = Actor::new(Role::Admin, "Bench");
    store
        .add_comment(&admin, reviewed, "A comment to read back.")
        .await?;
    store
        .add_attachment(
            &admin,
            reviewed,
            "notes.txt",
            Some("text/plain"),
            b"an attachment",
        )
        .await?;
    Ok(())
}
