//! The binary as an operator runs it. The command line never makes a database: run from the
//! wrong directory (a relative `sqlite://autopilot.db`), it says there is none instead of
//! quietly working on a new, empty board that the server never reads. An installed copy runs
//! from any directory, and the systemd unit in `deploy/` is one systemd accepts.

use std::process::Command;

const ADD_ADMIN: &[&str] = &[
    "user",
    "add",
    "--email",
    "a@example.com",
    "--name",
    "A",
    "--role",
    "admin",
];

fn autopilot(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_autopilot"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("AUTOPILOT_PASSWORD", "a long enough password")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run autopilot")
}

#[tokio::test]
async fn commands_refuse_a_database_that_does_not_exist_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("autopilot.db");
    let url = format!("sqlite://{}", missing.display());
    for args in [
        &["user", "list"][..],
        ADD_ADMIN,
        &[
            "token",
            "create",
            "--email",
            "a@example.com",
            "--name",
            "ci",
            "--scope",
            "read",
        ],
    ] {
        let out = autopilot(&url, args);
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(said.contains("there is no database at"), "{args:?}: {said}");
        assert!(said.contains("autopilot serve"), "{args:?}: {said}");
        assert!(!missing.exists(), "{args:?} made a database");
    }

    // Once the server has made it, the same commands work.
    app::store::Store::open(&url).await.unwrap();
    let out = autopilot(&url, ADD_ADMIN);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = autopilot(&url, &["user", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("a@example.com"));
}

/// `GET path` over a plain socket: (status, body).
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        socket,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut reply = String::new();
    socket.read_to_string(&mut reply).ok()?;
    let status = reply.split(' ').nth(1)?.parse().ok()?;
    let body = reply.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

fn free_port() -> u16 {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().port()
}

/// Stops the server however the test ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Installed as `scripts/install.sh` lays it out (binary, `site/` beside it) and started the
/// way the systemd unit starts it (`$STATE_DIRECTORY`, no DATABASE_URL), from a directory that
/// holds nothing of Autopilot: it serves its own site, keeps its data in the state directory,
/// and its first-admin hint is a command that works as printed, from yet another directory.
#[test]
fn an_installed_copy_runs_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (prefix, state, elsewhere) = (
        dir.path().join("opt"),
        dir.path().join("state"),
        dir.path().join("elsewhere"),
    );
    for d in [&prefix, &state, &elsewhere] {
        std::fs::create_dir_all(d).unwrap();
    }
    let exe = prefix.join("autopilot");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_autopilot"), &exe).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_autopilot"), &exe).unwrap();
    }
    std::fs::create_dir_all(prefix.join("site/pkg")).unwrap();
    std::fs::write(
        prefix.join("site/pkg/autopilot.css"),
        "/* the installed site */",
    )
    .unwrap();

    let port = free_port();
    let log = dir.path().join("serve.log");
    let _server = Server(
        Command::new(&exe)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .current_dir(&elsewhere)
            .env_remove("DATABASE_URL")
            .env_remove("AUTOPILOT_DATA_DIR")
            .env_remove("LEPTOS_SITE_ROOT")
            .env("STATE_DIRECTORY", &state)
            .env("RUST_LOG", "info")
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let started = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        http_get(port, "/healthz").is_some_and(|(status, _)| status == 200)
    });
    let said = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(started, "the server did not start: {}", said());

    let (status, css) = http_get(port, "/pkg/autopilot.css").unwrap();
    assert_eq!(status, 200);
    assert_eq!(css, "/* the installed site */");
    assert!(state.join("autopilot.db").is_file());
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert!(said().contains(&format!(
        "sqlite://{}",
        state.join("autopilot.db").display()
    )));

    // The hint, run exactly as printed from another directory, makes the admin.
    let log_text = said();
    let hint = log_text
        .split("(or run `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no command in the hint: {log_text}"));
    let out = Command::new("sh")
        .args(["-c", hint])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("STATE_DIRECTORY")
        .env("AUTOPILOT_PASSWORD", "a long enough password")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{hint}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And a command given only the data directory finds the same board.
    let out = Command::new(&exe)
        .args(["user", "list"])
        .current_dir(&elsewhere)
        .env_remove("DATABASE_URL")
        .env("AUTOPILOT_DATA_DIR", &state)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("you@example.com"));
}

/// The unit file is one systemd reads without a complaint. (Starting it for real needs
/// systemd as PID 1, which these machines do not have.)
#[test]
fn the_systemd_unit_verifies() {
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-analyze is missing (scripts/setup.sh --tests installs it)"
        );
        eprintln!("skipped: no systemd-analyze here");
        return;
    };
    assert!(version.status.success());
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/autopilot.service"
    ))
    .unwrap();
    assert!(unit.contains("ExecStart=/opt/autopilot/autopilot serve"));
    // verify also checks that the program exists: point it at this build.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("autopilot.service");
    let unit = unit.replace("/opt/autopilot/autopilot", env!("CARGO_BIN_EXE_autopilot"));
    std::fs::write(&file, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", &file.to_string_lossy()])
        .output()
        .unwrap();
    let complaints = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && complaints.trim().is_empty(),
        "{complaints}"
    );
}
