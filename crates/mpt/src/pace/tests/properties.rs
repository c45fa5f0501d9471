//! Properties: whatever the headers say, reading them and pacing by them never panics; several
//! lines of one field read as the list they stand for.

use super::super::*;
use proptest::prelude::*;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

const NAMES: [&str; 10] = [
    "ratelimit-policy",
    "ratelimit",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "retry-after",
    "date",
];

/// Header values: arbitrary bytes, or texts built from the pieces the dialects use (numbers
/// of every size and sign, `inf`, `NaN`, parameters, quotes, commas).
fn value() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        any::<f64>().prop_map(|f| f.to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        Just("1e-300".to_string()),
        Just("1e308".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
        Just("NaN".to_string()),
        Just(";w=".to_string()),
        Just(";q=".to_string()),
        Just(";r=".to_string()),
        Just(";t=".to_string()),
        Just(", ".to_string()),
        Just("\"".to_string()),
        Just("default".to_string()),
        Just("Wed, 21 Oct 2015 07:28:00 GMT".to_string()),
        Just("Wednesday, 21-Oct-15 07:28:00 GMT".to_string()),
        Just("Wed Oct 21 07:28:00 2015".to_string()),
        Just("Sun Dec  6 01:05:00 9999".to_string()),
        Just("Sunday, ".to_string()),
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        proptest::collection::vec(piece, 0..8).prop_map(|p| p.concat().into_bytes()),
    ]
}

fn answer() -> impl Strategy<Value = (u16, Vec<(usize, Vec<u8>)>)> {
    (
        prop_oneof![Just(200u16), Just(403), Just(429), Just(503), 100u16..600],
        proptest::collection::vec((0..NAMES.len(), value()), 0..6),
    )
}

fn signal((status, headers): &(u16, Vec<(usize, Vec<u8>)>)) -> Signal {
    let mut map = HeaderMap::new();
    for (name, bytes) in headers {
        if let Ok(v) = HeaderValue::from_bytes(bytes) {
            map.append(HeaderName::from_static(NAMES[*name]), v);
        }
    }
    Signal::read(
        StatusCode::from_u16(*status).unwrap_or(StatusCode::OK),
        &map,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the headers say, in whatever order the answers come, reading them and
    /// pacing by them never panics, and no wait is longer than the bound given.
    #[test]
    fn any_headers_in_any_sequence_never_panic(
        answers in proptest::collection::vec(answer(), 1..12),
        mode in prop_oneof![Just(Pacing::Adaptive), Just(Pacing::Fixed(1000.0)), Just(Pacing::Off)],
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let bound = Duration::from_millis(2);
        let pacer = Pacer::new(mode);
        runtime.block_on(async {
            for answer in &answers {
                let signal = signal(answer);
                for q in signal.quotas() {
                    prop_assert!(q.limit.is_finite() && q.limit > 0.0);
                }
                match pacer.acquire("", bound, bound).await {
                    Ok((slot, waited)) => {
                        prop_assert!(waited <= bound);
                        pacer.observe(slot, Some(&signal), bound);
                    }
                    Err(refused) => prop_assert!(refused.wait > Duration::ZERO),
                }
            }
            Ok(())
        })?;
    }

    /// Several lines of one field read as the one comma list they stand for (RFC 9110
    /// section 5.3), whatever they hold: the same signal as the field folded by a proxy.
    /// (`Date`, a single value with a comma of its own, is one fixed line in the past, so
    /// that every wait is counted from it, not from this machine's moving clock.)
    #[test]
    fn several_lines_read_as_the_folded_list(
        status in prop_oneof![Just(200u16), Just(403), Just(429), Just(503)],
        lines in proptest::collection::vec((0..NAMES.len() - 1, value()), 0..8),
    ) {
        let date = (NAMES.len() - 1, b"Wed, 21 Oct 2015 07:27:00 GMT".to_vec());
        let mut folded: Vec<(usize, Vec<u8>)> = vec![date.clone()];
        for (name, bytes) in &lines {
            match folded.iter_mut().find(|(n, _)| n == name) {
                Some((_, value)) => {
                    value.extend_from_slice(b", ");
                    value.extend_from_slice(bytes);
                }
                None => folded.push((*name, bytes.clone())),
            }
        }
        // A line that is not a header value is dropped by both (and its name's folded
        // value then may differ): only lines that are values are compared.
        let valid = |h: &[(usize, Vec<u8>)]| h.iter().all(|(_, v)| HeaderValue::from_bytes(v).is_ok());
        let separate: Vec<_> = std::iter::once(date).chain(lines).collect();
        prop_assume!(valid(&separate) && valid(&folded));
        prop_assert_eq!(signal(&(status, separate)), signal(&(status, folded)));
    }
}
