//! The wait budgets' tests.

use super::*;

/// A run of refusals still going reaches the job's budget without waiting for its next
/// answer (the pace may be a second apart): the job is then out, every send refused, and
/// its refusal says how long the platform refused (the tester's round-5 F5: a 10 s
/// `--max-wait` ended at 20 s, saying 11 s).
#[tokio::test]
async fn a_run_of_refusals_runs_the_job_budget_out_between_answers() {
    let budget = WaitBudget::new(Duration::from_millis(40));
    let job = Job {
        cancel: None,
        budget: Some(budget.clone()),
        guard: None,
    };
    budget.answered(true, None);
    assert!(job.refusal().is_none(), "within the budget");
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(budget.room(), Duration::ZERO, "the run so far is charged");
    let refused = job.refusal().expect("out with no answer since");
    assert_eq!(refused.cause, crate::ratelimit::WaitCause::Refusing);
    // How long it had refused when the budget ran out, not when that was found.
    assert_eq!(refused.wait, Duration::from_millis(40));
    // And so does a later look at the run (a message said 11 s for a 10 s budget).
    assert_eq!(budget.refusing_for(), Some(Duration::from_millis(40)));
    // One served ends a run before it reaches the budget.
    let budget = WaitBudget::new(Duration::from_millis(40));
    budget.answered(true, None);
    budget.answered(false, None);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(!budget.out());
}

/// A call's run of refusals is charged its wall time (a bare `429` asks for no wait, and
/// its resends queued at the pace were not: `max_wait(3s)` let a `get` run 5.7 s); one
/// served ends the run.
#[tokio::test]
async fn a_run_of_refusals_spends_the_call_budget() {
    let mut call = CallBudget::new(Duration::from_millis(40), true);
    call.answered(true);
    assert!(call.spent().is_none());
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(call.left(), Duration::ZERO);
    let refused = call.spent().expect("spent on the refusals");
    assert_eq!(refused.cap, Duration::from_millis(40));
    let mut call = CallBudget::new(Duration::from_millis(40), true);
    call.answered(true);
    call.answered(false);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(call.spent().is_none() && !call.left().is_zero());
}

/// Waits charged one after the other, each given back soon after it began: the budget is
/// charged what the job was held, not each wait whole. A refund while a later wait was ahead
/// was lost (only the latest could be given back), and locks on many tokens, a refusal every
/// few milliseconds each refunded within them, ran a job out of its budget.
#[tokio::test]
async fn waits_given_back_in_any_order_leave_only_what_held_the_job() {
    let budget = WaitBudget::new(Duration::from_millis(100));
    let mut charges = Vec::new();
    for _ in 0..3 {
        charges.push(budget.spend(Duration::from_millis(40), None).expect("fits"));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Given back at once, the first while the later ones are still ahead.
    for charge in charges {
        budget.refund(charge, tokio::time::Instant::now());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    // What the refunds left (a few milliseconds) and a wait of 80 ms fit in 100.
    assert!(budget.spend(Duration::from_millis(80), None).is_some());
    // One not given back stays charged whole.
    let budget = WaitBudget::new(Duration::from_millis(100));
    let kept = budget.spend(Duration::from_millis(40), None).expect("fits");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let later = budget.spend(Duration::from_millis(40), None).expect("fits");
    budget.refund(later, tokio::time::Instant::now());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        budget.spend(Duration::from_millis(80), None).is_none(),
        "40 + 80 > 100"
    );
    let _ = kept;
}
