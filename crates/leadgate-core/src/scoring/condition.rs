//! Conditions: rules as data (an enum tagged by `op`), evaluated with `match`, described in words.

use serde::Serialize;

use std::borrow::Cow;

use super::pattern::{
    host_of, in_domain, literal_start, trimmed, url_path, wildcard_from, wildcard_match,
};
use crate::config::{ConfigError, ConfigErrorKind, FormConfig};
use crate::context::{VisitorContext, CLICK_IDS};
use crate::email::{classify, EmailClass, EmailClasses};
use crate::json::indexed;
use crate::lead::{FieldValue, Lead};
use crate::time::Timestamp;

/// The default of `ignore_case` (for the reader and the schema).
pub(super) fn yes() -> bool {
    true
}

/// The default `count` of `pages_matching_at_least` (for the reader and the schema).
pub(super) fn one() -> u32 {
    1
}

/// A condition on the lead's answers or on the visitor's context. Text comparisons trim
/// spaces and ignore case unless `"ignore_case": false`.
// Read by hand (`read.rs`: every op checked for the keys it takes); written, and described
// by the schema, as the tagged enum it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Condition {
    /// The answer equals `value`: `{"op": "equals", "field": "role", "value": "CTO"}`.
    Equals {
        /// The field's name.
        field: String,
        /// The value to compare with.
        value: String,
        /// Whether upper and lower case count as the same. Defaults to true.
        #[serde(default = "yes")]
        ignore_case: bool,
    },
    /// The answer is one of `values`.
    OneOf {
        /// The field's name.
        field: String,
        /// The accepted values (at least one).
        values: Vec<String>,
        /// Whether upper and lower case count as the same. Defaults to true.
        #[serde(default = "yes")]
        ignore_case: bool,
    },
    /// The answer contains `value`.
    Contains {
        /// The field's name.
        field: String,
        /// The text to look for.
        value: String,
        /// Whether upper and lower case count as the same. Defaults to true.
        #[serde(default = "yes")]
        ignore_case: bool,
    },
    /// The answer starts with `value`.
    StartsWith {
        /// The field's name.
        field: String,
        /// The beginning to look for.
        value: String,
        /// Whether upper and lower case count as the same. Defaults to true.
        #[serde(default = "yes")]
        ignore_case: bool,
    },
    /// The answer ends with `value`.
    EndsWith {
        /// The field's name.
        field: String,
        /// The ending to look for.
        value: String,
        /// Whether upper and lower case count as the same. Defaults to true.
        #[serde(default = "yes")]
        ignore_case: bool,
    },
    /// The whole answer matches a wildcard pattern: `*` is any text, `?` one character
    /// (`"*@acme.*"`, `"VP *"`).
    Matches {
        /// The field's name.
        field: String,
        /// The pattern.
        pattern: String,
        /// Whether upper and lower case count as the same. Defaults to true.
        #[serde(default = "yes")]
        ignore_case: bool,
    },
    /// The answer is a number (`1,200` counts) of at least `value`.
    AtLeast {
        /// The field's name.
        field: String,
        /// The lowest accepted number.
        value: f64,
    },
    /// The answer is a number of at most `value`.
    AtMost {
        /// The field's name.
        field: String,
        /// The highest accepted number.
        value: f64,
    },
    /// The answer is a number from `min` to `max`, both included.
    Between {
        /// The field's name.
        field: String,
        /// The lowest accepted number.
        min: f64,
        /// The highest accepted number.
        max: f64,
    },
    /// The field has an answer (non-blank text, a ticked box).
    Present {
        /// The field's name.
        field: String,
    },
    /// The field has no answer (left out, blank, or an unticked box).
    Absent {
        /// The field's name.
        field: String,
    },
    /// The e-mail address is of a class: `free`, `disposable`, `role` (info@, sales@, ...)
    /// or `business` (neither free nor disposable).
    EmailClass {
        /// The e-mail field's name.
        field: String,
        /// The class.
        class: EmailClass,
    },
    /// The e-mail address's domain is one of `domains` or a subdomain of one
    /// (competitors, customers).
    EmailDomainIn {
        /// The e-mail field's name.
        field: String,
        /// The domains, e.g. `["rival.com"]` (at least one).
        domains: Vec<String>,
    },
    /// The visitor came at least `count` times (visits, this one included).
    VisitsAtLeast {
        /// The lowest number of visits.
        count: u32,
    },
    /// At least `count` page views whose path matches `pattern` (`/pricing*`). Each matching
    /// view from the `count`-th on is one occurrence (a repeatable rule scores each).
    PagesMatchingAtLeast {
        /// A wildcard pattern for the path (`*` any text, `?` one character).
        pattern: String,
        /// The lowest number of matching views. Defaults to 1.
        #[serde(default = "one")]
        count: u32,
        /// Whether upper and lower case count as the same. Defaults to true.
        #[serde(default = "yes")]
        ignore_case: bool,
    },
    /// At least `seconds` spent on the site, all visits together.
    SecondsOnSiteAtLeast {
        /// The lowest number of seconds.
        seconds: u64,
    },
    /// A UTM parameter equals `value` or one of `values` (give one of the two).
    Utm {
        /// Which parameter.
        param: UtmParam,
        /// The value to compare with.
        #[serde(default)]
        value: Option<String>,
        /// The accepted values.
        #[serde(default)]
        values: Vec<String>,
        /// Which arrival to look at. Defaults to `any`.
        #[serde(default)]
        touch: TouchScope,
    },
    /// The referrer's host is one of `domains` or a subdomain of one.
    ReferrerDomain {
        /// The domains, e.g. `["linkedin.com", "g2.com"]` (at least one).
        domains: Vec<String>,
        /// Which arrival to look at. Defaults to `any`.
        #[serde(default)]
        touch: TouchScope,
    },
    /// The visitor arrived through an ad click: one of `ids` (e.g. `["gclid"]`) is present;
    /// any click id when `ids` is left out.
    ClickIdPresent {
        /// The click ids to look for. Defaults to all of them.
        #[serde(default)]
        ids: Vec<String>,
        /// Which arrival to look at. Defaults to `any`.
        #[serde(default)]
        touch: TouchScope,
    },
    /// The live score has at least `points`, in total or in `group`: only in a field's or a
    /// step's `show_if`/`required_if`, where it is the score of the answers asked before it.
    ScoreAtLeast {
        /// The lowest points.
        points: i64,
        /// The group whose points count (e.g. `fit`). Defaults to the total.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
    },
    /// The live score's grade is `grade` or a better one (like `score_at_least`, only in
    /// `show_if`/`required_if`).
    GradeAtLeast {
        /// The lowest grade, one of `scoring.grades`.
        grade: String,
    },
    /// Every one of `conditions` holds.
    All {
        /// The conditions (at least one).
        conditions: Vec<Condition>,
    },
    /// At least one of `conditions` holds.
    Any {
        /// The conditions (at least one).
        conditions: Vec<Condition>,
    },
    /// `condition` does not hold.
    Not {
        /// The condition.
        condition: Box<Condition>,
    },
}

