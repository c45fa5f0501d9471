//! The words of [`Error::NotMadeByPlan`](super::Error::NotMadeByPlan).

/// The words of `Error::NotMadeByPlan`.
pub(super) fn describe_not_made(
    old_id: &str,
    unmarked: &[String],
    marked: &[String],
    has_marker: bool,
) -> String {
    let list = |ids: &[String]| ids.join(", ");
    if !has_marker {
        return format!(
            "the rotation plan of {old_id} has no create marker hash (saved by an older version; a plan that kept the marker itself, which whoever read it could copy, counts as one without), and {} appeared with its account and name since it was recorded: made by its create or by someone else, it cannot tell; none is adopted (check each: its created_by and creation time; then remove the plan)",
            list(unmarked)
        );
    }
    let mut words = Vec::new();
    if !unmarked.is_empty() {
        words.push(format!(
            "{} has the plan's account and name but its description does not carry the plan's marker: not made by the rotation of {old_id}, never adopted",
            list(unmarked)
        ));
    }
    match marked.len() {
        0 => words.push(
            "nothing carries the marker: the earlier create never landed, and none is made while another token has the name".into(),
        ),
        1 => words.push(format!(
            "{} carries the marker, but it is not taken while another token has the name",
            list(marked)
        )),
        _ => words.push(format!(
            "{} all carry a marker of the plan (one create is sent per marker: a copy of ours, or a late create beside a later one): none is adopted",
            list(marked)
        )),
    }
    words.join("; ")
}
