//! Bad days for the storage, on a real filesystem: a full disk under the SQLite database
//! refuses writes with a clear 503 while reads go on, and writes work again the moment space
//! is back, without a restart.

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;
mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A 4 MiB tmpfs mounted at a directory, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    /// `None` where this process may not mount (not root, or a container without the right).
    fn mount(at: &Path) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(at)
            .status()
            .ok()?
            .success();
        mounted.then(|| SmallDisk(at.to_path_buf()))
    }

    /// Writes a file until the disk is full.
    fn fill(&self) -> PathBuf {
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 16 * 1024];
        while file
            .write_all(&chunk)
            .and_then(|_| file.sync_data())
            .is_ok()
        {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_refuses_writes_clearly_and_they_work_again_once_space_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&dir.path().join("disk")) else {
        eprintln!("SKIPPED: this test mounts a small tmpfs, which needs root");
        return;
    };
    let url = format!("sqlite://{}", disk.0.join("board.db").display());
    let app = TestApp::on_database(&url, tempfile::tempdir().unwrap()).await;
    let issues = "/api/autopilot/issues";
    let first = app.json("POST", issues, json!({ "title": "Before" })).await;
    assert_eq!(first.status, StatusCode::CREATED);

    let filler = disk.fill();
    for attempt in 0..3 {
        let refused = app
            .json(
                "POST",
                issues,
                json!({ "title": "While full", "body": "x".repeat(20_000) }),
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "attempt {attempt}: {}",
            refused.text()
        );
        assert!(refused.text().contains("storage"), "{}", refused.text());
    }
    // Reads go on.
    let listed = app.get(issues).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json().as_array().unwrap().len(), 1);

    std::fs::remove_file(filler).unwrap();
    // Every connection of the pool writes again (more writes than connections).
    for n in 0..12 {
        let after = app
            .json("POST", issues, json!({ "title": format!("After {n}") }))
            .await;
        assert_eq!(
            after.status,
            StatusCode::CREATED,
            "write {n}: {}",
            after.text()
        );
    }
    let titles: Vec<String> = app
        .get(issues)
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(titles.len(), 13, "nothing half-written: {titles:?}");
    assert!(!titles.iter().any(|t| t == "While full"));
    drop(app);
}
