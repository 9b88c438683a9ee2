//! Smart forms: the order in which questions are asked (steps), and which of them show and
//! which are required for the answers so far. The config's logic is checked once when it loads
//! ([`validate`], called by [`FormConfig::from_json`]); [`Visibility::of`] evaluates it, in the
//! widget on every answer and in the relay once per lead, with the scoring conditions.
//!
//! The rule that makes it safe: a condition reads only fields asked *before* its own field or
//! step (hidden fields that are on no step count as asked first). So there is no cycle, one
//! pass in asking order decides everything, and an answer never depends on a later one.

use crate::config::{ConfigError, ConfigErrorKind, FieldKind, FormConfig};
use crate::context::VisitorContext;
use crate::json::indexed;
use crate::lead::{check_answer, FieldError, FieldValue, Lead};
use crate::scoring::{same_text, score, Condition};
use crate::time::Timestamp;

/// Which steps and fields show for a set of answers, and which fields are required.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Visibility {
    /// By field, in the config's `fields` order.
    pub fields: Vec<bool>,
    /// By field: shown, and `required` or its `required_if` holds.
    pub required: Vec<bool>,
    /// By step, in the config's `steps` order (one step for a form without steps).
    pub steps: Vec<bool>,
    /// By field: not asked because its answer is remembered from an earlier visit (sent and
    /// scored all the same).
    pub remembered: Vec<bool>,
}

impl FormConfig {
    /// The fields of each page, as indices into `fields`: the config's steps, or one page with
    /// every field for a form without steps. (`hidden` fields on no step are on no page.)
    pub fn pages(&self) -> Vec<Vec<usize>> {
        if self.steps.is_empty() {
            return vec![(0..self.fields.len()).collect()];
        }
        self.steps
            .iter()
            .map(|s| s.fields.iter().filter_map(|n| self.field_index(n)).collect())
            .collect()
    }

    /// Whether `field`'s answer is remembered for the next visit: `remember`, or queued in
    /// `progressive`.
    pub fn remembers(&self, field: &crate::config::Field) -> bool {
        field.remember || self.progressive.as_ref().is_some_and(|p| p.queue.contains(&field.name))
    }

    /// The index of the field called `name` in `fields`.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// Every field with its page in the order the form asks them: `hidden` fields on no
    /// page first (page `None`), then page by page.
    fn asking_order(&self) -> Vec<(Option<usize>, usize)> {
        let pages = self.pages();
        let on_page = |i: usize| pages.iter().any(|p| p.contains(&i));
        let mut order: Vec<(Option<usize>, usize)> =
            (0..self.fields.len()).filter(|&i| !on_page(i)).map(|i| (None, i)).collect();
        for (s, page) in pages.iter().enumerate() {
            order.extend(page.iter().map(|&i| (Some(s), i)));
        }
        order
    }
}

impl Visibility {
    /// What shows for `answers` (what the visitor has typed, in any field) in `context` at
    /// `now`. A condition sees only the answers of shown fields asked before it, and
    /// `score_at_least`/`grade_at_least` the score of those answers.
    pub fn of(
        config: &FormConfig,
        answers: &Lead,
        context: &VisitorContext,
        now: Timestamp,
    ) -> Visibility {
        Visibility::with_known(config, answers, &Lead::default(), context, now)
    }