/// A UTM parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, leadgate_derive::FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum UtmParam {
    /// `utm_source`.
    Source,
    /// `utm_medium`.
    Medium,
    /// `utm_campaign`.
    Campaign,
    /// `utm_term`.
    Term,
    /// `utm_content`.
    Content,
}

impl UtmParam {
    fn key(self) -> &'static str {
        match self {
            UtmParam::Source => "utm_source",
            UtmParam::Medium => "utm_medium",
            UtmParam::Campaign => "utm_campaign",
            UtmParam::Term => "utm_term",
            UtmParam::Content => "utm_content",
        }
    }
}

/// Which arrival an attribution condition looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, leadgate_derive::FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TouchScope {
    /// The page the form is on, the last touch or the first touch (the most recent that
    /// matches counts).
    #[default]
    Any,
    /// The page the form is on.
    Current,
    /// The arrival that started this visit.
    Last,
    /// The visitor's first arrival.
    First,
}

/// What a condition is evaluated on.
pub(crate) struct Facts<'a> {
    pub lead: &'a Lead,
    pub context: &'a VisitorContext,
    pub now: Timestamp,
    /// When the first and last touch happened (`now` when unknown).
    pub first_at: Timestamp,
    pub last_at: Timestamp,
    /// The page patterns of the rules being scored (`ScoringConfig::page_patterns`): the first
    /// page condition matches the page views against all of them in one pass.
    pub patterns: &'a [(String, bool)],
    /// Page views already matched, by pattern: each pattern is matched once per score.
    matched: std::cell::RefCell<Vec<PageMatch<'a>>>,
    /// The last address classified, with its classes (rules often ask about the same one).
    classified: std::cell::Cell<Option<(&'a str, EmailClasses)>>,
    /// The live score and its config, for `score_at_least` and `grade_at_least` (none while
    /// scoring: those ops are refused in rules).
    pub live: Option<(&'a crate::scoring::Score, &'a crate::scoring::ScoringConfig)>,
}

impl<'a> Facts<'a> {
    pub fn new(lead: &'a Lead, context: &'a VisitorContext, now: Timestamp) -> Self {
        let at = |t: &Option<crate::context::Touch>| {
            t.as_ref().and_then(|t| Timestamp::parse_rfc3339(&t.at)).unwrap_or(now)
        };
        Facts {
            lead,
            context,
            now,
            first_at: at(&context.first_touch),
            last_at: at(&context.last_touch),
            patterns: &[],
            matched: std::cell::RefCell::new(Vec::new()),
            classified: std::cell::Cell::new(None),
            live: None,
        }
    }

