//! E-mail address checks, hand-written (a `regex` would add ~200 KB to the widget).

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
    fn domain() {
        assert_eq!(email_domain("Ada@Example.COM").as_deref(), Some("example.com"));
        assert_eq!(email_domain("nope"), None);
    }
}
