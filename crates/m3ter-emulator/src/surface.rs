//! What the emulator serves, beyond the router itself: the m3ter paths it
//! deliberately does not serve although they would match one of its `{id}`
//! routes, and the query parameters each route implements (`--strict`
//! refuses the others).

use axum::http::Method;

use m3ter_api::Kind;

use super::error::ApiError;

/// Paths of m3ter's OpenAPI document whose literal last segment sits where
/// an emulator route has `{id}`. They are routed explicitly to "no route",
/// so a client can tell "not emulated" from "no entity with id search".
pub(crate) const NOT_SERVED: &[&str] = &[
    "/organizations/{orgId}/accounts/search",
    "/organizations/{orgId}/bills/search",
    "/organizations/{orgId}/bills/preview",
];

/// Paging parameters of every list.
const PAGING: &[&str] = &["pageSize", "nextToken"];
const BILL_JOBS: &[&str] = &["pageSize", "nextToken", "active", "status"];
const BILLS: &[&str] = &[
    "pageSize",
    "nextToken",
    "locked",
    "excludeLineItems",
    "ids",
    "accountId",
    "billJobId",
    "status",
    "billingFrequency",
    "billDate",
    "billDateStart",
    "billDateEnd",
];

/// Whether the route `template` (a [`axum::extract::MatchedPath`]) reads the
/// query parameter `name` for `method`.
fn implemented(method: &Method, template: &str, name: &str) -> bool {
    let Some(rest) = template.strip_prefix("/organizations/{orgId}/") else {
        return false;
    };
    // A member set's contents list is a POST (a resource group's items).
    if method == Method::POST {
        let contents = Kind::ALL.into_iter().filter_map(Kind::members).any(|m| {
            rest.strip_suffix(m.contents)
                .is_some_and(|r| r.ends_with("/{id}/"))
        });
        return contents && PAGING.contains(&name);
    }
    if method != Method::GET {
        return false;
    }
    let known: &[&str] = match rest {
        "billjobs" => BILL_JOBS,
        "events/fields" => &["eventName"],
        "bills" => BILLS,
        "accounts/{id}/children" | "bills/{id}/lineitems" | "balances/{balanceId}/transactions" => {
            PAGING
        }
        // A typed kind's lists are `<collection>/{type}`.
        coll => match Kind::from_collection(coll.strip_suffix("/{type}").unwrap_or(coll)) {
            Some(kind) => {
                return PAGING.contains(&name) || kind.filters().iter().any(|f| f.param == name);
            }
            None => &[],
        },
    };
    known.contains(&name)
}

/// `--strict`: a 400 naming the query parameters of `raw` that the route
/// `template` does not implement (without `--strict` they are ignored).
pub(crate) fn check_query(method: &Method, template: &str, raw: &str) -> Result<(), ApiError> {
    let mut unknown: Vec<String> = Vec::new();
    for (name, _) in form_urlencoded::parse(raw.as_bytes()) {
        if !implemented(method, template, &name) && !unknown.iter().any(|u| *u == name) {
            unknown.push(name.into_owned());
        }
    }
    if unknown.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = unknown.iter().map(|n| format!("`{n}`")).collect();
    let (noun, verb) = match names.len() {
        1 => ("parameter", "is"),
        _ => ("parameters", "are"),
    };
    Err(ApiError::bad_request(format!(
        "query {noun} {} {verb} not implemented by the emulator for {method} {template} \
         (--strict refuses them); remove them, or run the emulator without --strict to ignore them",
        names.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_know_paging_and_their_filters_only() {
        let get = Method::GET;
        assert!(implemented(
            &get,
            "/organizations/{orgId}/products",
            "pageSize"
        ));
        assert!(implemented(
            &get,
            "/organizations/{orgId}/accountplans",
            "includeall"
        ));
        assert!(!implemented(
            &get,
            "/organizations/{orgId}/products",
            "codes"
        ));
        assert!(!implemented(
            &get,
            "/organizations/{orgId}/bills",
            "includeBillTotal"
        ));
        assert!(!implemented(
            &get,
            "/organizations/{orgId}/bills/{id}",
            "additional"
        ));
        assert!(!implemented(
            &Method::POST,
            "/organizations/{orgId}/products",
            "pageSize"
        ));
        let err = check_query(
            &get,
            "/organizations/{orgId}/bills",
            "additional=a&pageSize=2&additional=b&includeBillTotal=",
        )
        .unwrap_err();
        assert!(
            err.message
                .contains("parameters `additional`, `includeBillTotal` are"),
            "{}",
            err.message
        );
    }
}