    /// Matches the recent page views up to `now` against every pattern of `matches` in one
    /// pass, adding the times of the views that match to its `times`, oldest first. Views of
    /// the same path match the same patterns: the last `RECENT` distinct paths are kept with
    /// what each pattern said of them, so a view of one of them is not matched again.
    fn match_pages(&self, matches: &mut [PageMatch]) {
        const RECENT: usize = 8;
        let views = self.context.recent_pages();
        for m in matches.iter_mut() {
            m.times.reserve(views.len());
        }
        let n = matches.len();
        // The recent paths (with the last URL seen of each: a view of the same URL is known
        // without cutting its path out again), and a row of `held` for each: whether each
        // pattern matched it.
        let mut recent: Vec<(&str, &str)> = Vec::with_capacity(RECENT);
        let mut held = vec![false; RECENT * n];
        let (mut buf, mut added) = ([0u8; 64], 0);
        for view in views.iter().filter(|p| p.at <= self.now) {
            let url = view.url.as_str();
            let known = recent.iter().position(|(u, _)| *u == url);
            let row = known.unwrap_or_else(|| {
                let path = url_path(url);
                if let Some(row) = recent.iter().position(|(_, p)| *p == path) {
                    recent[row].0 = url;
                    return row;
                }
                // The oldest path makes room once there are `RECENT`.
                let row = added % RECENT;
                added += 1;
                match recent.get_mut(row) {
                    Some(slot) => *slot = (url, path),
                    None => recent.push((url, path)),
                }
                let lower = fold_in(path, true, &mut buf);
                for (m, held) in matches.iter().zip(&mut held[row * n..]) {
                    *held = wildcard_from(
                        &m.folded,
                        if m.ignore_case { &lower } else { path },
                        m.literal,
                    );
                }
                row
            });
            for (m, held) in matches.iter_mut().zip(&held[row * n..]) {
                if *held {
                    m.times.push(view.at);
                }
            }
        }
        for m in matches {
            sort_short(&mut m.times, |t| *t);
        }
    }

    /// The arrivals in scope, most recent first: (when, page URL, referrer, utm, click ids).
    fn touches(&self, scope: TouchScope) -> impl Iterator<Item = TouchView<'a>> + '_ {
        let c = self.context;
        let current = TouchView {
            at: self.now,
            referrer: c.referrer.as_deref(),
            utm: &c.utm,
            click_ids: &c.click_ids,
        };
        let from = |t: &'a Option<crate::context::Touch>, at| {
            t.as_ref().map(|t| TouchView {
                at,
                referrer: t.referrer.as_deref(),
                utm: &t.utm,
                click_ids: &t.click_ids,
            })
        };
        let (cur, last, first) = match scope {
            TouchScope::Any => (true, true, true),
            TouchScope::Current => (true, false, false),
            TouchScope::Last => (false, true, false),
            TouchScope::First => (false, false, true),
        };
        cur.then_some(current)
            .into_iter()
            .chain(if last { from(&c.last_touch, self.last_at) } else { None })
            .chain(if first { from(&c.first_touch, self.first_at) } else { None })
    }
}

/// The page views that match a `pages_matching_at_least` pattern.
struct PageMatch<'a> {
    /// The pattern as written, with its `ignore_case`: what the conditions look it up by.
    pattern: Cow<'a, str>,
    ignore_case: bool,
    /// The pattern folded as `ignore_case` says, and the length of its literal start.
    folded: Cow<'a, str>,
    literal: usize,
    /// When the matching views happened, oldest first.
    times: Vec<Timestamp>,
}

impl<'a> PageMatch<'a> {
    fn new(pattern: Cow<'a, str>, ignore_case: bool) -> Self {
        let folded = match &pattern {
            Cow::Borrowed(p) => fold(p, ignore_case),
            Cow::Owned(p) => Cow::Owned(fold(p, ignore_case).into_owned()),
        };
        let literal = literal_start(&folded);
        PageMatch { pattern, ignore_case, folded, literal, times: Vec::new() }
    }
}

struct TouchView<'a> {
    at: Timestamp,
    referrer: Option<&'a str>,
    utm: &'a crate::Map<String>,
    click_ids: &'a crate::Map<String>,
}

