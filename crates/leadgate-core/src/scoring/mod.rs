//! Scoring rules as data, evaluated with `match`, and a score that explains every point.
//!
//! A [`ScoringConfig`] holds rules (each in a group such as `fit` or `engagement`), group and
//! total caps, decay of engagement evidence, grade bands, the fit × engagement label and the
//! funnel stages. [`score`] reads the lead's answers and the [`VisitorContext`] at a given
//! time and returns a [`Score`] whose [`RuleHit`]s add up to its total exactly: decay is
//! rounded per hit, and caps are hits of their own.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use leadgate_derive::FromJson;

use crate::config::{check_name, ConfigError, ConfigErrorKind, FormConfig};
use crate::context::VisitorContext;
use crate::hash::fnv1a64;
use crate::lead::Lead;
use crate::map::Map;
use crate::time::Timestamp;

mod condition;
pub mod pattern;
mod read;

pub(crate) use condition::same_text;
use condition::{number_text, Facts};
pub use condition::{Condition, TouchScope, UtmParam};

/// The groups every config has, whether or not `groups` mentions them.
pub const BUILT_IN_GROUPS: [&str; 2] = ["fit", "engagement"];

const DAY_MS: f64 = 86_400_000.0;

/// The largest size of points, caps and bars (so sums of many hits cannot overflow).
pub const MAX_POINTS: i64 = 1_000_000_000;

fn in_range(path: String, value: Option<i64>) -> Result<(), ConfigError> {
    match value {
        Some(v) if !(-MAX_POINTS..=MAX_POINTS).contains(&v) => Err(ConfigError::at(
            path,
            ConfigErrorKind::OutOfRange {
                expected: "a number from -1000000000 to 1000000000",
                found: v.to_string(),
            },
        )),
        _ => Ok(()),
    }
}

/// How leads are scored and qualified.
#[derive(Debug, Clone, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ScoringConfig {
    /// The total a lead needs to qualify (become an MQL) when `stages` is left out.
    /// Defaults to 0: every lead qualifies.
    pub threshold: i64,
    /// The rules, evaluated in order; every rule that holds adds its points.
    pub rules: Vec<Rule>,
    /// Caps and decay per group, by group name. `fit` and `engagement` always exist; other
    /// names become groups by being listed here. Defaults to none (no caps, no decay).
    pub groups: Map<GroupConfig>,
    /// The highest total; above it a `cap:total` line brings the total down. Defaults to none.
    pub max_total: Option<i64>,
    /// The lowest total; below it a `cap:total` line brings the total up. Defaults to none.
    pub min_total: Option<i64>,
    /// Grade bands from the best down: a lead gets the first band whose `min` its graded
    /// points reach; the last band also takes every lower value. Defaults to A ≥ 75,
    /// B ≥ 50, C ≥ 25, D below.
    pub grades: Vec<GradeBand>,
    /// The group whose points the grade reads (e.g. `"fit"` for a fit grade). Defaults to
    /// the total.
    pub grade_group: Option<String>,
    /// A combined label such as `A1`: the grade followed by the engagement level. Defaults to
    /// none.
    pub label: Option<LabelConfig>,
    /// The bars for `mql` and `sql`. Defaults to an MQL bar of `threshold` and no SQL bar.
    pub stages: Option<Stages>,
    /// The model id, computed once when the config is loaded.
    #[serde(skip)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    pub(crate) model_id: String,
    /// Each rule's id, group and reason (its own or the condition described), as its hits
    /// share them; made once when the config is loaded, empty when it was built otherwise.
    #[serde(skip)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    pub(crate) hit_texts: Vec<HitTexts>,
    /// The distinct `pages_matching_at_least` patterns of the rules (with their
    /// `ignore_case`), so that scoring matches the page views against all of them in one pass;
    /// made once when the config is loaded.
    #[serde(skip)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    pub(crate) page_patterns: Vec<(String, bool)>,
}

