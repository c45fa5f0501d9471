//! `--max-rate` and `--max-wait`: rates no pace can use are refused before anything is sent,
//! and a lockout (every answer `429` with `Retry-After: 3600`) ends at once, every id reported
//! not attempted with the platform's wait, exit code 7.

use std::process::{Command, Stdio};

use mpt_mock::{Scripted, ScriptedServer};

use crate::common::{home, mock, mpt, text};

#[test]
fn max_rate_refuses_rates_no_pace_can_use() {
    let server = mock();
    for bad in ["0", "-5", "NaN", "1e-20", "inf", "1e300"] {
        let flag = format!("--max-rate={bad}");
        let out = mpt(&server, &["tokens", "list", &flag]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("--max-rate"), "{bad}: {stderr}");
        assert!(
            stderr.contains("not a usable rate") || stderr.contains("expected requests"),
            "{bad}: {stderr}"
        );
    }
    assert_eq!(server.total_requests(), 0);
    let ok = mpt(
        &server,
        &["tokens", "list", "--max-rate", "50", "-o", "json"],
    );
    assert!(ok.status.success(), "{}", text(&ok.stderr));
}

/// A scripted server on its own runtime thread.
fn scripted(script: Vec<Scripted>) -> ScriptedServer {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(ScriptedServer::start(script)).unwrap();
        tx.send(server).unwrap();
        rt.block_on(std::future::pending::<()>());
    });
    rx.recv().unwrap()
}

#[test]
fn a_lockout_ends_a_bulk_command_with_each_id_not_attempted() {
    let server = scripted(vec![
        Scripted::answer(429, "application/problem+json", r#"{"status":429}"#)
            .header("retry-after", "3600"),
    ]);
    let ids: Vec<String> = (0..40).map(|i| format!("TKN-0000-{i:04}")).collect();
    let mut args = vec![
        "tokens",
        "ensure-disabled",
        "-o",
        "jsonl",
        "--max-wait",
        "1m",
    ];
    args.extend(ids.iter().map(String::as_str));
    let out = Command::new(env!("CARGO_BIN_EXE_mpt"))
        .args(&args)
        .env_clear()
        .env("HOME", home())
        .env("MPT_API_BASE_URL", server.base_url())
        .env("MPT_API_TOKEN", "s3cr3t-api-key")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"id\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), ids.len(), "{}", text(&out.stdout));
    let not_attempted = rows
        .iter()
        .filter(|r| r["error"]["kind"] == "not-attempted")
        .count();
    assert!(not_attempted >= ids.len() - 2, "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("the platform asks to wait 1h; over the 30 s cap"),
        "{}",
        text(&out.stdout)
    );
    assert!(server.request_lines().len() <= 2);
}