/// Text compared as configured: trimmed, and lower-cased when case is ignored.
pub(crate) fn fold(text: &str, ignore_case: bool) -> Cow<'_, str> {
    let text = trimmed(text);
    let upper = |t: &str| {
        if t.is_ascii() {
            t.bytes().any(|b| b.is_ascii_uppercase())
        } else {
            t.chars().any(char::is_uppercase)
        }
    };
    if ignore_case && upper(text) {
        Cow::Owned(text.to_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// Whether `a` and `b` are the same once folded (`fold(a) == fold(b)`), without folding
/// ASCII text.
pub(crate) fn same_text(a: &str, b: &str, ignore_case: bool) -> bool {
    let (a, b) = (trimmed(a), trimmed(b));
    match ignore_case {
        false => a == b,
        true if a.is_ascii() && b.is_ascii() => a.eq_ignore_ascii_case(b),
        true => fold(a, true) == fold(b, true),
    }
}

/// [`fold`] that lower-cases short ASCII text into `buf` instead of allocating (for ASCII,
/// lower-casing only when there is an upper-case letter is the same as always lower-casing).
fn fold_in<'b>(text: &'b str, ignore_case: bool, buf: &'b mut [u8; 64]) -> Cow<'b, str> {
    let text = trimmed(text);
    // Nothing to lower-case (the common case), seen in one pass.
    if !ignore_case || !text.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        return Cow::Borrowed(text);
    }
    match buf.get_mut(..text.len()) {
        Some(buf) if text.is_ascii() => {
            buf.copy_from_slice(text.as_bytes());
            buf.make_ascii_lowercase();
            Cow::Borrowed(std::str::from_utf8(buf).unwrap_or_default())
        }
        _ => fold(text, ignore_case),
    }
}

impl Condition {
    /// Whether the condition holds now, with no window on the evidence.
    pub fn holds(&self, lead: &Lead, context: &VisitorContext, now: Timestamp) -> bool {
        let mut out = Vec::new();
        self.occurrences(&Facts::new(lead, context, now), Timestamp(0), &mut out)
    }

    /// Whether the condition holds now, `live` being the score of the answers so far and its
    /// config (for `score_at_least` and `grade_at_least`).
    pub fn holds_live(
        &self,
        lead: &Lead,
        context: &VisitorContext,
        now: Timestamp,
        live: Option<(&crate::scoring::Score, &crate::scoring::ScoringConfig)>,
    ) -> bool {
        let mut facts = Facts::new(lead, context, now);
        facts.live = live;
        self.occurrences(&facts, Timestamp(0), &mut Vec::new())
    }

    /// Appends to `out` when the condition held: one time for most conditions (`now` for
    /// answers and counters, the touch's time for attribution), one per counted page view for
    /// `pages_matching_at_least`, the union for `any`. Evidence before `since` is ignored.
    /// Returns whether the condition holds.
    pub(crate) fn occurrences(
        &self,
        f: &Facts,
        since: Timestamp,
        out: &mut Vec<Timestamp>,
    ) -> bool {
        let answer = |field: &str| f.lead.value(field);
        let text = |field: &str| answer(field).map_or("", FieldValue::as_text);
        // Scratch space to fold the answer and a value without allocating.
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        let holds = match self {
            Condition::Equals { field, value, ignore_case } => {
                same_text(text(field), value, *ignore_case)
            }
            Condition::OneOf { field, values, ignore_case } => {
                let t = text(field);
                values.iter().any(|v| same_text(t, v, *ignore_case))
            }
            Condition::Contains { field, value, ignore_case } => {
                let t = fold_in(text(field), *ignore_case, &mut a);
                !t.is_empty() && t.contains(fold_in(value, *ignore_case, &mut b).as_ref())
            }
            Condition::StartsWith { field, value, ignore_case } => {
                let t = fold_in(text(field), *ignore_case, &mut a);
                !t.is_empty() && t.starts_with(fold_in(value, *ignore_case, &mut b).as_ref())
            }
            Condition::EndsWith { field, value, ignore_case } => {
                let t = fold_in(text(field), *ignore_case, &mut a);
                !t.is_empty() && t.ends_with(fold_in(value, *ignore_case, &mut b).as_ref())
            }
            Condition::Matches { field, pattern, ignore_case } => {
                answer(field).is_some()
                    && wildcard_match(
                        &fold_in(pattern, *ignore_case, &mut b),
                        &fold_in(text(field), *ignore_case, &mut a),
                    )
            }
            Condition::AtLeast { field, value } => {
                number(answer(field)).is_some_and(|n| n >= *value)
            }
            Condition::AtMost { field, value } => {
                number(answer(field)).is_some_and(|n| n <= *value)
            }
            Condition::Between { field, min, max } => {
                number(answer(field)).is_some_and(|n| *min <= n && n <= *max)
            }
            Condition::Present { field } => answer(field).is_some_and(FieldValue::is_present),
            Condition::Absent { field } => !answer(field).is_some_and(FieldValue::is_present),
            Condition::EmailClass { field, class } => {
                let address = text(field);
                let classes = match f.classified.get() {
                    Some((known, classes)) if known == address => classes,
                    _ => classify(address),
                };
                f.classified.set(Some((address, classes)));
                classes.has(*class)
            }
            // The domain as typed: `in_domain` ignores case.
            Condition::EmailDomainIn { field, domains } => text(field)
                .rsplit_once('@')
                .map(|(_, d)| d.trim())
                .is_some_and(|d| !d.is_empty() && domains.iter().any(|x| in_domain(d, x))),
            Condition::VisitsAtLeast { count } => f.context.visits >= *count,
            Condition::SecondsOnSiteAtLeast { seconds } => f.context.seconds_on_site >= *seconds,
            Condition::PagesMatchingAtLeast { pattern, count, ignore_case } => {
                let mut matched = f.matched.borrow_mut();
                let find = |m: &[PageMatch]| {
                    m.iter().position(|m| m.pattern == *pattern && m.ignore_case == *ignore_case)
                };
                let index = match find(&matched) {
                    Some(index) => index,
                    None => {
                        // The first page condition matches all the rules' patterns in one
                        // pass; one that is not among them (a form's logic) gets a pass of
                        // its own.
                        let start = matched.len();
                        if start == 0 {
                            matched.extend(f.patterns.iter().map(|(p, i)| PageMatch::new(p.into(), *i)));
                        }
                        let index = find(&matched).unwrap_or_else(|| {
                            matched.push(PageMatch::new(pattern.clone().into(), *ignore_case));
                            matched.len() - 1
                        });
                        f.match_pages(&mut matched[start..]);
                        index
                    }
                };
                // The times are in order: those from `since` on are the end of the list.
                let times = &matched[index].times;
                let times = &times[times.partition_point(|at| *at < since)..];
                let need = (*count).max(1) as usize;
                // The first occurrence is the view that reached the count.
                out.extend_from_slice(times.get(need - 1..).unwrap_or_default());
                return times.len() >= need;
            }
            Condition::Utm { param, value, values, touch } => {
                let ok = |v: &String| value.iter().chain(values).any(|x| same_text(v, x, true));
                return push_touch(f, *touch, since, out, |t| {
                    t.utm.get(param.key()).is_some_and(ok)
                });
            }
            Condition::ReferrerDomain { domains, touch } => {
                return push_touch(f, *touch, since, out, |t| {
                    t.referrer.map(host_of).is_some_and(|h| domains.iter().any(|d| in_domain(h, d)))
                });
            }
            Condition::ClickIdPresent { ids, touch } => {
                return push_touch(f, *touch, since, out, |t| {
                    t.click_ids.iter().any(|(k, v)| {
                        !v.trim().is_empty()
                            && (ids.is_empty() || ids.iter().any(|i| i.eq_ignore_ascii_case(k)))
                    })
                });
            }
            Condition::ScoreAtLeast { points, group } => f.live.is_some_and(|(score, _)| {
                let got = match group {
                    Some(g) => score.groups.get(g).copied().unwrap_or(0),
                    None => score.total,
                };
                got >= *points
            }),
            Condition::GradeAtLeast { grade } => f.live.is_some_and(|(score, config)| {
                // Grades go from the best down: at least `grade` is at its place or before.
                let place = |g: &str| config.grades.iter().position(|b| b.grade == g);
                matches!((place(&score.grade), place(grade)), (Some(got), Some(need)) if got <= need)
            }),
            Condition::All { conditions } => {
                // Holds from the moment the last of them started to hold: one occurrence.
                let start = out.len();
                let mut at = Timestamp(0);
                for c in conditions {
                    if !c.occurrences(f, since, out) {
                        out.truncate(start);
                        return false;
                    }
                    at = at.max(out[start..].iter().copied().min().unwrap_or(f.now));
                    out.truncate(start);
                }
                out.push(at);
                return !conditions.is_empty();
            }
            Condition::Any { conditions } => {
                let start = out.len();
                let mut any = false;
                for c in conditions {
                    any |= c.occurrences(f, since, out);
                }
                sort_short(&mut out[start..], |t| *t);
                return any;
            }
            Condition::Not { condition } => {
                let start = out.len();
                let inner = condition.occurrences(f, since, out);
                out.truncate(start);
                !inner
            }
        };
        if holds {
            out.push(f.now);
        }
        holds
    }

    /// The condition in words, e.g. `size is one of "200-999", "1000+"`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        self.describe_into(&mut out);
        out
    }

    fn describe_into(&self, out: &mut String) {
        let q = |out: &mut String, v: &str| {
            out.push('"');
            out.push_str(v);
            out.push('"');
        };
        let list = |out: &mut String, vs: &[String]| {
            for (i, v) in vs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                q(out, v);
            }
        };
        let field_then = |out: &mut String, field: &str, words: &str| {
            out.push_str(field);
            out.push_str(words);
        };
        match self {
            Condition::Equals { field, value, .. } => {
                field_then(out, field, " is ");
                q(out, value);
            }
            Condition::OneOf { field, values, .. } => {
                field_then(out, field, " is one of ");
                list(out, values);
            }
            Condition::Contains { field, value, .. } => {
                field_then(out, field, " contains ");
                q(out, value);
            }
            Condition::StartsWith { field, value, .. } => {
                field_then(out, field, " starts with ");
                q(out, value);
            }
            Condition::EndsWith { field, value, .. } => {
                field_then(out, field, " ends with ");
                q(out, value);
            }
            Condition::Matches { field, pattern, .. } => {
                field_then(out, field, " matches ");
                q(out, pattern);
            }
            Condition::AtLeast { field, value } => {
                field_then(out, field, " is at least ");
                out.push_str(&number_text(*value));
            }
            Condition::AtMost { field, value } => {
                field_then(out, field, " is at most ");
                out.push_str(&number_text(*value));
            }
            Condition::Between { field, min, max } => {
                field_then(out, field, " is between ");
                out.push_str(&number_text(*min));
                out.push_str(" and ");
                out.push_str(&number_text(*max));
            }
            Condition::Present { field } => field_then(out, field, " is filled in"),
            Condition::Absent { field } => field_then(out, field, " is empty"),
            Condition::EmailClass { field, class } => {
                field_then(out, field, " is a ");
                out.push_str(match class {
                    EmailClass::Free => "free-mail",
                    EmailClass::Disposable => "disposable",
                    EmailClass::Role => "role",
                    EmailClass::Business => "business",
                });
                out.push_str(" address");
            }
            Condition::EmailDomainIn { field, domains } => {
                field_then(out, field, " is at ");
                list(out, domains);
            }
            Condition::VisitsAtLeast { count } => {
                out.push_str("at least ");
                out.push_str(&count.to_string());
                out.push_str(" visits");
            }
            Condition::PagesMatchingAtLeast { pattern, count, .. } => {
                out.push_str("viewed ");
                q(out, pattern);
                if *count > 1 {
                    out.push_str(" at least ");
                    out.push_str(&count.to_string());
                    out.push_str(" times");
                }
            }
            Condition::SecondsOnSiteAtLeast { seconds } => {
                out.push_str("at least ");
                out.push_str(&seconds.to_string());
                out.push_str(" s on the site");
            }
            Condition::Utm { param, value, values, .. } => {
                out.push_str(param.key());
                let mut all: Vec<String> = value.iter().cloned().collect();
                all.extend(values.iter().cloned());
                out.push_str(if all.len() > 1 { " is one of " } else { " is " });
                list(out, &all);
            }
            Condition::ReferrerDomain { domains, .. } => {
                out.push_str("came from ");
                list(out, domains);
            }
            Condition::ClickIdPresent { ids, .. } => {
                out.push_str("came through an ad click");
                if !ids.is_empty() {
                    out.push_str(" (");
                    list(out, ids);
                    out.push(')');
                }
            }
            Condition::ScoreAtLeast { points, group } => {
                if let Some(g) = group {
                    out.push_str(g);
                    out.push(' ');
                }
                out.push_str("score is at least ");
                out.push_str(&points.to_string());
            }
            Condition::GradeAtLeast { grade } => {
                out.push_str("grade is ");
                q(out, grade);
                out.push_str(" or better");
            }
            Condition::All { conditions } | Condition::Any { conditions } => {
                let joint = if matches!(self, Condition::All { .. }) { " and " } else { " or " };
                for (i, c) in conditions.iter().enumerate() {
                    if i > 0 {
                        out.push_str(joint);
                    }
                    out.push('(');
                    c.describe_into(out);
                    out.push(')');
                }
            }
            Condition::Not { condition } => {
                out.push_str("not (");
                condition.describe_into(out);
                out.push(')');
            }
        }
    }

    /// Checks what reading can't, naming the place under `path` (e.g. `scoring.rules[3].when`).
    pub(crate) fn validate(&self, path: &str, form: &FormConfig) -> Result<(), ConfigError> {
        let at = |what: &str| {
            let mut p = String::from(path);
            p.push('.');
            p.push_str(what);
            p
        };
        let field_exists = |field: &str| {
            if form.field(field).is_none() {
                let kind = ConfigErrorKind::UnknownField(field.into());
                return Err(ConfigError::at(at("field"), kind));
            }
            Ok(())
        };
        let not_empty = |what: &str, n: usize, message: &str| {
            if n == 0 {
                return Err(ConfigError::invalid(at(what), message));
            }
            Ok(())
        };
        let finite = |what: &str, n: f64| {
            if !n.is_finite() {
                return Err(ConfigError::invalid(at(what), "expected a finite number"));
            }
            Ok(())
        };
        match self {
            Condition::Equals { field, .. }
            | Condition::Contains { field, .. }
            | Condition::StartsWith { field, .. }
            | Condition::EndsWith { field, .. }
            | Condition::Present { field }
            | Condition::Absent { field } => field_exists(field),
            Condition::OneOf { field, values, .. } => {
                field_exists(field)?;
                not_empty("values", values.len(), "one_of needs at least one value")
            }
            Condition::Matches { field, pattern, .. } => {
                field_exists(field)?;
                not_empty(
                    "pattern",
                    pattern.trim().len(),
                    "expected a pattern such as \"*@acme.*\"",
                )
            }
            Condition::AtLeast { field, value } | Condition::AtMost { field, value } => {
                field_exists(field)?;
                finite("value", *value)
            }
            Condition::Between { field, min, max } => {
                field_exists(field)?;
                finite("min", *min)?;
                finite("max", *max)?;
                if min > max {
                    return Err(ConfigError::invalid(at("max"), "max must not be lower than min"));
                }
                Ok(())
            }
            Condition::EmailClass { field, .. } => field_exists(field),
            Condition::EmailDomainIn { field, domains } => {
                field_exists(field)?;
                domains_ok(&at("domains"), domains)
            }
            Condition::VisitsAtLeast { count } | Condition::PagesMatchingAtLeast { count, .. }
                if *count == 0 =>
            {
                Err(ConfigError::invalid(at("count"), "expected a count of at least 1"))
            }
            Condition::PagesMatchingAtLeast { pattern, .. } => not_empty(
                "pattern",
                pattern.trim().len(),
                "expected a path pattern such as \"/pricing*\"",
            ),
            Condition::VisitsAtLeast { .. } | Condition::SecondsOnSiteAtLeast { .. } => Ok(()),
            Condition::Utm { value, values, .. } => match (value, values.is_empty()) {
                (Some(_), true) | (None, false) => Ok(()),
                _ => Err(ConfigError::invalid(
                    path,
                    "utm needs either \"value\": \"...\" or \"values\": [...], not both or neither",
                )),
            },
            Condition::ReferrerDomain { domains, .. } => domains_ok(&at("domains"), domains),
            Condition::ClickIdPresent { ids, .. } => {
                match ids.iter().position(|i| !CLICK_IDS.contains(&i.as_str())) {
                    Some(i) => Err(ConfigError::invalid(
                        indexed(&at("ids"), i, ""),
                        "unknown click id \"".to_string()
                            + &ids[i]
                            + "\", expected one of "
                            + &CLICK_IDS.join(", "),
                    )),
                    None => Ok(()),
                }
            }
            Condition::All { conditions } | Condition::Any { conditions } => {
                not_empty("conditions", conditions.len(), "expected at least one condition")?;
                for (i, c) in conditions.iter().enumerate() {
                    c.validate(&indexed(&at("conditions"), i, ""), form)?;
                }
                Ok(())
            }
            Condition::Not { condition } => condition.validate(&at("condition"), form),
            Condition::ScoreAtLeast { group, .. } => match group {
                Some(g) if !form.scoring.group_names().any(|n| n == g) => {
                    let known = form.scoring.group_names().map(String::from).collect();
                    let kind = ConfigErrorKind::UnknownGroup { name: g.clone(), known };
                    Err(ConfigError::at(at("group"), kind))
                }
                _ => Ok(()),
            },
            Condition::GradeAtLeast { grade } => {
                if form.scoring.grades.iter().any(|b| &b.grade == grade) {
                    return Ok(());
                }
                let known = form.scoring.grades.iter().map(|b| b.grade.clone()).collect();
                let kind = ConfigErrorKind::UnknownGrade { name: grade.clone(), known };
                Err(ConfigError::at(at("grade"), kind))
            }
        }
    }

    /// What the condition is made of: the field whose answer it reads (the answer and e-mail
    /// conditions) and the conditions inside it (`all`, `any`, `not`). The one exhaustive list
    /// the walks over conditions below (and the form logic's) go by.
    pub fn parts(&self) -> (Option<&str>, &[Condition]) {
        match self {
            Condition::Equals { field, .. }
            | Condition::OneOf { field, .. }
            | Condition::Contains { field, .. }
            | Condition::StartsWith { field, .. }
            | Condition::EndsWith { field, .. }
            | Condition::Matches { field, .. }
            | Condition::AtLeast { field, .. }
            | Condition::AtMost { field, .. }
            | Condition::Between { field, .. }
            | Condition::Present { field }
            | Condition::Absent { field }
            | Condition::EmailClass { field, .. }
            | Condition::EmailDomainIn { field, .. } => (Some(field), &[]),
            Condition::All { conditions } | Condition::Any { conditions } => (None, conditions),
            Condition::Not { condition } => (None, std::slice::from_ref(&**condition)),
            Condition::VisitsAtLeast { .. }
            | Condition::PagesMatchingAtLeast { .. }
            | Condition::SecondsOnSiteAtLeast { .. }
            | Condition::Utm { .. }
            | Condition::ReferrerDomain { .. }
            | Condition::ClickIdPresent { .. }
            | Condition::ScoreAtLeast { .. }
            | Condition::GradeAtLeast { .. } => (None, &[]),
        }
    }

    /// The fields the condition reads, in order of appearance (repeats included).
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.fields_into(&mut out);
        out
    }

    fn fields_into<'c>(&'c self, out: &mut Vec<&'c str>) {
        let (field, inner) = self.parts();
        out.extend(field);
        inner.iter().for_each(|c| c.fields_into(out));
    }

    /// Adds the `pages_matching_at_least` patterns of the condition (with their
    /// `ignore_case`) that `out` does not have yet.
    pub(crate) fn page_patterns_into(&self, out: &mut Vec<(String, bool)>) {
        if let Condition::PagesMatchingAtLeast { pattern, ignore_case, .. } = self {
            if !out.iter().any(|(p, i)| p == pattern && i == ignore_case) {
                out.push((pattern.clone(), *ignore_case));
            }
        }
        self.parts().1.iter().for_each(|c| c.page_patterns_into(out));
    }

    /// Whether the condition reads the live score (`score_at_least`, `grade_at_least`).
    pub fn reads_score(&self) -> bool {
        matches!(self, Condition::ScoreAtLeast { .. } | Condition::GradeAtLeast { .. })
            || self.parts().1.iter().any(Condition::reads_score)
    }
}