/// What a rule's hits share, made once when the config is loaded: the rule id, group and
/// reason as shared texts, and the group's place among `group_names` (without repeats), where
/// [`score`] sums it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HitTexts {
    texts: [Arc<str>; 3],
    slot: Option<usize>,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        let band = |grade: &str, min| GradeBand { grade: grade.into(), min };
        ScoringConfig {
            threshold: 0,
            rules: Vec::new(),
            groups: Map::new(),
            max_total: None,
            min_total: None,
            grades: vec![band("A", 75), band("B", 50), band("C", 25), band("D", i64::MIN)],
            grade_group: None,
            label: None,
            stages: None,
            model_id: String::new(),
            hit_texts: Vec::new(),
            page_patterns: Vec::new(),
        }
    }
}

/// Caps and decay of one group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct GroupConfig {
    /// The most points the group can give; a `cap:<group>` line takes off the rest.
    /// Defaults to none.
    pub max: Option<i64>,
    /// The fewest points the group can give (a floor for negative points). Defaults to none.
    pub min: Option<i64>,
    /// How the group's evidence fades with age. Not allowed on `fit`: who a lead is does not
    /// fade. Defaults to none.
    pub decay: Option<Decay>,
}

/// How evidence fades: by half-life, inside a window, or both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Decay {
    /// Points halve every this many days after the evidence (continuous: 1.5 half-lives
    /// leave 35%). Defaults to none.
    pub half_life_days: Option<f64>,
    /// Only evidence from the last this many days counts. Defaults to none.
    pub window_days: Option<f64>,
}

/// One grade: the letter and the lowest points that earn it.
#[derive(Debug, Clone, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GradeBand {
    /// The letter (or word) sales sees, e.g. `"A+"`.
    pub grade: String,
    /// The lowest points that earn this grade.
    pub min: i64,
}

/// The combined label: grade × engagement level (`A1` … `C3`).
#[derive(Debug, Clone, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LabelConfig {
    /// The group whose points pick the level. Defaults to `engagement`.
    #[serde(default = "engagement")]
    pub group: String,
    /// Levels from the best down, like grade bands: the first whose `min` is reached; the
    /// last also takes every lower value.
    pub levels: Vec<LevelBand>,
}

fn engagement() -> String {
    "engagement".into()
}

/// One engagement level of the label.
#[derive(Debug, Clone, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LevelBand {
    /// What follows the grade in the label, e.g. `"1"`.
    pub level: String,
    /// The lowest points that earn this level.
    pub min: i64,
}

/// The qualification bars.
#[derive(Debug, Clone, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Stages {
    /// What makes a marketing-qualified lead (it goes to sales).
    pub mql: StageBar,
    /// What makes a sales-ready lead (it must also pass the MQL bar). Defaults to none.
    #[serde(default)]
    pub sql: Option<StageBar>,
}

/// A bar: a lowest total, a lowest grade, or both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct StageBar {
    /// The lowest total. Defaults to none.
    pub min_total: Option<i64>,
    /// The lowest grade, one of `grades` (e.g. `"B"`: A+, A, A-, B+ and B pass).
    /// Defaults to none.
    pub min_grade: Option<String>,
}

/// A scoring rule: when the condition holds, the lead gets the points.
#[derive(Debug, Clone, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A stable name for the rule, shown to sales with the points. Letters, digits, `-`, `_`.
    pub id: String,
    /// The group the points count towards (`fit`, `engagement` or one listed in `groups`).
    /// Defaults to `fit`.
    #[serde(default = "default_group")]
    pub group: String,
    /// Points added when the condition holds (negative points subtract).
    pub points: i64,
    /// Why the rule matters, in words for sales. Defaults to a description of the condition.
    #[serde(default)]
    pub reason: Option<String>,
    /// A hit makes the lead unqualified whatever its score (e.g. a disposable e-mail).
    /// Defaults to false.
    #[serde(default)]
    pub disqualify: bool,
    /// Score every occurrence (each matching page view) instead of the first one only.
    /// Defaults to false.
    #[serde(default)]
    pub repeatable: bool,
    /// The most points (in size: also for negative points) this rule can give, after decay.
    /// Defaults to none.
    #[serde(default)]
    pub max_points: Option<i64>,
    /// The condition.
    pub when: Condition,
}

