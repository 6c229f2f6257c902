//! Fresh databases for tests, on either engine, so one suite proves both (the conformance
//! suite: store, API, sessions, the authorization matrix, the runner).
//!
//! `on_both_engines!(a_test, another)` turns each `async fn a_test()` into two tests,
//! `a_test::sqlite` and `a_test::postgres`; inside, [`fresh_database`] opens a new database
//! of that engine. PostgreSQL is a throwaway cluster from Debian's package that this test
//! process starts on first use (as `../shared/docs/postgres.md` describes), one database per
//! test; a watchdog stops it when the process ends. `AUTOPILOT_TEST_POSTGRES` (a server URL
//! without a database, `postgresql://user@host:port`) uses a running server instead.
#![allow(dead_code)]

use std::cell::Cell;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

thread_local! {
    static ENGINE: Cell<Engine> = const { Cell::new(Engine::Sqlite) };
}

/// Picks the engine for the rest of this test (the test's own thread).
pub fn use_engine(engine: Engine) {
    ENGINE.with(|e| e.set(engine));
}

pub fn engine() -> Engine {
    ENGINE.with(Cell::get)
}

/// Runs each listed `async fn` once per engine, as `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::engines::use_engine($crate::engines::Engine::Sqlite);
                super::$name().await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::engines::use_engine($crate::engines::Engine::Postgres);
                super::$name().await
            }
        }
    )*};
}

/// A new, empty database of this test's engine; SQLite files go in `dir`.
pub async fn fresh_database(dir: &std::path::Path) -> String {
    match engine() {
        Engine::Sqlite => format!("sqlite://{}", dir.join("test.db").display()),
        Engine::Postgres => fresh_postgres_database().await,
    }
}

/// A new database on the test cluster, as a URL.
pub async fn fresh_postgres_database() -> String {
    use sqlx::Connection;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let server = postgres_server();
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    format!("{server}/{name}")
}

/// The test PostgreSQL server's URL (no database), started on first use.
pub fn postgres_server() -> String {
    static SERVER: OnceLock<String> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            std::env::var("AUTOPILOT_TEST_POSTGRES").unwrap_or_else(|_| start_cluster().url())
        })
        .clone()
}

/// A throwaway cluster of this test process.
pub struct Cluster {
    pub bin: PathBuf,
    pub dir: PathBuf,
    pub port: u16,
}

impl Cluster {
    pub fn url(&self) -> String {
        format!("postgresql://autopilot@127.0.0.1:{}", self.port)
    }

    /// Runs a PostgreSQL program as the `postgres` user when we are root (it refuses root).
    fn run(&self, program: &str, args: &[&str]) -> std::process::Output {
        let bin = self.bin.join(program);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        cmd.args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()))
    }

    pub fn pg_ctl(&self, args: &[&str]) {
        let data = self.dir.join("data");
        let data = data.to_string_lossy();
        let mut all = vec!["-D", &data];
        all.extend_from_slice(args);
        let out = self.run("pg_ctl", &all);
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn start(&self) {
        let options = format!(
            // fsync off: a test cluster need not survive the machine crashing, only
            // PostgreSQL itself stopping (commits stay synchronous, so a stop loses nothing
            // that was acknowledged).
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
             -c max_connections=400 -c shared_buffers=64MB",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        self.pg_ctl(&["-l", &log.to_string_lossy(), "-w", "start", "-o", &options]);
    }

    /// A restart (`pg_ctl restart` would hand the new server our output pipes, as it does not
    /// keep `-l`).
    pub fn restart(&self) {
        self.stop("fast");
        self.start();
    }

    /// Stops it as a crash would (`-m immediate`) or cleanly (`-m fast`).
    pub fn stop(&self, mode: &str) {
        self.pg_ctl(&["-m", mode, "-w", "stop"]);
    }
}

fn is_root() -> bool {
    std::env::var("USER").map(|u| u == "root").unwrap_or(false)
        || Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0"))
            .unwrap_or(false)
}

/// Starts a new cluster on a free port, stopped and removed when this process ends.
pub fn start_cluster() -> Cluster {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .max()
        .expect("PostgreSQL is not installed (scripts/setup.sh installs Debian's postgresql)");
    let dir = tempfile::Builder::new()
        .prefix("autopilot-test-pg-")
        .tempdir()
        .expect("temp dir")
        .keep();
    if is_root() {
        let _ = Command::new("chown").arg("postgres").arg(&dir).status();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let cluster = Cluster { bin, dir, port };
    let data = cluster.dir.join("data");
    let out = cluster.run(
        "initdb",
        &[
            "-D",
            &data.to_string_lossy(),
            "-A",
            "trust",
            "-U",
            "autopilot",
            "-E",
            "UTF8",
        ],
    );
    assert!(
        out.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    cluster.start();
    // The watchdog: when this test process is gone, stop the cluster and remove it.
    let stop = if is_root() {
        format!("runuser -u postgres -- {}/pg_ctl", cluster.bin.display())
    } else {
        format!("{}/pg_ctl", cluster.bin.display())
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         {stop} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        data = data.display(),
        dir = cluster.dir.display()
    );
    let _ = Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    cluster
}