    /// Like [`Visibility::of`], for a returning visitor whose answers in `known` are
    /// remembered: the `remember` and queued fields answered there are not asked again, and
    /// `progressive` asks the first `ask_at_most` queued fields not answered there.
    pub fn with_known(
        config: &FormConfig,
        answers: &Lead,
        known: &Lead,
        context: &VisitorContext,
        now: Timestamp,
    ) -> Visibility {
        let n = config.fields.len();
        let pages = config.pages();
        let mut v = Visibility {
            fields: vec![false; n],
            required: vec![false; n],
            steps: vec![false; pages.len()],
            remembered: vec![false; n],
        };
        let is_known = |name: &str| known.value(name).is_some_and(FieldValue::is_present);
        for (i, field) in config.fields.iter().enumerate() {
            v.remembered[i] = config.remembers(field) && is_known(&field.name);
        }
        // The queued fields this visit may ask: the first ones not known.
        let mut may_ask = vec![true; n];
        if let Some(p) = &config.progressive {
            let mut left = p.ask_at_most as usize;
            for name in &p.queue {
                if let Some(i) = config.field_index(name) {
                    may_ask[i] = !v.remembered[i] && left > 0;
                    left -= usize::from(may_ask[i]);
                }
            }
        }
        // The answers of the shown fields asked so far.
        let mut asked = Lead::default();
        let holds = |c: &Condition, asked: &Lead| {
            let live = c.reads_score().then(|| score(asked, context, &config.scoring, now));
            c.holds_live(asked, context, now, live.as_ref().map(|s| (s, &config.scoring)))
        };
        let mut step_shown = true;
        let mut current = None;
        for (page, i) in config.asking_order() {
            if page != current {
                current = page;
                let step = page.and_then(|s| config.steps.get(s));
                step_shown = step.and_then(|s| s.show_if.as_ref()).is_none_or(|c| holds(c, &asked));
                if let Some(s) = page {
                    v.steps[s] = step_shown;
                }
            }
            let field = &config.fields[i];
            let shown = step_shown
                && may_ask[i]
                && !v.remembered[i]
                && field.show_if.as_ref().is_none_or(|c| holds(c, &asked));
            v.fields[i] = shown;
            v.required[i] = shown
                && (field.required || field.required_if.as_ref().is_some_and(|c| holds(c, &asked)));
            if let (true, Some(answer)) = (shown || v.remembered[i], answers.value(&field.name)) {
                asked.fields.insert(field.name.clone(), answer.clone());
            }
        }
        v
    }

    /// The problems with the answers of the shown fields (only those on `page`, if given), in
    /// the order the form asks them. Fields not shown are not checked.
    pub fn errors(
        &self,
        config: &FormConfig,
        answers: &Lead,
        page: Option<usize>,
    ) -> Vec<(String, FieldError)> {
        config
            .asking_order()
            .into_iter()
            .filter(|(p, i)| self.fields[*i] && (page.is_none() || *p == page))
            .filter_map(|(_, i)| {
                let field = &config.fields[i];
                check_answer(field, answers.value(&field.name), self.required[i])
                    .err()
                    .map(|e| (field.name.clone(), e))
            })
            .collect()
    }

    /// The answers to send and score: those of shown and remembered fields; the others are
    /// dropped.
    pub fn shown_answers(&self, config: &FormConfig, mut answers: Lead) -> Lead {
        answers.fields.retain(|name, _| {
            config.field_index(name).is_some_and(|i| self.fields[i] || self.remembered[i])
        });
        answers
    }
}

impl FormConfig {
    /// The ending for a lead: the first whose `when` holds for `sent` (the answers sent) with
    /// `score` (their score), if any.
    pub fn ending(
        &self,
        sent: &Lead,
        context: &VisitorContext,
        now: Timestamp,
        score: &crate::scoring::Score,
    ) -> Option<&crate::config::Ending> {
        self.endings.iter().find(|e| {
            e.when
                .as_ref()
                .is_none_or(|c| c.holds_live(sent, context, now, Some((score, &self.scoring))))
        })
    }
}

/// Whether `url` may be opened from an ending: a path on this site (`/thanks`, not `//host`),
/// or an https URL, on one of `origins` when `origins` is given.
fn safe_url(url: &str, origins: Option<&[String]>) -> bool {
    let url = url.trim();
    if url.starts_with('/') {
        return !url.starts_with("//") && !url.starts_with("/\\");
    }
    let Some(rest) = url.strip_prefix("https://") else { return false };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let origin = &url[..url.len() - rest.len() + host_end];
    !rest[..host_end].is_empty()
        && origins.is_none_or(|o| o.iter().any(|allowed| allowed.trim_end_matches('/') == origin))
}

/// The names `prefill.context` takes: the UTM parameters, the click ids, `referrer`.
pub const PREFILL_CONTEXT: [&str; 6] =
    ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "referrer"];

