//! Downloads through the hook layer, from a server that answers as the platform documents the
//! notifications module's batch attachment: its metadata (JSON) when the `Accept` header lists
//! `application/json` first, else a redirect to the file, whose bytes come in its own media
//! type. The mock does not serve notifications; this server is the one rule and nothing more.

use mpt_mock::RequestHead;

use crate::common::*;

const ATTACHMENT: &str = "/public/v1/notifications/batches/BAT-1/attachments/ATT-1";
const FILE: &str = "/files/ATT-1/report.pdf";

/// The attachment's metadata, as the platform answers it to JSON.
const METADATA: &str = r#"{"id":"ATT-1","name":"report","filename":"report.pdf","contentType":"application/pdf","size":266}"#;

/// A file's bytes that are no JSON document: a PDF's signature, a NUL, bytes that are not UTF-8.
fn file() -> Vec<u8> {
    b"%PDF-1.7\n\x00{".iter().copied().chain(0..=255).collect()
}

/// The platform's rule on loopback; the file's first answer is cut short of its
/// `Content-Length` `cuts` times.
struct AttachmentServer {
    base_url: String,
    server: ScriptedServer,
}

impl AttachmentServer {
    async fn start(cuts: usize) -> AttachmentServer {
        let mut cuts = cuts;
        let server = ScriptedServer::routed(move |head| {
            let accept = head.header("accept").unwrap_or_default();
            let answer = answer(head.target(), accept);
            match head.target() == FILE && cuts > 0 {
                true => {
                    cuts -= 1;
                    answer.cut_after(file().len() / 2)
                }
                false => answer,
            }
        })
        .await
        .unwrap();
        let base_url = server.base_url().to_string();
        AttachmentServer { base_url, server }
    }

    /// Each request's line and `Accept` header (empty when none was sent), in order.
    fn seen(&self) -> Vec<(String, String)> {
        let heads = self.server.requests();
        let accept = |h: &RequestHead| h.header("accept").unwrap_or_default().to_string();
        heads.iter().map(|h| (h.line.clone(), accept(h))).collect()
    }
}

/// The answer to `target` asked with `accept`.
fn answer(target: &str, accept: &str) -> Scripted {
    let json_first = accept
        .split(',')
        .next()
        .and_then(|first| first.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    match target {
        ATTACHMENT if json_first => Scripted::answer(200, "application/json", METADATA),
        ATTACHMENT => Scripted::answer(301, "text/plain", "").header("location", FILE),
        FILE => Scripted::answer(200, "application/pdf", file()),
        _ => Scripted::answer(404, "text/plain", ""),
    }
}

/// The attachment downloaded through the hook layer of a client with three quick attempts.
async fn download(server: &AttachmentServer) -> reqwest::Result<Vec<u8>> {
    let client = Client::builder()
        .base_url(&server.base_url)
        .api_token("s3cr3t-api-key")
        .retry(fast_retries(3))
        .build()
        .unwrap();
    let notifications = with_hooks(
        &client,
        &server.base_url,
        mpt_api::notifications::Client::new_with_client,
    );
    let answer = notifications
        .download_batch_attachment()
        .batch_id("BAT-1")
        .attachment_id("ATT-1")
        .send()
        .await;
    bytes_of(answer).await
}

#[tokio::test]
async fn a_batch_attachment_downloads_once_as_the_bytes_the_server_sent() {
    let server = AttachmentServer::start(0).await;
    assert_eq!(download(&server).await.unwrap(), file());
    let seen = server.seen();
    let lines: Vec<&str> = seen.iter().map(|(line, _)| line.as_str()).collect();
    // Asked once, without `application/json` first (that asks for the metadata), and the
    // redirect followed once: a whole file is never read as a JSON document cut short.
    assert_eq!(
        lines,
        [
            format!("GET {ATTACHMENT} HTTP/1.1"),
            format!("GET {FILE} HTTP/1.1")
        ]
    );
    assert!(!seen[0].1.starts_with("application/json"), "{seen:?}");
}

#[tokio::test]
async fn a_download_cut_short_is_asked_again_and_arrives_whole() {
    // The file's first answer ends before its Content-Length: asked again from the start.
    let server = AttachmentServer::start(1).await;
    assert_eq!(download(&server).await.unwrap(), file());
    let files = server
        .seen()
        .iter()
        .filter(|(l, _)| l.contains(FILE))
        .count();
    assert_eq!(files, 2, "{:?}", server.seen());
    // Cut every time: the policy's three attempts, and the last one's read fails.
    let server = AttachmentServer::start(usize::MAX).await;
    assert!(download(&server).await.is_err());
    let asked = server
        .seen()
        .iter()
        .filter(|(l, _)| l.contains(ATTACHMENT))
        .count();
    assert_eq!(asked, 3, "{:?}", server.seen());
}

#[tokio::test]
async fn json_asked_first_gets_the_metadata_and_no_file() {
    // What the old call sent (Accept: application/json) gets the attachment's metadata, never
    // the file: the server keeps the rule the download's test relies on. The metadata decodes
    // as the type the batch holds it in (`Batch::attachments`).
    let server = AttachmentServer::start(0).await;
    let url = format!("{}{ATTACHMENT}", server.base_url);
    let answer = reqwest::Client::new()
        .get(url)
        .header("accept", "application/json, */*")
        .send()
        .await
        .unwrap();
    let metadata: mpt_api::notifications::types::Attachment = answer.json().await.unwrap();
    assert_eq!(metadata.filename.as_deref(), Some("report.pdf"));
    assert_eq!(server.seen().len(), 1, "no redirect for the metadata");
}
