//! E-mail address checks, hand-written (a `regex` would add ~200 KB to the widget): syntax,
//! the class of an address (free-mail, disposable, role, business) and typo suggestions.
//!
//! Classification uses the compact lists in [`lists`] (compiled into every build, so the
//! browser and the relay score alike). With the `full-email-lists` feature, [`full`] holds the
//! complete snapshots for the relay's own checks; they do not change a score.

#[cfg(feature = "full-email-lists")]
pub mod full;
mod lists;

pub use lists::SOURCE as LISTS_SOURCE;

/// The longest address accepted (RFC 5321's path limit less the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// Whether `address` is a valid e-mail address by the WHATWG `input type=email` rule, and no
/// longer than [`MAX_EMAIL_LEN`]. The domain must have at least one dot (`a@localhost` is not
/// an address a sales team can use).
pub fn is_valid_email(address: &str) -> bool {
    if address.len() > MAX_EMAIL_LEN {
        return false;
    }
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.bytes().all(|b| b.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&b));
    local_ok && domain.contains('.') && domain.split('.').all(is_domain_label)
}

fn is_domain_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// The lower-cased domain of an address (`Ada@Example.COM` gives `example.com`).
pub fn email_domain(address: &str) -> Option<String> {
    address.rsplit_once('@').map(|(_, d)| d.trim().to_ascii_lowercase())
}

/// The kind of address an e-mail is, for scoring (`email_class`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, leadgate_derive::FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EmailClass {
    /// A free-mail provider (gmail.com, outlook.com, gmx.de, ...).
    Free,
    /// A disposable (throwaway) service (mailinator.com, yopmail.com, ...).
    Disposable,
    /// A shared mailbox rather than a person: `info@`, `sales@`, `support@`, ...
    Role,
    /// A company address: valid, neither free-mail nor disposable (a role mailbox at a
    /// company's domain is both `role` and `business`).
    Business,
}

/// What [`classify`] found out about an address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmailClasses {
    /// The domain is a free-mail provider.
    pub free: bool,
    /// The domain (or a parent domain) is a disposable service.
    pub disposable: bool,
    /// The local part is a shared mailbox (`info`, `sales`, ...).
    pub role: bool,
    /// Valid, neither free-mail nor disposable.
    pub business: bool,
}

impl EmailClasses {
    /// Whether the address has `class`.
    pub fn has(self, class: EmailClass) -> bool {
        match class {
            EmailClass::Free => self.free,
            EmailClass::Disposable => self.disposable,
            EmailClass::Role => self.role,
            EmailClass::Business => self.business,
        }
    }
}

/// Local parts that name a shared mailbox rather than a person, sorted.
const ROLE_MAILBOXES: &[&str] = &[
    "abuse",
    "accounting",
    "accounts",
    "admin",
    "administrator",
    "billing",
    "careers",
    "contact",
    "enquiries",
    "finance",
    "hello",
    "help",
    "hr",
    "info",
    "inquiries",
    "jobs",
    "legal",
    "mail",
    "marketing",
    "media",
    "news",
    "no-reply",
    "noreply",
    "office",
    "postmaster",
    "press",
    "privacy",
    "sales",
    "security",
    "service",
    "support",
    "team",
    "webmaster",
];

/// Classifies an address with the compact lists. An invalid address has no class.
pub fn classify(address: &str) -> EmailClasses {
    let address = address.trim();
    if !is_valid_email(address) {
        return EmailClasses::default();
    }
    let (local, domain) = address.rsplit_once('@').unwrap_or_default();
    let domain = domain.to_ascii_lowercase();
    let local = local.to_ascii_lowercase();
    let mailbox = local.split('+').next().unwrap_or_default();
    let free = lists::COMMON_FREE.binary_search(&domain.as_str()).is_ok();
    let disposable =
        parent_domains(&domain).any(|d| lists::COMMON_DISPOSABLE.binary_search(&d).is_ok());
    EmailClasses {
        free,
        disposable,
        role: ROLE_MAILBOXES.binary_search(&mailbox).is_ok(),
        business: !free && !disposable,
    }
}

/// `a.b.example.com`, `b.example.com`, `example.com` (never the bare top-level domain).
pub(crate) fn parent_domains(domain: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(domain);
    std::iter::from_fn(move || {
        let d = rest?;
        rest = d.split_once('.').map(|(_, r)| r).filter(|r| r.contains('.'));
        Some(d)
    })
}

/// Providers whose misspellings are worth a "did you mean" (the most used first).
const WELL_KNOWN: &[&str] = &[
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "icloud.com",
    "aol.com",
    "live.com",
    "msn.com",
    "googlemail.com",
    "ymail.com",
    "protonmail.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "t-online.de",
    "yandex.ru",
    "mail.ru",
    "comcast.net",
    "verizon.net",
    "sbcglobal.net",
    "btinternet.com",
    "orange.fr",
    "wanadoo.fr",
    "libero.it",
    "hotmail.co.uk",
    "yahoo.co.uk",
    "yahoo.fr",
    "hotmail.fr",
];

