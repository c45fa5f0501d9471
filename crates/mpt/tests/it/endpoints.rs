//! Limits per endpoint and limits that change on every answer, against a scripted server (one
//! answer per request, in turn): each operation is paced by the policy its last answer stated,
//! one policy stated by several operations is one count, and a stated limit that jumps on
//! every answer is not followed. No timing is asserted: a pace of one request per 30 s is
//! told by the requests not attempted (sent at 98% of it, its interval is over the 30 s cap;
//! the pace's queue is progress, never refused for the wait budget).

use crate::common::*;

/// A client of a scripted server with no retries and a call wait budget of 1 s.
fn budgeted(server: &ScriptedServer) -> Client {
    scripted(server, RetryPolicy::none(), Duration::from_secs(1))
}

/// A draft 08+ policy `name` of `q` per `w` seconds (no remainder stated: the pace alone).
fn named(name: &str, q: u32, w: u32) -> Scripted {
    token_answer(&[("ratelimit-policy", &format!("\"{name}\";q={q};w={w}"))])
}

/// An older-draft policy of `q` per `w` seconds (no remainder stated).
fn numbered(q: u32, w: u32) -> Scripted {
    token_answer(&[
        ("ratelimit-limit", &q.to_string()),
        ("ratelimit-policy", &format!("{q};w={w}")),
    ])
}

/// Whether a call was served (`true`) or not attempted (`false`, its pace over the budget).
fn served<T>(result: Result<T, Error>) -> bool {
    match result {
        Ok(_) => true,
        Err(Error::NotAttempted { .. }) => false,
        Err(e) => panic!("{e}"),
    }
}

/// Reads answered with a slow policy (one per 30 s) and changes answered with a fast one
/// (1,000 a second), in both dialects: the changes go at their own pace (issue 34: one pace for
/// everything, at the slowest endpoint's; a read then paced every change at one per 30 s),
/// and the reads still at theirs (once learned, the next read is an interval over the cap
/// away: not attempted, before and after the changes).
#[tokio::test]
async fn each_endpoint_is_paced_by_its_own_stated_policy() {
    for policy in [named, |_: &str, q, w| numbered(q, w)] {
        let server = canned(vec![policy("list", 1, 30), policy("post", 1000, 1)]).await;
        let client = budgeted(&server);
        assert!(served(client.get("TKN-1111-2222").await));
        assert!(
            !served(client.get("TKN-1111-2222").await),
            "the read's pace"
        );
        for i in 0..5 {
            assert!(served(client.disable("TKN-1111-2222").await), "change {i}");
        }
        assert!(
            !served(client.get("TKN-1111-2222").await),
            "the read's own pace"
        );
        assert_eq!(server.request_lines().len(), 6);
    }
}

/// One policy stated on every endpoint (a global limit, one per 30 s) is one count, never
/// doubled: once a change's answer states it too, changes and reads share its pace (the first
/// change, sent before any answer to a change, went at the pace of what states nothing; no
/// other does). In both dialects.
#[tokio::test]
async fn a_policy_stated_on_every_endpoint_is_shared() {
    for policy in [named, |_: &str, q, w| numbered(q, w)] {
        let server = canned(vec![policy("global", 1, 30)]).await;
        let client = budgeted(&server);
        assert!(served(client.get("TKN-1111-2222").await));
        assert!(served(client.disable("TKN-1111-2222").await));
        assert!(!served(client.disable("TKN-1111-2222").await), "shared");
        assert!(!served(client.get("TKN-1111-2222").await), "shared");
        assert_eq!(server.request_lines().len(), 2);
    }
}

/// A stated limit that changes on every answer (1,000 and 500 a second in turn, then one per
/// 30 s) is not followed: the pace is learned from refusals, as when nothing is stated (issue
/// 34: a gateway stating a random limit each answer was followed answer by answer, and 4.7%
/// of the requests were refused). A limit that changes once is followed (below).
#[tokio::test]
async fn a_limit_that_changes_on_every_answer_is_not_followed() {
    let mut replies: Vec<Scripted> = (0..10)
        .map(|i| numbered(if i % 2 == 0 { 1000 } else { 500 }, 1))
        .collect();
    replies.push(numbered(1, 30));
    replies.push(numbered(1000, 1));
    let server = canned(replies).await;
    let client = budgeted(&server);
    for i in 0..12 {
        assert!(served(client.get("TKN-1111-2222").await), "request {i}");
    }
    // Steady, one drop to one per 30 s is followed at once.
    let server = canned(vec![numbered(1000, 1), numbered(1000, 1), numbered(1, 30)]).await;
    let client = budgeted(&server);
    for _ in 0..3 {
        assert!(served(client.get("TKN-1111-2222").await));
    }
    assert!(!served(client.get("TKN-1111-2222").await));
}