impl Rule {
    /// The rule's reason, or its condition in words.
    fn reason(&self) -> String {
        self.reason.clone().unwrap_or_else(|| self.when.describe())
    }

    /// The points of `n` occurrences whose evidence kept `kept` of its weight after decay
    /// (`None`: no decay, they keep it all): `points` × `n`, rounded after decay, within
    /// `max_points`.
    fn points_of(&self, n: i64, kept: Option<f64>) -> i64 {
        let points = match kept {
            Some(kept) => (self.points as f64 * kept).round() as i64,
            None => self.points.saturating_mul(n),
        };
        match self.max_points {
            Some(max) => points.clamp(-max, max),
            None => points,
        }
    }
}

fn default_group() -> String {
    "fit".into()
}

/// Where a lead stands in the funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Captured, below the MQL bar (or disqualified).
    Lead,
    /// Marketing-qualified: passed the MQL bar, goes to sales.
    Mql,
    /// Sales-qualified: passed the SQL bar too.
    Sql,
}

impl Stage {
    /// The stage's name as it appears in payloads and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Lead => "lead",
            Stage::Mql => "mql",
            Stage::Sql => "sql",
        }
    }
}

/// What a line of the explanation is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HitKind {
    /// A rule that held.
    #[default]
    Rule,
    /// A group's cap (`cap:<group>`) or the total's (`cap:total`) taking points off (or
    /// adding them, for a floor).
    Cap,
}

/// One line of the explanation: a rule that held, or a cap, with its points and the reason.
///
/// Its texts are shared (`Arc<str>`), not copied: a rule's id, group and reason are made once
/// when the config loads and every hit of the rule holds them, so scoring allocates only the
/// reasons it words anew (repeats, caps, decay). Three `String`s a hit were a third of the
/// 100-rule benchmark's instructions. Shared rather than borrowed, so a `Score` outlives the
/// config that made it (the relay stores and forwards it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleHit {
    /// The rule's id; `cap:<group>` or `cap:total` for a cap.
    pub rule: Arc<str>,
    /// The group the points count towards (`total` for the total's cap).
    pub group: Arc<str>,
    /// The points this line adds to the total (after decay and the rule's own cap; negative
    /// ones subtract).
    pub points: i64,
    /// Why, in words for sales.
    pub reason: Arc<str>,
    /// A rule line: `points` × occurrences, before decay and caps. A cap line: the points
    /// before the cap.
    #[serde(default)]
    pub raw: i64,
    /// How many occurrences counted (1 unless the rule is repeatable; 0 for a cap).
    #[serde(default)]
    pub times: u32,
    /// Whether this line is a rule or a cap.
    #[serde(default)]
    pub kind: HitKind,
    /// Whether the rule disqualifies the lead.
    #[serde(default)]
    pub disqualifies: bool,
}

/// A lead's score: the total, per group, the grade, the stage, and every line that explains
/// it. The points of the hits add up to `total` exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The sum of the hits' points.
    pub total: i64,
    /// The points of each group (after its cap, before the total's cap).
    pub groups: Map<i64>,
    /// The grade band the graded points fall in.
    pub grade: String,
    /// The combined label (grade and engagement level, e.g. `A1`), if configured.
    #[serde(default)]
    pub label: Option<String>,
    /// Whether the lead goes to sales: stage `mql` or `sql`, and no disqualifier.
    pub qualified: bool,
    /// Whether a disqualifying rule held.
    #[serde(default)]
    pub disqualified: bool,
    /// The funnel stage.
    pub stage: Stage,
    /// Every rule that held, in rule order, then the caps.
    pub hits: Vec<RuleHit>,
    /// The id of the scoring model ([`ScoringConfig::model_id`]), so a lead records which
    /// model scored it.
    #[serde(default)]
    pub model: String,
}

