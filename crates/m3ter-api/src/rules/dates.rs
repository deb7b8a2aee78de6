//! Date windows: any kind with both `startDate` and `endDate` (dates or
//! date-times).

use super::{Body, Finding, str_of};
use crate::validate::parse_instant;

pub(crate) const END_AFTER_START: &str = "dates.endAfterStart";

/// `endDate` must come after `startDate`: the end is exclusive, so an equal
/// end makes an empty window.
/// Whether two validity windows share an instant. Ends are exclusive (one
/// may start when the other ends); a missing start is open to the past, a
/// missing end to the future.
pub(crate) fn windows_overlap<T: PartialOrd>(
    a: (Option<T>, Option<T>),
    b: (Option<T>, Option<T>),
) -> bool {
    let before = |start: &Option<T>, end: &Option<T>| match (start, end) {
        (Some(s), Some(e)) => s < e,
        _ => true,
    };
    before(&a.0, &b.1) && before(&b.0, &a.1)
}

pub(crate) fn check(body: &Body, out: &mut Vec<Finding>) {
    let (Some(start), Some(end)) = (str_of(body, "startDate"), str_of(body, "endDate")) else {
        return;
    };
    let (Some(s), Some(e)) = (parse_instant(start), parse_instant(end)) else {
        return; // a malformed date is a field-level violation
    };
    if e <= s {
        out.push(Finding::error(
            END_AFTER_START,
            "endDate",
            format!(
                "`endDate` {end} is not after `startDate` {start}; the end is exclusive, \
                 so set it later than the start, or remove it for an open-ended window"
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Kind;
    use crate::rules::fixture::{Fixture, body};

    #[test]
    fn end_after_start() {
        let f = Fixture::default();
        let ok =
            body(json!({"startDate": "2024-01-01T00:00:00Z", "endDate": "2024-02-01T00:00:00Z"}));
        assert_eq!(f.render(Kind::Pricing, &ok), "");
        let equal = body(
            json!({"startDate": "2024-01-01T00:00:00Z", "endDate": "2024-01-01T00:00:00.000Z"}),
        );
        let before =
            body(json!({"startDate": "2024-06-01T00:00:00Z", "endDate": "2024-01-01T00:00:00Z"}));
        insta::assert_snapshot!(
            f.render(Kind::AccountPlan, &equal) + &f.render(Kind::Pricing, &before)
        );
    }
}
