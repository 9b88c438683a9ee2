//! The complete free-mail and disposable-domain snapshots (feature `full-email-lists`): for the
//! relay's own checks. Scores use the compact lists only, so the browser and the relay agree.
//! Refreshed by `scripts/refresh-email-lists.py`; the files' headers name source and date.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use super::{is_valid_email, parent_domains, EmailClasses};

const FREE: &str = include_str!("../../data/free-email-domains.txt");
const DISPOSABLE: &str = include_str!("../../data/disposable-email-domains.txt");

fn set(
    data: &'static str,
    cell: &'static OnceLock<BTreeSet<&'static str>>,
) -> &'static BTreeSet<&'static str> {
    cell.get_or_init(|| data.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect())
}

fn free() -> &'static BTreeSet<&'static str> {
    static CELL: OnceLock<BTreeSet<&'static str>> = OnceLock::new();
    set(FREE, &CELL)
}

fn disposable() -> &'static BTreeSet<&'static str> {
    static CELL: OnceLock<BTreeSet<&'static str>> = OnceLock::new();
    set(DISPOSABLE, &CELL)
}

/// The `# source:` and `# date:` lines of both snapshots.
pub fn sources() -> Vec<&'static str> {
    [FREE, DISPOSABLE]
        .iter()
        .flat_map(|d| {
            d.lines().take(4).filter(|l| l.starts_with("# source") || l.starts_with("# date"))
        })
        .collect()
}

/// How many domains each full list holds: (free, disposable).
pub fn counts() -> (usize, usize) {
    (free().len(), disposable().len())
}

/// Like [`super::classify`], with the complete lists.
pub fn classify(address: &str) -> EmailClasses {
    let compact = super::classify(address);
    if !is_valid_email(address.trim()) {
        return compact;
    }
    let domain =
        address.trim().rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
    let free = free().contains(domain.as_str());
    let disposable = parent_domains(&domain).any(|d| disposable().contains(d));
    EmailClasses { free, disposable, role: compact.role, business: !free && !disposable }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_lists_know_more() {
        let (f, d) = counts();
        assert!(f > 1000 && d > 1000, "{f} {d}");
        assert_eq!(sources().len(), 4);
        assert!(classify("ada@gmail.com").free);
        let rare = disposable()
            .iter()
            .find(|d| !super::super::classify(&("x@".to_string() + d)).disposable);
        let rare = rare.expect("some disposable domain is only in the full list");
        assert!(classify(&("x@".to_string() + rare)).disposable);
    }
}
