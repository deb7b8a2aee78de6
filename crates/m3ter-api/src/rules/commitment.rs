//! Commitment rules: one commitment at a time per account, and fee dates
//! that fall within the commitment.

use chrono::{DateTime, Utc};

use super::dates::windows_overlap;
use super::{Body, Catalog, Finding, Subject, code_or, str_of};
use crate::Kind;
use crate::validate::parse_instant;

pub(crate) const OVERLAP: &str = "commitment.overlap";
pub(crate) const FEE_DATES: &str = "commitment.feeDates";

fn instant(body: &Body, field: &str) -> Option<DateTime<Utc>> {
    str_of(body, field).and_then(parse_instant)
}

pub(crate) fn check(subject: &Subject<'_>, catalog: &dyn Catalog, out: &mut Vec<Finding>) {
    let body = subject.body;
    let (Some(start), Some(end)) = (instant(body, "startDate"), instant(body, "endDate")) else {
        return; // both are required: a missing or malformed one is reported elsewhere
    };
    overlap(subject, catalog, start, end, out);
    fee_dates(body, start, end, out);
}

/// Two commitments of one account must not cover the same day: a charge
/// would draw down both, and which one first is not defined.
fn overlap(
    subject: &Subject<'_>,
    catalog: &dyn Catalog,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    out: &mut Vec<Finding>,
) {
    let Some(account) = str_of(subject.body, "accountId") else {
        return;
    };
    for (reference, other) in catalog.each_where(Kind::Commitment, "accountId", account) {
        if Some(reference) == subject.own {
            continue;
        }
        let (Some(other_start), Some(other_end)) =
            (instant(other, "startDate"), instant(other, "endDate"))
        else {
            continue;
        };
        // Both ends exclusive: one may start the day the other ends.
        if windows_overlap(
            (Some(start), Some(end)),
            (Some(other_start), Some(other_end)),
        ) {
            let account_code = code_or(catalog.get(Kind::Account, account), account);
            out.push(
                Finding::error(
                    OVERLAP,
                    "startDate",
                    format!(
                        "account `{account_code}` already has commitment `{reference}` (from {} \
                         to {}) that overlaps this one (from {} to {}); an account has one \
                         commitment at a time, so end one before the other starts",
                        str_of(other, "startDate").unwrap_or("?"),
                        str_of(other, "endDate").unwrap_or("?"),
                        str_of(subject.body, "startDate").unwrap_or("?"),
                        str_of(subject.body, "endDate").unwrap_or("?"),
                    ),
                )
                .with_other(Kind::Commitment, reference),
            );
        }
    }
}