/// Scores a lead at time `now` (engagement evidence decays by its age at `now`).
pub fn score(
    lead: &Lead,
    context: &VisitorContext,
    config: &ScoringConfig,
    now: Timestamp,
) -> Score {
    let mut facts = Facts::new(lead, context, now);
    facts.patterns = &config.page_patterns;
    // Each group once, with its decay and its sum (a name no group has gets a slot on its
    // first hit).
    let mut sums: Vec<(&str, Option<&Decay>, i64)> = config
        .distinct_groups()
        .into_iter()
        .map(|name| (name, config.groups.get(name).and_then(|g| g.decay.as_ref()), 0))
        .collect();
    let mut hits = Vec::with_capacity(config.rules.len());
    // Sized for every page view at once (a repeatable page rule's occurrences), so it does not
    // grow step by step in the first rules.
    let mut times = Vec::with_capacity(context.pages.len() + 1);
    // The reasons worded anew (repeats, caps, decay) are written here first, then shared.
    let mut words = String::new();
    // The last evidence of several occurrences that decayed, with its half-life and what it
    // kept: rules on the same pages share it, and `exp2` is not cheap.
    let mut last: (Vec<Timestamp>, u64, f64) = (Vec::new(), 0, 0.0);
    let texts = Some(&config.hit_texts).filter(|t| t.len() == config.rules.len());
    for (i, rule) in config.rules.iter().enumerate() {
        // The slot made when the config loaded; a group no config names gets one at its
        // first hit.
        let slot =
            texts.and_then(|t| t[i].slot).or_else(|| sums.iter().position(|s| s.0 == rule.group));
        let decay = slot.and_then(|g| sums[g].1);
        let since = decay
            .and_then(|d| d.window_days)
            .map_or(Timestamp(0), |days| Timestamp(now.0.saturating_sub((days * DAY_MS) as u64)));
        times.clear();
        if !rule.when.occurrences(&facts, since, &mut times) || times.is_empty() {
            continue;
        }
        if !rule.repeatable {
            times.truncate(1);
        }
        let n = times.len() as i64;
        let raw = rule.points.saturating_mul(n);
        let half_life = decay.and_then(|d| d.half_life_days);
        let kept = half_life.map(|days| {
            if last.0 == times && last.1 == days.to_bits() {
                last.2
            } else {
                let kept: f64 = times
                    .iter()
                    .map(|t| (-(now.millis_since(*t) as f64) / (days * DAY_MS)).exp2())
                    .sum();
                if n > 1 {
                    last.0.clone_from(&times);
                    (last.1, last.2) = (days.to_bits(), kept);
                }
                kept
            }
        });
        let points = rule.points_of(n, kept);
        let [id, group, mut reason] = match texts {
            Some(t) => t[i].texts.clone(),
            None => [rule.id.as_str().into(), rule.group.as_str().into(), rule.reason().into()],
        };
        if n > 1 || points != raw {
            words.clear();
            words.push_str(&reason);
            if n > 1 {
                words.push_str(" (×");
                push_int(&mut words, n);
                words.push(')');
            }
            if points != raw {
                words.push_str(if half_life.is_some() { " (was " } else { " (capped from " });
                push_int(&mut words, raw);
                words.push(')');
            }
            reason = words.as_str().into();
        }
        let slot = slot.unwrap_or_else(|| {
            sums.push((&rule.group, None, 0));
            sums.len() - 1
        });
        sums[slot].2 = sums[slot].2.saturating_add(points);
        hits.push(RuleHit {
            rule: id,
            group,
            points,
            reason,
            raw,
            times: n as u32,
            kind: HitKind::Rule,
            disqualifies: rule.disqualify,
        });
    }
    let disqualified = hits.iter().any(|h| h.disqualifies);
    // The groups sorted by name through `Map` (already in the widget), not a sort: a sort's
    // code for this one call measured +1.2 KB of wasm.
    let mut groups = Map::new();
    groups.extend(sums.iter().map(|(name, _, sum)| (name.to_string(), *sum)));
    let mut sorted: Vec<(&str, i64)> = groups.iter().map(|(n, sum)| (n.as_str(), *sum)).collect();
    let tally = settle(config, &mut sorted, disqualified, Some(&mut hits));
    let capped: Vec<i64> = sorted.into_iter().map(|(_, sum)| sum).collect();
    for (sum, capped) in groups.values_mut().zip(capped) {
        *sum = capped;
    }
    let grade =
        tally.grade.and_then(|i| config.grades.get(i)).map(|b| b.grade.clone()).unwrap_or_default();
    let label = config.label.as_ref().map(|l| {
        let mut label = grade.clone();
        if let Some(band) = tally.level.and_then(|i| l.levels.get(i)) {
            label.push_str(&band.level);
        }
        label
    });
    let model =
        if config.model_id.is_empty() { config.model_id() } else { config.model_id.clone() };
    Score {
        total: tally.total,
        groups,
        grade,
        label,
        qualified: tally.qualified(),
        disqualified,
        stage: tally.stage,
        hits,
        model,
    }
}

