//! The work `cargo xtask bench --instructions` counts under callgrind.

use std::path::Path;

use crate::harness::*;

/// The tokens the instruction-count runs seed: both runs of a variant list the same number, so
/// the listing cancels out of their difference.
const INSTRUCTION_SEED: usize = 600;

/// One run of `cargo xtask bench --instructions`: `variant` done `n` times after a warm-up.
/// Variants: `reqwest-get` (plain reqwest + serde_json), `generated-get` (the generated client
/// without hooks), `hooked-get` (with the facade's layer), `facade-get`, `reqwest-disable`,
/// `facade-disable` (`ensure_disabled_many` over `n` Active tokens, concurrency 1).
pub fn instructions(spec: &str, bin: &Path) {
    let (variant, n) = spec
        .split_once(':')
        .and_then(|(v, n)| Some((v, n.parse::<usize>().ok()?)))
        .expect("MPT_BENCH_INSTRUCTIONS=VARIANT:N");
    assert!(
        n < INSTRUCTION_SEED,
        "at most {} requests",
        INSTRUCTION_SEED - 1
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mock = Mock::spawn(bin, INSTRUCTION_SEED);
    rt.block_on(async {
        let ids = ids(&mock).await;
        let client = facade(&mock);
        let generated = generated_client(&mock);
        let hooked = client.api();
        let raw = http();
        let get_url = token_url(&mock, &ids[0], "");
        let raw_get = || plain(raw.get(&get_url).bearer_auth(&mock.secret));
        // The warm-up: every client has its connection and every lazy table is built.
        raw_get().await;
        generated.get_api_token().id(&ids[0]).send().await.unwrap();
        hooked.get_api_token().id(&ids[0]).send().await.unwrap();
        client.get(&ids[0]).await.unwrap();
        let targets = &ids[1..=n];
        match variant {
            "reqwest-get" => {
                for _ in 0..n {
                    raw_get().await;
                }
            }
            "generated-get" => {
                for _ in 0..n {
                    generated.get_api_token().id(&ids[0]).send().await.unwrap();
                }
            }
            "hooked-get" => {
                for _ in 0..n {
                    hooked.get_api_token().id(&ids[0]).send().await.unwrap();
                }
            }
            "facade-get" => {
                for _ in 0..n {
                    client.get(&ids[0]).await.unwrap();
                }
            }
            "reqwest-disable" => {
                for id in targets {
                    plain(
                        raw.post(token_url(&mock, id, "/disable"))
                            .bearer_auth(&mock.secret),
                    )
                    .await;
                }
            }
            "facade-disable" => {
                let report = client.ensure_disabled_many(targets.to_vec(), 1).await;
                assert_eq!(report.failed().count(), 0);
            }
            other => panic!("unknown variant {other}"),
        }
    });
}