impl FormConfig {
    /// The prefilled answers, by field index: from `values` (the JS API), else the mount
    /// element (`element(name)` reads `data-prefill-<name>`), else the field's
    /// `prefill.query` (`query(param)` reads the page URL), else its `prefill.context` (this
    /// page's arrival). Blank values are no value; consent is never prefilled; a checkbox takes
    /// `true`, `1`, `yes` or `on` as ticked.
    pub fn prefilled(
        &self,
        values: &crate::Map<String>,
        element: &dyn Fn(&str) -> Option<String>,
        query: &dyn Fn(&str) -> Option<String>,
        arrival: &crate::context::Touch,
    ) -> Vec<(usize, FieldValue)> {
        let from_arrival = |key: &str| {
            if key == "referrer" {
                return arrival.referrer.clone();
            }
            arrival.utm.get(key).or_else(|| arrival.click_ids.get(key)).cloned()
        };
        let mut out = Vec::new();
        for (i, field) in self.fields.iter().enumerate() {
            if field.kind == FieldKind::Consent {
                continue;
            }
            let prefill = field.prefill.as_ref();
            let value = values
                .get(&field.name)
                .cloned()
                .filter(|v| !v.trim().is_empty())
                .or_else(|| element(&field.name).filter(|v| !v.trim().is_empty()))
                .or_else(|| prefill.and_then(|p| p.query.as_deref()).and_then(query))
                .filter(|v| !v.trim().is_empty())
                .or_else(|| prefill.and_then(|p| p.context.as_deref()).and_then(from_arrival))
                .filter(|v| !v.trim().is_empty());
            let Some(value) = value else { continue };
            let value = if field.kind.is_tick() {
                let on =
                    ["true", "1", "yes", "on"].iter().any(|t| value.trim().eq_ignore_ascii_case(t));
                FieldValue::Checked(on)
            } else {
                FieldValue::Text(value.trim().to_string())
            };
            out.push((i, value));
        }
        out
    }
}