/// Appends `n` in decimal, as `n.to_string()` writes it (without a `String` in between).
fn push_int(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    let (mut digits, mut at, mut rest) = ([0u8; 20], 20, n.unsigned_abs());
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// What the points of the rules that held come to, once the caps, the grade bands and the
/// bars are applied: the part of a [`Score`] that decides where the lead goes. [`score`]
/// computes it from the lead; [`HitScorer::score`] from the rules that held for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// The total, after the groups' and the total's caps.
    pub total: i64,
    /// The grade: an index into the config's `grades` (`None` only without grades).
    pub grade: Option<usize>,
    /// The label's engagement level: an index into `label.levels` (`None` without a label).
    pub level: Option<usize>,
    /// Whether a disqualifying rule held.
    pub disqualified: bool,
    /// The funnel stage.
    pub stage: Stage,
}

impl Tally {
    /// Whether the lead goes to sales: stage `mql` or `sql` (never when disqualified).
    pub fn qualified(&self) -> bool {
        self.stage >= Stage::Mql
    }
}

/// The caps, the total, the grade, the level and the stage from each group's points (sorted by
/// group name, the order of [`Score::groups`]), which are brought inside their caps here. A cap
/// that changes points adds its line to `caps`.
fn settle(
    config: &ScoringConfig,
    groups: &mut [(&str, i64)],
    disqualified: bool,
    mut caps: Option<&mut Vec<RuleHit>>,
) -> Tally {
    let find = |groups: &[(&str, i64)], name: &str| {
        groups.binary_search_by(|g| g.0.cmp(name)).ok().map(|i| groups[i].1)
    };
    for (name, group) in &config.groups {
        let Ok(i) = groups.binary_search_by(|g| g.0.cmp(name)) else { continue };
        if let Some(bound) = cap(groups[i].1, group.min, group.max) {
            if let Some(caps) = caps.as_deref_mut() {
                caps.push(cap_line(name, groups[i].1, bound));
            }
            groups[i].1 = bound.0;
        }
    }
    let mut total: i64 = groups.iter().fold(0, |a, g| a.saturating_add(g.1));
    if let Some(bound) = cap(total, config.min_total, config.max_total) {
        if let Some(caps) = caps {
            caps.push(cap_line("total", total, bound));
        }
        total = bound.0;
    }
    let graded = config.grade_group.as_ref().and_then(|g| find(groups, g)).unwrap_or(total);
    let grade = band_index(config.grades.iter().map(|b| b.min), graded);
    let level = config.label.as_ref().and_then(|l| {
        band_index(l.levels.iter().map(|b| b.min), find(groups, &l.group).unwrap_or(0))
    });
    let passes = |bar: &StageBar| {
        bar.min_total.is_none_or(|min| total >= min)
            && bar.min_grade.as_ref().is_none_or(|g| {
                let need = config.grades.iter().position(|b| &b.grade == g);
                matches!((grade, need), (Some(have), Some(need)) if have <= need)
            })
    };
    let stage = match &config.stages {
        _ if disqualified => Stage::Lead,
        None if total >= config.threshold => Stage::Mql,
        None => Stage::Lead,
        Some(s) if passes(&s.mql) && s.sql.as_ref().is_some_and(passes) => Stage::Sql,
        Some(s) if passes(&s.mql) => Stage::Mql,
        Some(_) => Stage::Lead,
    };
    Tally { total, grade, level, disqualified, stage }
}

