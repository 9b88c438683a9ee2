//! The e-mail checks (`leadgate_core::email`): `is_valid_email` agrees with the WHATWG
//! `input type=email` pattern (written as a regex here, plus the length limit and the dot
//! the domain needs); `classify` (compact lists) and `full::classify` (the relay's complete
//! lists) give no class to an invalid address, and `business` exactly when neither free nor
//! disposable; `suggest_email_fix` keeps the local part, and its suggestion needs no fix.
#![no_main]

use std::sync::OnceLock;

use leadgate_core::email::{self, full, is_valid_email, suggest_email_fix, MAX_EMAIL_LEN};
use leadgate_core::EmailClass;
use libfuzzer_sys::fuzz_target;
use regex::Regex;

/// The WHATWG HTML standard's "valid e-mail address" pattern.
const WHATWG: &str = concat!(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?",
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
);

fn whatwg() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| Regex::new(WHATWG).unwrap_or_else(|e| panic!("{e}")))
}

fuzz_target!(|data: &[u8]| {
    let Ok(address) = std::str::from_utf8(data) else { return };
    let valid = is_valid_email(address);
    let reference = address.len() <= MAX_EMAIL_LEN
        && whatwg().is_match(address)
        && address.split_once('@').is_some_and(|(_, domain)| domain.contains('.'));
    assert_eq!(valid, reference, "{address:?}");
    let _ = email::email_domain(address);

    let trimmed_valid = is_valid_email(address.trim());
    for classes in [email::classify(address), full::classify(address)] {
        if trimmed_valid {
            assert_eq!(classes.business, !classes.free && !classes.disposable, "{address:?}");
        } else {
            assert_eq!(classes, Default::default(), "{address:?}");
        }
        let _ = classes.has(EmailClass::Role);
    }
    assert_eq!(email::classify(address).role, full::classify(address).role, "{address:?}");

    if let Some(fixed) = suggest_email_fix(address) {
        let (local, _) = address.trim().rsplit_once('@').unwrap_or_else(|| panic!("{address:?}"));
        assert!(fixed.starts_with(local) && fixed[local.len()..].starts_with('@'), "{fixed:?}");
        assert_eq!(suggest_email_fix(&fixed), None, "{address:?} → {fixed:?}");
    }
});