/// Checks the config's steps and conditions (after the fields and scoring are checked).
pub(crate) fn validate(config: &FormConfig) -> Result<(), ConfigError> {
    for (i, origin) in config.redirect_origins.iter().enumerate() {
        let bare = origin
            .strip_prefix("https://")
            .is_some_and(|h| !h.is_empty() && !h.contains(['/', '?', '#']));
        if !bare {
            return Err(ConfigError::invalid(
                indexed("redirect_origins", i, ""),
                "expected an https origin such as \"https://meet.example.com\" (no path)",
            ));
        }
    }
    for (i, ending) in config.endings.iter().enumerate() {
        let at = |what: &str| indexed("endings", i, what);
        if ending.text.is_none() && ending.link.is_none() && ending.redirect.is_none() {
            return Err(ConfigError::invalid(
                at(""),
                "an ending needs a text, a link or a redirect",
            ));
        }
        match &ending.when {
            Some(c) => c.validate(&at(".when"), config)?,
            None if i + 1 < config.endings.len() => {
                return Err(ConfigError::invalid(
                    at(""),
                    "an ending without `when` is for every lead, so the ones after it never apply; put it last",
                ))
            }
            None => {}
        }
        if let Some(link) = &ending.link {
            if !safe_url(&link.url, None) {
                return Err(ConfigError::invalid(
                    at(".link.url"),
                    "expected a path on this site (\"/resources\") or an https URL",
                ));
            }
        }
        if let Some(url) = &ending.redirect {
            if !safe_url(url, Some(&config.redirect_origins)) {
                return Err(ConfigError::invalid(
                    at(".redirect"),
                    "expected a path on this site (\"/thanks\") or an https URL on one of `redirect_origins`",
                ));
            }
        }
    }
    if let Some(p) = &config.progressive {
        if p.ask_at_most == 0 {
            return Err(ConfigError::invalid("progressive.ask_at_most", "expected at least 1"));
        }
        for (j, name) in p.queue.iter().enumerate() {
            let at = indexed("progressive.queue", j, "");
            let Some(i) = config.field_index(name) else {
                return Err(ConfigError::at(at, ConfigErrorKind::UnknownField(name.clone())));
            };
            if p.queue[..j].contains(name) {
                return Err(ConfigError::invalid(
                    at,
                    String::from("\"") + name + "\" is queued twice",
                ));
            }
            let field = &config.fields[i];
            if matches!(field.kind, FieldKind::Hidden | FieldKind::Consent) {
                return Err(ConfigError::invalid(
                    at,
                    "only questions the visitor answers can be queued",
                ));
            }
            if field.required || field.required_if.is_some() {
                return Err(ConfigError::invalid(
                    indexed("fields", i, ""),
                    String::from("\"")
                        + name
                        + "\" is queued in `progressive`: asked only on some visits, it cannot be required",
                ));
            }
        }
    }
    for (i, field) in config.fields.iter().enumerate() {
        if field.remember && field.kind == FieldKind::Consent {
            return Err(ConfigError::invalid(
                indexed("fields", i, ".remember"),
                "consent is given anew with each submit; it is never remembered",
            ));
        }
        let Some(prefill) = &field.prefill else { continue };
        if prefill.query.as_deref().is_some_and(|q| q.trim().is_empty()) {
            return Err(ConfigError::invalid(
                indexed("fields", i, ".prefill.query"),
                "expected a query parameter's name, e.g. \"email\"",
            ));
        }
        if let Some(key) = &prefill.context {
            let known = PREFILL_CONTEXT.contains(&key.as_str())
                || crate::context::CLICK_IDS.contains(&key.as_str());
            if !known {
                return Err(ConfigError::invalid(
                    indexed("fields", i, ".prefill.context"),
                    String::from("unknown value \"")
                        + key
                        + "\", expected one of "
                        + &PREFILL_CONTEXT.join(", ")
                        + ", "
                        + &crate::context::CLICK_IDS.join(", "),
                ));
            }
        }
        if field.kind == FieldKind::Consent {
            return Err(ConfigError::invalid(
                indexed("fields", i, ".prefill"),
                "consent is given by the visitor; it is never prefilled",
            ));
        }
    }
    let steps_at = |s: usize, what: &str| indexed("steps", s, what);
    let field_at = |i: usize, what: &str| indexed("fields", i, what);
    for (s, step) in config.steps.iter().enumerate() {
        if step.fields.is_empty() {
            return Err(ConfigError::invalid(
                steps_at(s, ".fields"),
                "a step needs at least one field",
            ));
        }
        for (j, name) in step.fields.iter().enumerate() {
            let at = indexed(&steps_at(s, ".fields"), j, "");
            if config.field(name).is_none() {
                return Err(ConfigError::at(at, ConfigErrorKind::UnknownField(name.clone())));
            }
            let earlier = config.steps[..s].iter().position(|t| t.fields.contains(name));
            if earlier.is_some() || step.fields[..j].contains(name) {
                return Err(ConfigError::invalid(
                    at,
                    String::from("\"") + name + "\" is already on a step; a field is on one step",
                ));
            }
        }
        if s == 0 && step.show_if.is_some() {
            return Err(ConfigError::invalid(
                steps_at(0, ".show_if"),
                "the first step always shows (the form starts there); put the condition on its \
                 fields instead",
            ));
        }
    }
    let pages = config.pages();
    let page_of = |i: usize| pages.iter().position(|p| p.contains(&i));
    if !config.steps.is_empty() {
        if let Some(i) = (0..config.fields.len())
            .find(|&i| config.fields[i].kind != FieldKind::Hidden && page_of(i).is_none())
        {
            return Err(ConfigError::invalid(
                field_at(i, ""),
                String::from("\"")
                    + &config.fields[i].name
                    + "\" is on no step; add it to the `fields` of a step (only hidden fields may \
                       be on none)",
            ));
        }
    }
    // Each field's place in the asking order.
    let order = config.asking_order();
    let rank = |i: usize| order.iter().position(|(_, f)| *f == i).unwrap_or(0);
    // A condition at `path` may read the fields asked before `before` (a rank).
    let check = |c: &Condition, path: &str, own: Option<&str>, before: usize, whom: &str| {
        c.validate(path, config)?;
        for name in c.fields() {
            if own == Some(name) {
                return Err(ConfigError::invalid(
                    path,
                    String::from("the condition reads \"")
                        + name
                        + "\" itself; a condition may read only fields asked before it",
                ));
            }
            let read = config.field_index(name).map(rank).unwrap_or(0);
            if read >= before {
                return Err(ConfigError::invalid(
                    path,
                    String::from("the condition reads \"")
                        + name
                        + "\", which is "
                        + whom
                        + "; a condition may read only fields asked before it",
                ));
            }
        }
        Ok(())
    };
    for (i, field) in config.fields.iter().enumerate() {
        let whom = String::from("asked after \"") + &field.name + "\"";
        if let Some(c) = &field.show_if {
            check(c, &field_at(i, ".show_if"), Some(&field.name), rank(i), &whom)?;
        }
        if let Some(c) = &field.required_if {
            check(c, &field_at(i, ".required_if"), Some(&field.name), rank(i), &whom)?;
            if field.required {
                return Err(ConfigError::invalid(
                    field_at(i, ".required_if"),
                    "give `required` or `required_if`, not both",
                ));
            }
        }
    }
    for (s, step) in config.steps.iter().enumerate() {
        if let Some(c) = &step.show_if {
            // The step's first field's rank: its condition reads earlier steps only.
            let first = pages[s].first().map_or(0, |&i| rank(i));
            let whom = String::from("on step ") + &(s + 1).to_string() + " or a later one";
            check(c, &steps_at(s, ".show_if"), None, first, &whom)?;
        }
    }
    never_shown(config)
}