/// The index of the first band whose `min` the value reaches, else the last band.
fn band_index(mins: impl ExactSizeIterator<Item = i64>, value: i64) -> Option<usize> {
    let n = mins.len();
    let mut mins = mins;
    mins.position(|min| value >= min).or(n.checked_sub(1))
}

/// The bound `points` are brought to when they are outside `min..=max`, with the words that
/// say so.
fn cap(points: i64, min: Option<i64>, max: Option<i64>) -> Option<(i64, &'static str)> {
    match (min, max) {
        (_, Some(max)) if points > max => Some((max, " points capped at ")),
        (Some(min), _) if points < min => Some((min, " points floored at ")),
        _ => None,
    }
}

/// The line that brings a group's (or the total's) `points` to `limit`.
fn cap_line(group: &str, points: i64, (limit, words): (i64, &str)) -> RuleHit {
    let mut reason = String::from(group);
    reason.push_str(words);
    push_int(&mut reason, limit);
    reason.push_str(" (were ");
    push_int(&mut reason, points);
    reason.push(')');
    let mut rule = String::from("cap:");
    rule.push_str(group);
    RuleHit {
        rule: rule.into(),
        group: group.into(),
        points: limit - points,
        reason: reason.into(),
        raw: points,
        times: 0,
        kind: HitKind::Cap,
        disqualifies: false,
    }
}

/// A config that scores leads from the rules that held for them under the model that scored
/// them (the rule ids of their `score.hits`, as the relay stores them), without their answers
/// or context: made by [`ScoringConfig::hit_scorer`] when that gives exactly what [`score`]
/// would.
#[derive(Debug, Clone)]
pub struct HitScorer<'a> {
    config: &'a ScoringConfig,
    /// Every rule id of the model that scored the leads, sorted, with the config's rule of
    /// that id (`None`: the config left it out).
    rules: Vec<(&'a str, Option<usize>)>,
    /// The group names, sorted as in [`Score::groups`].
    groups: Vec<&'a str>,
    /// Each rule's group, an index into `groups`.
    slots: Vec<usize>,
}

impl ScoringConfig {
    /// This config as a scorer of the rule hits that `scored_by` recorded, when those hits
    /// decide its score. They do when every rule of this config is a rule of `scored_by`
    /// with the same id and the same condition (`when`), looking at evidence from the same
    /// window (`window_days` of its group; the hits of both were found at the lead's submit
    /// time), and its points do not depend on more than whether it held: it is not
    /// `repeatable`, and its group's evidence does not decay by half-life. Points,
    /// `max_points`, groups, caps, grades, the label, the bars and `disqualify` may all
    /// differ, and rules may be left out or reordered. `None` otherwise: then each lead must
    /// be scored with [`score`].
    pub fn hit_scorer<'a>(&'a self, scored_by: &'a ScoringConfig) -> Option<HitScorer<'a>> {
        let window = |config: &ScoringConfig, group: &str| {
            config.groups.get(group).and_then(|g| g.decay.as_ref()).and_then(|d| d.window_days)
        };
        let mut groups: Vec<&str> = self.group_names().collect();
        groups.sort_unstable();
        groups.dedup();
        let mut slots = Vec::with_capacity(self.rules.len());
        for rule in &self.rules {
            let before = scored_by.rules.iter().find(|r| r.id == rule.id)?;
            let decay = self.groups.get(&rule.group).and_then(|g| g.decay.as_ref());
            let same_window = window(self, &rule.group).map(f64::to_bits)
                == window(scored_by, &before.group).map(f64::to_bits);
            if before.when != rule.when
                || !same_window
                || rule.repeatable
                || decay.is_some_and(|d| d.half_life_days.is_some())
            {
                return None;
            }
            slots.push(groups.binary_search(&rule.group.as_str()).ok()?);
        }
        let mut rules: Vec<(&str, Option<usize>)> = scored_by
            .rules
            .iter()
            .map(|r| (r.id.as_str(), self.rules.iter().position(|d| d.id == r.id)))
            .collect();
        rules.sort_unstable_by(|a, b| a.0.cmp(b.0));
        Some(HitScorer { config: self, rules, groups, slots })
    }
}

