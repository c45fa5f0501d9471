//! A window of a second met with bare `429`s, refused for the rest of its second: the pacer's
//! own holds (its pace halved to the floor and refused there) end by the window's latest
//! renewal, and do not hide that a window renewed.

use super::*;

fn sent(s: &State, at: Instant) -> Sent {
    Sent {
        generation: s.generation,
        at: Some(at),
        ..Sent::default()
    }
}

/// A window of 200 spent 0.3 s into the run, then refused until it renews at 1 s: the holds that
/// followed the halvings grew (250 ms, then 500 to 750 ms) past the renewal, and the first
/// requests of the next window waited up to a quarter second; served after two holds, the
/// refusals counted from the end of the last one, the window went unseen and the pace grew past
/// its quota (refused again at the next window's end: 16 of them, a window whose quota drops
/// from 200 to 50 mid-run, 1,500 ids). Now a hold ends a second after the cut at the latest,
/// and a request served by then tells a window (its quota learned).
#[test]
fn a_window_s_refusals_held_by_the_pacer_end_by_its_renewal_and_tell_a_window() {
    let pacer = Pacer::new(Pacing::Adaptive);
    let mut paces = pacer.lock();
    let s = paces.of("");
    let t0 = Instant::now();
    let mut at = t0;
    for _ in 0..200 {
        pacer.learn_at(s, &signal(200, &[]), CAP, sent(s, at), at);
        at += Duration::from_micros(1_500);
    }
    // Refused from then on, a request sent at the pace then answered every 60 ms (a round trip).
    let mut holds = Vec::new();
    let mut cut = None;
    while at < t0 + Duration::from_secs(3) && holds.len() < 2 {
        pacer.learn_at(s, &signal(429, &[]), CAP, sent(s, at), at);
        let cut_at = *cut.get_or_insert(s.cut.at);
        assert_eq!(s.cut.at, cut_at, "one cut");
        match s.held_until.filter(|h| *h > at) {
            Some(until) => {
                holds.push(until);
                at = until;
            }
            None => at += Duration::from_millis(60),
        }
    }
    let cut = cut.unwrap();
    assert_eq!(holds.len(), 2, "held twice");
    let latest = cut + Duration::from_secs(1);
    assert!(
        holds.iter().all(|h| *h <= latest),
        "held past the window's latest renewal: {:?} after the cut",
        holds
            .iter()
            .map(|h| h.duration_since(cut))
            .collect::<Vec<_>>()
    );
    // Served at the end of the last hold: the window renewed.
    let at = holds[1] + Duration::from_millis(20);
    pacer.learn_at(s, &signal(200, &[]), CAP, sent(s, at), at);
    assert!(s.windowed, "taken for a bucket: {:?}/s", s.learned);
}