/// Refuses what can never show: a step whose condition can never hold or that has nothing to
/// ask, a visible field whose condition can never hold (e.g. `equals` a value the select
/// does not offer, or reads a field that never shows). Conservative: what it can't decide,
/// it lets through.
fn never_shown(config: &FormConfig) -> Result<(), ConfigError> {
    let mut never = vec![false; config.fields.len()];
    let mut current = None;
    for (page, i) in config.asking_order() {
        if page != current {
            current = page;
            let step = page.and_then(|s| config.steps.get(s).map(|st| (s, st)));
            if let Some((s, step)) = step {
                let path = indexed("steps", s, "");
                if step.show_if.as_ref().is_some_and(|c| cannot_hold(c, config, &never)) {
                    return Err(ConfigError::invalid(
                        path + ".show_if",
                        String::from("this condition can never hold, so step ")
                            + &(s + 1).to_string()
                            + " would never show",
                    ));
                }
                if step
                    .fields
                    .iter()
                    .all(|n| config.field(n).is_some_and(|f| f.kind == FieldKind::Hidden))
                {
                    return Err(ConfigError::invalid(
                        path + ".fields",
                        "a step needs at least one field the visitor sees",
                    ));
                }
            }
        }
        let field = &config.fields[i];
        let cannot = field.show_if.as_ref().is_some_and(|c| cannot_hold(c, config, &never));
        if cannot && field.kind != FieldKind::Hidden {
            return Err(ConfigError::invalid(
                indexed("fields", i, ".show_if"),
                String::from("this condition can never hold, so \"")
                    + &field.name
                    + "\" would never be asked",
            ));
        }
        never[i] = cannot;
    }
    Ok(())
}

/// Whether `c` can never hold, as far as the config tells: `never[i]` says field `i` never
/// shows (its answer is always missing).
fn cannot_hold(c: &Condition, config: &FormConfig, never: &[bool]) -> bool {
    let missing = |field: &str| config.field_index(field).is_some_and(|i| never[i]);
    // Whether the answer to `field` can equal `value`.
    let can_be = |field: &str, value: &str, ignore_case: bool| {
        // Compared as the condition compares.
        let same = |a: &str| same_text(a, value, ignore_case);
        let Some(f) = config.field(field) else { return true };
        if missing(field) || value.trim().is_empty() {
            // A missing answer reads as "" (and an empty value matches one not given).
            return value.trim().is_empty();
        }
        match f.kind {
            FieldKind::Select => f.options.iter().any(|o| same(&o.value)),
            FieldKind::Checkbox | FieldKind::Consent => same("true") || same("false"),
            FieldKind::Text
            | FieldKind::Email
            | FieldKind::Tel
            | FieldKind::Textarea
            | FieldKind::Hidden => true,
        }
    };
    match c {
        Condition::Equals { field, value, ignore_case } => !can_be(field, value, *ignore_case),
        Condition::OneOf { field, values, ignore_case } => {
            !values.iter().any(|v| can_be(field, v, *ignore_case))
        }
        Condition::All { conditions } => conditions.iter().any(|c| cannot_hold(c, config, never)),
        Condition::Any { conditions } => conditions.iter().all(|c| cannot_hold(c, config, never)),
        // `absent` holds on a missing answer; `not` is not decided here.
        Condition::Absent { .. } | Condition::Not { .. } => false,
        // Every other answer condition needs an answer (`parts` lists them all); the others
        // read no field.
        other => other.parts().0.is_some_and(missing),
    }
}