impl HitScorer<'_> {
    /// The tally [`score`] gives a lead with this config, from the ids of the rules that held
    /// for it under the model that scored it (cap lines, `cap:…`, are passed over). `None`
    /// when an id is not a rule of that model, or one comes twice: those are not its hits.
    pub fn score<'h>(&self, held: impl IntoIterator<Item = &'h str>) -> Option<Tally> {
        let mut found: Vec<usize> = Vec::with_capacity(8);
        for id in held {
            if !id.starts_with("cap:") {
                found.push(self.rules.binary_search_by(|r| r.0.cmp(id)).ok()?);
            }
        }
        found.sort_unstable();
        let n = found.len();
        found.dedup();
        if found.len() != n {
            return None;
        }
        // Added in the config's rule order, as `score` adds them.
        let mut rules: Vec<usize> = found.iter().filter_map(|&k| self.rules[k].1).collect();
        rules.sort_unstable();
        let mut sums: Vec<(&str, i64)> = self.groups.iter().map(|g| (*g, 0)).collect();
        let mut disqualified = false;
        for i in rules {
            let rule = &self.config.rules[i];
            let sum = &mut sums[self.slots[i]].1;
            *sum = sum.saturating_add(rule.points_of(1, None));
            disqualified |= rule.disqualify;
        }
        Some(settle(self.config, &mut sums, disqualified, None))
    }
}

impl ScoringConfig {
    /// The model's identity: `fnv1a64:` and 16 hex digits of the FNV-1a hash of the config's
    /// canonical JSON (defaults filled in, maps sorted), so the same model always has the same
    /// id however its JSON was spaced or ordered. Computed once by [`FormConfig::from_json`].
    pub fn model_id(&self) -> String {
        if !self.model_id.is_empty() {
            return self.model_id.clone();
        }
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        let hash = fnv1a64(&canonical);
        let mut out = String::from("fnv1a64:");
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for shift in (0..16).rev() {
            out.push(HEX[((hash >> (shift * 4)) & 0xf) as usize] as char);
        }
        out
    }