/// A likely correction of a misspelt provider: `ada@gmial.com` gives `ada@gmail.com`.
/// `None` when the domain is a known provider, a valid-looking other domain, or too far from
/// any well-known one (one edit, or two for domains of ten letters or more; a swap of two
/// neighbouring letters counts as one edit).
pub fn suggest_email_fix(address: &str) -> Option<String> {
    let (local, domain) = address.trim().rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    let domain = domain.to_ascii_lowercase();
    if lists::COMMON_FREE.binary_search(&domain.as_str()).is_ok()
        || WELL_KNOWN.contains(&domain.as_str())
    {
        return None;
    }
    let limit = if domain.len() >= 10 { 2 } else { 1 };
    let mut best: Option<(usize, &str)> = None;
    let mut tie = false;
    for known in WELL_KNOWN {
        let d = edit_distance(&domain, known);
        match best {
            _ if d > limit => {}
            Some((b, _)) if d > b => {}
            Some((b, _)) if d == b => tie = true,
            _ => {
                best = Some((d, known));
                tie = false;
            }
        }
    }
    let (_, known) = best.filter(|_| !tie)?;
    let mut out = String::with_capacity(local.len() + 1 + known.len());
    out.push_str(local);
    out.push('@');
    out.push_str(known);
    Some(out)
}

/// Optimal string alignment distance (Levenshtein plus swaps of neighbours), on bytes.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > 2 {
        return 3;
    }
    // Three rows: two back (for swaps), one back, current.
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_syntax() {
        let cases = [
            ("ada@example.com", true),
            ("first.last+tag@sub.example.co.uk", true),
            ("o'neil@example.ie", true),
            ("a@b.c", true),
            ("", false),
            ("ada", false),
            ("ada@", false),
            ("@example.com", false),
            ("ada@example", false),
            ("ada@@example.com", false),
            ("ada@exa mple.com", false),
            ("ada @example.com", false),
            ("ada@-example.com", false),
            ("ada@example-.com", false),
            ("ada@example..com", false),
            ("ada@example.com.", false),
        ];
        for (input, want) in cases {
            assert_eq!(is_valid_email(input), want, "{input:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(!is_valid_email(&long));
    }

    #[test]
    fn classes_table() {
        // (address, free, disposable, role, business)
        let cases = [
            ("ada@gmail.com", true, false, false, false),
            ("Ada@GMAIL.com", true, false, false, false),
            ("info@gmail.com", true, false, true, false),
            ("x@mailinator.com", false, true, false, false),
            ("x@eu.mailinator.com", false, true, false, false),
            ("sales@acme.io", false, false, true, true),
            ("sales+eu@acme.io", false, false, true, true),
            ("ada@acme.io", false, false, false, true),
            ("not an address", false, false, false, false),
        ];
        for (address, free, disposable, role, business) in cases {
            let c = classify(address);
            assert_eq!(
                (c.free, c.disposable, c.role, c.business),
                (free, disposable, role, business),
                "{address}"
            );
        }
        assert!(classify("x@yopmail.com").has(EmailClass::Disposable));
    }

    #[test]
    fn compact_lists_are_sorted_and_small() {
        for list in [lists::COMMON_FREE, lists::COMMON_DISPOSABLE, ROLE_MAILBOXES] {
            assert!(
                list.windows(2).all(|w| w[0] < w[1]),
                "{:?}",
                list.windows(2).find(|w| w[0] >= w[1])
            );
        }
        assert!(lists::COMMON_FREE.len() < 400 && lists::COMMON_DISPOSABLE.len() < 400);
    }

    #[test]
    fn typo_suggestions() {
        let cases = [
            ("ada@gmial.com", Some("ada@gmail.com")),
            ("ada@gamil.com", Some("ada@gmail.com")),
            ("ada@gmail.con", Some("ada@gmail.com")),
            ("ada@hotmial.com", Some("ada@hotmail.com")),
            ("ada@yahooo.com", Some("ada@yahoo.com")),
            ("ada@outlok.com", Some("ada@outlook.com")),
            ("ada@comcats.net", Some("ada@comcast.net")),
            ("ada@gmail.com", None),
            ("ada@mail.com", None),
            ("ada@acme.io", None),
            ("ada@example.com", None),
            ("ada", None),
            ("@gmial.com", None),
        ];
        for (input, want) in cases {
            assert_eq!(suggest_email_fix(input).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("gmial.com", "gmail.com"), 1);
        assert_eq!(edit_distance("gmail.com", "gmail.com"), 0);
        assert_eq!(edit_distance("gnail.con", "gmail.com"), 2);
        assert_eq!(edit_distance("a", "abcdef"), 3);
    }

    #[test]
    fn domain() {
        assert_eq!(email_domain("Ada@Example.COM").as_deref(), Some("example.com"));
        assert_eq!(email_domain("nope"), None);
    }
}
