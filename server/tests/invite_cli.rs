//! `autopilot invite` as an operator runs it: create prints a link that works once, list shows
//! where each stands, revoke closes an open one and says so for one already used.

use std::process::Command;

fn autopilot(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_autopilot"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("AUTOPILOT_PUBLIC_URL")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run autopilot")
}

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn invites_are_made_listed_and_revoked_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("autopilot.db").display());
    let store = app::store::Store::open(&url).await.unwrap();

    let made = autopilot(
        &url,
        &[
            "invite",
            "create",
            "--role",
            "admin",
            "--expires-in-days",
            "3",
            "--public-url",
            "https://board.example.com/",
        ],
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let link = out(&made).trim().to_string();
    let secret = link
        .strip_prefix("https://board.example.com/invite/")
        .unwrap_or_else(|| panic!("not a link: {link}"));
    let hash = app::auth::token_hash(secret);
    let invite = store
        .invitation_by_secret_hash(&hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(invite.role, app::domain::UserRole::Admin);

    // Without a public URL: the path, and a word on how to get the whole link.
    let second = autopilot(&url, &["invite", "create"]);
    assert!(out(&second).starts_with("/invite/inv_"), "{}", out(&second));
    assert!(String::from_utf8_lossy(&second.stderr).contains("AUTOPILOT_PUBLIC_URL"));

    let bad = autopilot(&url, &["invite", "create", "--expires-in-days", "365"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("between 1 and 90"));

    // The first is used; revoking it says so. The second is revoked.
    let used = store
        .accept_invitation(&hash, "new@example.com", "New", "x", None)
        .await
        .unwrap();
    assert!(used.is_ok());
    let refused = autopilot(&url, &["invite", "revoke", &invite.id.to_string()]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is used"));
    let second_id = (invite.id + 1).to_string();
    let revoked = autopilot(&url, &["invite", "revoke", &second_id]);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let unknown = autopilot(&url, &["invite", "revoke", "999"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no invitation with the id 999"));

    let list = out(&autopilot(&url, &["invite", "list"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].contains("\trevoked\t"), "{list}");
    assert!(
        lines[1].contains("\tadmin\tused\t") && lines[1].ends_with("new@example.com"),
        "{list}"
    );
}
