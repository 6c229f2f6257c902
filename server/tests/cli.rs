//! The command line never makes a database: run from the wrong directory (a relative
//! `sqlite://autopilot.db`), it says there is none instead of quietly working on a new, empty
//! board that the server never reads.

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
