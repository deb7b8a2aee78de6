//! Webhooks: the destination URL must be one m3ter can send to.

use super::{Body, Finding, str_of};

pub(crate) const URL: &str = "webhook.url";

/// `url` is an absolute `http` or `https` URL with a host and no
/// whitespace. The message never repeats the URL: it may carry a token in
/// its query.
pub(crate) fn check(body: &Body, out: &mut Vec<Finding>) {
    let Some(url) = str_of(body, "url") else {
        return; // missing or not a string: a field-level violation
    };
    if let Some(why) = invalid(url) {
        out.push(Finding::error(
            URL,
            "url",
            format!("`url` is not a valid webhook URL: {why}; write an absolute URL such as `https://example.com/m3ter/events`"),
        ));
    }
}

fn invalid(url: &str) -> Option<&'static str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some("it has no `scheme://`");
    };
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Some("the scheme must be `https` or `http`");
    }
    if url.chars().any(char::is_whitespace) {
        return Some("it contains whitespace");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        // `[::1]:8080`-style hosts are left whole.
        Some((h, port)) if !host.starts_with('[') => {
            if !port.is_empty() && port.parse::<u16>().is_err() {
                return Some("the port is not a number from 0 to 65535");
            }
            h
        }
        _ => host,
    };
    if host.is_empty() {
        return Some("it has no host");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::invalid;

    #[test]
    fn urls() {
        for ok in [
            "https://example.com/hook",
            "http://127.0.0.1:8080/x?token=1",
            "https://user@hooks.example.com",
        ] {
            assert_eq!(invalid(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("example.com/hook", "it has no `scheme://`"),
            ("ftp://example.com", "the scheme must be `https` or `http`"),
            ("https://", "it has no host"),
            ("https:///path", "it has no host"),
            ("https://exa mple.com", "it contains whitespace"),
            (
                "https://example.com:http/",
                "the port is not a number from 0 to 65535",
            ),
        ] {
            assert_eq!(invalid(bad), Some(why), "{bad}");
        }
    }
}