fn domains_ok(path: &str, domains: &[String]) -> Result<(), ConfigError> {
    if domains.is_empty() {
        return Err(ConfigError::invalid(
            path,
            "expected at least one domain, e.g. [\"example.com\"]",
        ));
    }
    for (i, d) in domains.iter().enumerate() {
        let d = d.trim().trim_start_matches("*.");
        if d.is_empty() || !d.contains('.') || d.contains(['/', '@', ':', ' ']) {
            return Err(ConfigError::invalid(
                indexed(path, i, ""),
                "expected a domain such as \"example.com\", found \"".to_string() + d + "\"",
            ));
        }
    }
    Ok(())
}

/// Pushes the time of the most recent touch in scope that satisfies `test` (and is not
/// before `since`); returns whether there was one.
fn push_touch(
    f: &Facts,
    scope: TouchScope,
    since: Timestamp,
    out: &mut Vec<Timestamp>,
    test: impl Fn(&TouchView) -> bool,
) -> bool {
    let best = f.touches(scope).filter(|t| t.at >= since && test(t)).map(|t| t.at.min(f.now)).max();
    out.extend(best);
    best.is_some()
}

/// Reads a number as people type it: `1200`, `1,200`, ` 1 200 `, `12.5`, `+5`.
fn number(value: Option<&FieldValue>) -> Option<f64> {
    let text = value?.as_text();
    // Without the separators (ASCII, so dropping their bytes keeps the UTF-8 whole), in `buf`
    // when it fits.
    let kept = |b: &u8| !matches!(b, b',' | b'_' | b' ');
    let mut buf = [0u8; 64];
    let owned: Vec<u8>;
    let bytes = match buf.get_mut(..text.len()) {
        Some(buf) => {
            let mut n = 0;
            for b in text.bytes().filter(kept) {
                buf[n] = b;
                n += 1;
            }
            &buf[..n]
        }
        None => {
            owned = text.bytes().filter(kept).collect();
            &owned
        }
    };
    let text = std::str::from_utf8(bytes).ok()?;
    crate::json::parse_number(text.strip_prefix('+').unwrap_or(text))
}

