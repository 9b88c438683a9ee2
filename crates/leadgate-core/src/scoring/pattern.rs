//! Simple wildcard patterns, hand-written (the `regex` crate would add ~200 KB to the widget).

/// Whether `text` matches `pattern` as a whole: `*` stands for any run of characters (also
/// none), `?` for exactly one character; everything else stands for itself. There is no
/// escape: a pattern cannot look for a literal `*` or `?`. Runs in O(pattern × text) at
/// worst, without allocating.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    wildcard_from(pattern, text, literal_start(pattern))
}

/// The length of the literal start of `pattern`, before its first `*` or `?` (`/pricing` of
/// `/pricing*`), for [`wildcard_from`].
pub(crate) fn literal_start(pattern: &str) -> usize {
    pattern.bytes().position(|c| matches!(c, b'*' | b'?')).unwrap_or(pattern.len())
}

/// [`wildcard_match`] with the length of the pattern's literal start known (for a pattern
/// matched against many texts): a text without that start is settled at once, and so is one
/// with it when the rest of the pattern is `*`.
pub(crate) fn wildcard_from(pattern: &str, text: &str, literal: usize) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    if !t.starts_with(&p[..literal]) {
        return false;
    }
    if p[literal..] == *b"*" {
        return true;
    }
    let (mut pi, mut ti) = (literal, literal);
    // Where to resume after the last `*`: (pattern index after it, text index it covers to).
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'?') => {
                pi += 1;
                ti += char_len(t[ti]);
            }
            Some(b'*') => {
                pi += 1;
                star = Some((pi, ti));
            }
            Some(c) if *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((after, covered)) if covered < t.len() => {
                    let covered = covered + char_len(t[covered]);
                    star = Some((after, covered));
                    pi = after;
                    ti = covered;
                }
                _ => return false,
            },
        }
    }
    p[pi.min(p.len())..].iter().all(|c| *c == b'*')
}

/// The length of the UTF-8 character that starts with `lead`.
fn char_len(lead: u8) -> usize {
    match lead {
        0xf0.. => 4,
        0xe0.. => 3,
        0xc0.. => 2,
        _ => 1,
    }
}

/// The path of a URL (`https://x.com/pricing?a=1#b` gives `/pricing`); a text that is
/// already a path is returned without its query and fragment.
pub fn url_path(url: &str) -> &str {
    let rest = match after_scheme(url) {
        Some(after) => after.bytes().position(|b| b == b'/').map_or("/", |j| &after[j..]),
        None => url,
    };
    let end = rest.bytes().position(|b| b == b'?' || b == b'#').unwrap_or(rest.len());
    if end == 0 {
        "/"
    } else {
        &rest[..end]
    }
}

/// What follows the first `://` (the scheme's) in `url`, if there is one.
fn after_scheme(url: &str) -> Option<&str> {
    // A byte scan: `str::find("://")` sets up a two-way searcher for every page view.
    let i = url.as_bytes().windows(3).position(|w| w[0] == b':' && w[1..] == *b"//")?;
    Some(&url[i + 3..])
}

/// `text` without the white space at its ends; quick when both ends are visible ASCII (the
/// common case: nothing to trim).
pub(crate) fn trimmed(text: &str) -> &str {
    let visible = |b: Option<&u8>| b.is_some_and(|b| (b'!'..0x7f).contains(b));
    if visible(text.as_bytes().first()) && visible(text.as_bytes().last()) {
        text
    } else {
        text.trim()
    }
}

/// The lower-cased host of a URL (`https://News.Example.com:8080/x` gives
/// `news.example.com`); a bare host is returned as it is, lower-cased.
pub fn url_host(url: &str) -> String {
    host_of(url).to_ascii_lowercase()
}

/// The host of a URL as written (not lower-cased: [`in_domain`] ignores case anyway).
pub(crate) fn host_of(url: &str) -> &str {
    let url = trimmed(url);
    let rest = after_scheme(url).unwrap_or(url);
    let end = rest.bytes().position(|b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
    let host = &rest[..end];
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = &host[..host.bytes().position(|b| b == b':').unwrap_or(host.len())];
    host.trim_end_matches('.')
}

/// Whether `host` is `domain` or one of its subdomains (`news.example.com` is in
/// `example.com`; `badexample.com` is not).
pub fn in_domain(host: &str, domain: &str) -> bool {
    let mut domain = trimmed(domain);
    while let Some(rest) = domain.strip_prefix("*.") {
        domain = rest;
    }
    let domain = domain.trim_end_matches('.').as_bytes();
    let host = host.as_bytes();
    let Some(cut) = host.len().checked_sub(domain.len()) else { return false };
    !domain.is_empty()
        && host[cut..].eq_ignore_ascii_case(domain)
        && (cut == 0 || host[cut - 1] == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_table() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("", "", true),
            ("", "a", false),
            ("/pricing", "/pricing", true),
            ("/pricing", "/pricing/", false),
            ("/pricing*", "/pricing/enterprise", true),
            ("/blog/*", "/blog/", true),
            ("/blog/*", "/blog", false),
            ("/docs/*/api", "/docs/v2/api", true),
            ("/docs/*/api", "/docs/v2/x/api", true),
            ("/docs/*/api", "/docs/v2/apix", false),
            ("?", "é", true),
            ("??", "é", false),
            ("caf?", "café", true),
            ("*é*", "déjà", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("*@acme.*", "ada@acme.io", true),
            ("**", "x", true),
            ("a?c", "abbc", false),
            ("/pricing*", "/pric", false),
            ("/pricing*", "/pricing", true),
            ("abc", "ab", false),
            ("ab*c", "abXc", true),
            ("ab*c", "ab", false),
            ("ab?", "abé", true),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(wildcard_match(pattern, text), want, "{pattern:?} on {text:?}");
        }
    }

    #[test]
    fn paths_and_hosts() {
        assert_eq!(url_path("https://x.com/pricing?a=1#b"), "/pricing");
        assert_eq!(url_path("https://x.com"), "/");
        assert_eq!(url_path("https://x.com?a"), "/");
        assert_eq!(url_path("/blog/a?x"), "/blog/a");
        assert_eq!(url_path("?x"), "/");
        assert_eq!(url_host("https://News.Example.com:8080/x"), "news.example.com");
        assert_eq!(url_host("https://u:p@example.com"), "example.com");
        assert_eq!(url_host("example.com/x"), "example.com");
        assert_eq!(url_host(""), "");
        assert!(in_domain("news.example.com", "example.com"));
        assert!(in_domain("example.com", "Example.com"));
        assert!(in_domain("example.com", "*.example.com"));
        assert!(!in_domain("badexample.com", "example.com"));
        assert!(!in_domain("com", "example.com"));
        assert!(!in_domain("ééé.com", "x.com"));
        assert!(!in_domain("example.com", ""));
    }
}