    /// Every group name: the built-in ones and those in `groups`.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        BUILT_IN_GROUPS.into_iter().chain(self.groups.keys().map(String::as_str))
    }

    /// [`Self::group_names`] without repeats, in that order: where [`score`] sums each group.
    fn distinct_groups(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for name in self.group_names() {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    pub(crate) fn prepare(&mut self) {
        self.model_id = String::new();
        self.model_id = self.model_id();
        let names = self.distinct_groups();
        let hit_texts = self
            .rules
            .iter()
            .map(|r| HitTexts {
                texts: [r.id.as_str().into(), r.group.as_str().into(), r.reason().into()],
                slot: names.iter().position(|n| *n == r.group),
            })
            .collect();
        self.hit_texts = hit_texts;
        self.page_patterns.clear();
        for rule in &self.rules {
            rule.when.page_patterns_into(&mut self.page_patterns);
        }
    }

    pub(crate) fn validate(&self, form: &FormConfig) -> Result<(), ConfigError> {
        let known_group = |g: &str| self.group_names().any(|n| n == g);
        let group_error = |path: String, g: &str| {
            let known = self.group_names().map(String::from).collect();
            ConfigError::at(path, ConfigErrorKind::UnknownGroup { name: g.into(), known })
        };
        in_range("scoring.max_total".into(), self.max_total)?;
        in_range("scoring.min_total".into(), self.min_total)?;
        for (name, group) in &self.groups {
            let at = |what: &str| "scoring.groups.".to_string() + name + what;
            check_name(&at(""), name)?;
            in_range(at(".max"), group.max)?;
            in_range(at(".min"), group.min)?;
            if name == "total" {
                return Err(ConfigError::invalid(
                    at(""),
                    "\"total\" is reserved for the total's cap",
                ));
            }
            if let (Some(min), Some(max)) = (group.min, group.max) {
                if min > max {
                    return Err(ConfigError::invalid(
                        at(".min"),
                        "min must not be higher than max",
                    ));
                }
            }
            if let Some(decay) = &group.decay {
                if name == "fit" {
                    return Err(ConfigError::invalid(
                        at(".decay"),
                        "fit never decays: who a lead is does not fade (move time-bound rules to `engagement`)",
                    ));
                }
                decay.validate(&at(".decay"))?;
            }
        }
        if let (Some(min), Some(max)) = (self.min_total, self.max_total) {
            if min > max {
                return Err(ConfigError::invalid(
                    "scoring.min_total",
                    "min_total must not be higher than max_total",
                ));
            }
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let at = |what: &str| crate::json::indexed("scoring.rules", i, ".") + what;
            check_name(&at("id"), &rule.id)?;
            if self.rules[..i].iter().any(|r| r.id == rule.id) {
                return Err(ConfigError::invalid(
                    at("id"),
                    "another rule already has the id \"".to_string() + &rule.id + "\"",
                ));
            }
            if !known_group(&rule.group) {
                return Err(group_error(at("group"), &rule.group));
            }
            in_range(at("points"), Some(rule.points))?;
            in_range(at("max_points"), rule.max_points)?;
            if rule.max_points.is_some_and(|m| m < 1) {
                return Err(ConfigError::invalid(at("max_points"), "expected at least 1"));
            }
            rule.when.validate(&at("when"), form)?;
            if rule.when.reads_score() {
                return Err(ConfigError::invalid(
                    at("when"),
                    "score_at_least and grade_at_least read the score a rule adds to; they \
                     belong in a field's or a step's show_if or required_if",
                ));
            }
        }
        if self.grades.is_empty() {
            return Err(ConfigError::invalid("scoring.grades", "at least one grade is needed"));
        }
        if self.grades.windows(2).any(|w| w[0].min <= w[1].min) {
            return Err(ConfigError::invalid(
                "scoring.grades",
                "grades go from the best down: each `min` must be lower than the one before",
            ));
        }
        if let Some(g) = &self.grade_group {
            if !known_group(g) {
                return Err(group_error("scoring.grade_group".into(), g));
            }
        }
        if let Some(label) = &self.label {
            if !known_group(&label.group) {
                return Err(group_error("scoring.label.group".into(), &label.group));
            }
            if label.levels.is_empty() {
                return Err(ConfigError::invalid(
                    "scoring.label.levels",
                    "at least one level is needed",
                ));
            }
            if label.levels.windows(2).any(|w| w[0].min <= w[1].min) {
                return Err(ConfigError::invalid(
                    "scoring.label.levels",
                    "levels go from the best down: each `min` must be lower than the one before",
                ));
            }
        }
        if let Some(stages) = &self.stages {
            if self.threshold != 0 {
                return Err(ConfigError::invalid(
                    "scoring.threshold",
                    "give the MQL bar either as `threshold` or as `stages.mql`, not both",
                ));
            }
            let bars = [
                ("scoring.stages.mql", Some(&stages.mql)),
                ("scoring.stages.sql", stages.sql.as_ref()),
            ];
            for (path, bar) in bars {
                let Some(grade) = bar.and_then(|b| b.min_grade.as_ref()) else { continue };
                if !self.grades.iter().any(|b| &b.grade == grade) {
                    let known = self.grades.iter().map(|b| b.grade.clone()).collect();
                    let kind = ConfigErrorKind::UnknownGrade { name: grade.clone(), known };
                    return Err(ConfigError::at(path.to_string() + ".min_grade", kind));
                }
            }
        }
        Ok(())
    }
}

impl Decay {
    fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let ok = |what: &str, v: Option<f64>| match v {
            Some(d) if !(d.is_finite() && d > 0.0) => Err(ConfigError::at(
                path.to_string() + "." + what,
                ConfigErrorKind::OutOfRange {
                    expected: "a number of days above 0",
                    found: number_text(d),
                },
            )),
            _ => Ok(()),
        };
        ok("half_life_days", self.half_life_days)?;
        ok("window_days", self.window_days)?;
        if self.half_life_days.is_none() && self.window_days.is_none() {
            return Err(ConfigError::invalid(
                path,
                "expected `half_life_days`, `window_days` or both",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