/// Sorts a short slice by `key`, stably (insertion sort). The slices here hold at most a
/// hundred items, mostly in order already; the standard sorts cost several KB of wasm each.
fn sort_short<T, K: Ord>(items: &mut [T], key: impl Fn(&T) -> K) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && key(&items[j - 1]) > key(&items[j]) {
            items.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// A number in a reason, without `core::fmt`'s float machinery: `100`, `2.5`.
pub(crate) fn number_text(n: f64) -> String {
    serde_json::to_string(&n).map(|s| s.trim_end_matches(".0").to_string()).unwrap_or_default()
}

#[cfg(test)]
mod number_tests {
    use super::*;

    #[test]
    fn numbers_as_people_type_them() {
        let cases = [
            ("1200", Some(1200.0)),
            ("1,200", Some(1200.0)),
            (" 1 200 ", Some(1200.0)),
            ("12.5", Some(12.5)),
            ("+5", Some(5.0)),
            ("-3", Some(-3.0)),
            ("007", Some(7.0)),
            (".5", Some(0.5)),
            ("-0.25", Some(-0.25)),
            ("0", Some(0.0)),
            ("1e3", Some(1000.0)),
            ("", None),
            ("many", None),
            ("12abc", None),
            ("1e999", None),
            ("--1", None),
        ];
        for (text, want) in cases {
            let value = FieldValue::Text(text.into());
            assert_eq!(number(Some(&value)), want, "{text:?}");
        }
    }
}