/// Each fee is billed within the commitment (the end date included: the
/// bill for the last service period is issued when it ends), and its
/// service period does not end before it starts.
fn fee_dates(body: &Body, start: DateTime<Utc>, end: DateTime<Utc>, out: &mut Vec<Finding>) {
    let Some(fees) = body.get("feeDates").and_then(|v| v.as_array()) else {
        return;
    };
    let (start_text, end_text) = (
        str_of(body, "startDate").unwrap_or("?"),
        str_of(body, "endDate").unwrap_or("?"),
    );
    for (i, fee) in fees.iter().enumerate() {
        let Some(fee) = fee.as_object() else { continue };
        if let Some(date) = instant(fee, "date")
            && (date < start || date > end)
        {
            out.push(Finding::error(
                FEE_DATES,
                format!("feeDates[{i}].date"),
                format!(
                    "`feeDates[{i}].date` {} is outside the commitment ({start_text} to \
                     {end_text}); bill each fee between the commitment's `startDate` and \
                     `endDate`",
                    str_of(fee, "date").unwrap_or("?")
                ),
            ));
        }
        if let (Some(from), Some(to)) = (
            instant(fee, "servicePeriodStartDate"),
            instant(fee, "servicePeriodEndDate"),
        ) && to < from
        {
            out.push(Finding::error(
                FEE_DATES,
                format!("feeDates[{i}].servicePeriodEndDate"),
                format!(
                    "`feeDates[{i}].servicePeriodEndDate` {} is before its \
                     `servicePeriodStartDate` {}; swap them or fix one",
                    str_of(fee, "servicePeriodEndDate").unwrap_or("?"),
                    str_of(fee, "servicePeriodStartDate").unwrap_or("?"),
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Kind;
    use crate::rules::fixture::{Fixture, body};

    fn accounts() -> Fixture {
        Fixture::default()
            .with(Kind::Account, "acme", json!({"code": "acme"}))
            .with(Kind::Account, "globex", json!({"code": "globex"}))
            .with(
                Kind::Commitment,
                "acme@2025-01-01",
                json!({"accountId": "acme", "startDate": "2025-01-01", "endDate": "2026-01-01"}),
            )
    }

    fn commitment(account: &str, start: &str, end: &str) -> crate::rules::Body {
        body(
            json!({"accountId": account, "startDate": start, "endDate": end,
                    "currency": "USD", "amount": 1000}),
        )
    }

    #[test]
    fn one_commitment_at_a_time_per_account() {
        let f = accounts();
        // Starting the day the other ends, another account, or itself: fine.
        assert_eq!(
            f.render(
                Kind::Commitment,
                &commitment("acme", "2026-01-01", "2027-01-01")
            ),
            ""
        );
        assert_eq!(
            f.render(
                Kind::Commitment,
                &commitment("acme", "2024-01-01", "2025-01-01")
            ),
            ""
        );
        assert_eq!(
            f.render(
                Kind::Commitment,
                &commitment("globex", "2025-06-01", "2026-06-01")
            ),
            ""
        );
        assert_eq!(
            f.render_own(
                Kind::Commitment,
                Some("acme@2025-01-01"),
                &commitment("acme", "2025-01-01", "2026-01-01")
            ),
            ""
        );
        insta::assert_snapshot!(
            f.render(
                Kind::Commitment,
                &commitment("acme", "2025-06-01", "2026-06-01")
            ) + &f.render(
                Kind::Commitment,
                &commitment("acme", "2024-01-01", "2027-01-01")
            )
        );
    }

    #[test]
    fn the_conflict_names_the_other_commitment() {
        let subject = commitment("acme", "2025-06-01", "2026-06-01");
        let f = accounts();
        let findings = crate::rules::check(
            &crate::rules::Subject {
                kind: Kind::Commitment,
                body: &subject,
                own: None,
            },
            &f,
        );
        assert_eq!(
            findings[0].others,
            vec![(Kind::Commitment, "acme@2025-01-01".to_owned())]
        );
    }

    #[test]
    fn fees_fall_within_the_commitment() {
        let f = Fixture::default();
        let with_fees = |fees: serde_json::Value| {
            let mut b = commitment("acme", "2025-01-01", "2026-01-01");
            b.insert("feeDates".into(), fees);
            b
        };
        let fee = |date: &str, from: &str, to: &str| {
            json!({"date": date, "amount": 500,
                   "servicePeriodStartDate": from, "servicePeriodEndDate": to})
        };
        // On the start, on the end, and a one-day service period: fine.
        assert_eq!(
            f.render(
                Kind::Commitment,
                &with_fees(json!([
                    fee("2025-01-01", "2025-01-01T00:00:00Z", "2025-07-01T00:00:00Z"),
                    fee("2026-01-01", "2025-07-01T00:00:00Z", "2025-07-01T00:00:00Z"),
                ]))
            ),
            ""
        );
        insta::assert_snapshot!(f.render(
            Kind::Commitment,
            &with_fees(json!([
                fee("2025-01-01", "2025-01-01T00:00:00Z", "2025-07-01T00:00:00Z"),
                fee("2026-02-01", "2025-07-01T00:00:00Z", "2025-06-01T00:00:00Z"),
            ]))
        ));
    }

    #[test]
    fn date_only_windows_end_after_they_start() {
        let f = Fixture::default();
        insta::assert_snapshot!(f.render(
            Kind::Contract,
            &body(json!({"startDate": "2025-01-01", "endDate": "2025-01-01"}))
        ));
    }
}
