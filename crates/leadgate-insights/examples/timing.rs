//! Times the insights and a backtest over 100,000 leads × 30 rules (the relay's bar: insights
//! in under 1 s, a backtest in under 2 s). Not a test: machines differ.
//!
//! `cargo run --release -p leadgate-insights --example timing`
//!
//! Times the statistics only, from data already in memory: the relay's own SQL and re-scoring
//! come on top.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use leadgate_insights::{
    auc_with_interval, backtest, calibrate, compare_rules, count_bands, lead_velocity,
    rejection_reasons, rule_counts, speed_to_lead, suggest_points, BacktestLead, BootstrapOptions,
    HitMatrix, LeadOutcome, ScoreBand, Scored, SegmentKind, SegmentReasons, SuggestOptions, Target,
};
use rand_pcg::rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

const LEADS: usize = 100_000;
const RULES: usize = 30;
const RUNS: usize = 5;

fn uniform(rng: &mut Pcg64Mcg) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

struct Data {
    matrix: HitMatrix,
    outcomes: Vec<LeadOutcome>,
    today: Vec<i64>,
    draft: Vec<i64>,
    sources: Vec<&'static str>,
    durations: Vec<u64>,
}

fn generate() -> Data {
    let mut rng = Pcg64Mcg::seed_from_u64(42);
    let names = (0..RULES).map(|j| format!("rule_{j:02}")).collect();
    let weights: Vec<f64> = (0..RULES).map(|j| [1.2, 0.8, 0.4, 0.0, 0.0, -0.6][j % 6]).collect();
    let shares: Vec<f64> = (0..RULES).map(|j| 0.1 + 0.4 * ((j * 7) % 10) as f64 / 10.0).collect();
    let mut matrix = HitMatrix::with_capacity(names, LEADS, 10);
    let mut outcomes = Vec::with_capacity(LEADS);
    let mut sources = Vec::with_capacity(LEADS);
    let mut durations = Vec::with_capacity(LEADS);
    for _ in 0..LEADS {
        let hits: Vec<usize> = (0..RULES).filter(|&j| uniform(&mut rng) < shares[j]).collect();
        let eta = -2.5 + hits.iter().map(|&j| weights[j]).sum::<f64>();
        let p = 1.0 / (1.0 + (-eta).exp());
        let accepted = uniform(&mut rng) < (p * 2.0).min(0.95);
        let won = accepted && uniform(&mut rng) < 0.5;
        matrix.push(hits).expect("rule indexes are in range");
        outcomes.push(LeadOutcome { accepted, rejected: !accepted, won });
        sources.push(
            ["google", "linkedin", "newsletter", "direct", ""][(rng.next_u64() % 5) as usize],
        );
        durations.push(rng.next_u64() % 86_400_000);
    }
    let today = (0..RULES).map(|j| [10, 10, 5, 5, 5, 5][j % 6]).collect();
    let draft = (0..RULES).map(|j| [20, 12, 6, 0, 0, -10][j % 6]).collect();
    Data { matrix, outcomes, today, draft, sources, durations }
}

fn totals(matrix: &HitMatrix, points: &[i64]) -> Vec<i64> {
    matrix.rows().map(|row| row.iter().map(|&j| points[usize::from(j)]).sum()).collect()
}

/// Everything the insights page computes from judged leads.
fn insights(d: &Data) -> (Duration, [(&'static str, Duration); 6]) {
    let start = Instant::now();
    // Time on a CPU where the system tells it (a busy machine makes wall time noisy), else
    // wall time.
    let mut lap = (Instant::now(), on_cpu());
    let mut split = || {
        let t = match (lap.1, on_cpu()) {
            (Some(a), Some(b)) => b - a,
            _ => lap.0.elapsed(),
        };
        lap = (Instant::now(), on_cpu());
        t
    };
    let (all, per_rule) = rule_counts(&d.matrix, &d.outcomes).expect("one outcome per lead");
    let compared = compare_rules(&all, &per_rule).expect("consistent counts");
    let t_rules = split();

    let scores: Vec<f64> = totals(&d.matrix, &d.today).into_iter().map(|t| t as f64).collect();
    let a = auc_with_interval(&scores, &d.outcomes, Target::Won, BootstrapOptions::default())
        .expect("one score per lead");
    let t_auc = split();

    let bands: Vec<ScoreBand> = [("A", 60.0), ("B", 40.0), ("C", 20.0), ("D", f64::MIN)]
        .iter()
        .map(|(b, min)| ScoreBand { band: b.to_string(), min: *min })
        .collect();
    let cal = calibrate(&count_bands(&scores, &d.outcomes, &bands).expect("lengths"))
        .expect("consistent counts");
    let t_cal = split();

    let suggestion = suggest_points(&d.matrix, &d.outcomes, &d.today, &SuggestOptions::default());
    let t_fit = split();

    let segments: Vec<SegmentReasons> = ["google", "linkedin"]
        .iter()
        .map(|s| SegmentReasons {
            kind: SegmentKind::Source,
            segment: s.to_string(),
            leads: 20_000,
            rejected: BTreeMap::from([("no-budget".to_string(), 3_000)]),
        })
        .collect();
    let all_rejected = BTreeMap::from([("no-budget".to_string(), 12_000)]);
    let reasons = rejection_reasons(LEADS as u64, &all_rejected, &segments).expect("counts");
    let speed = speed_to_lead(&d.durations);
    let lvr = lead_velocity(4_200, 3_900);
    let t_rest = split();

    std::hint::black_box((compared, a, cal, &suggestion, reasons, speed, lvr));
    if let Err(e) = &suggestion {
        eprintln!("suggestion refused: {e}");
    }
    let whole = start.elapsed();
    (
        whole,
        [
            ("rules (counts, Wilson, Newcombe, Katz)", t_rules),
            ("AUC + DeLong interval (> 10,000 leads)", t_auc),
            ("calibration by band", t_cal),
            ("suggested points (30-rule L2 logistic)", t_fit),
            ("reasons, speed to lead, LVR", t_rest),
            ("", Duration::ZERO),
        ],
    )
}

fn run_backtest(d: &Data) -> Duration {
    let start = Instant::now();
    let before = totals(&d.matrix, &d.today);
    let after = totals(&d.matrix, &d.draft);
    let leads: Vec<BacktestLead<'_>> = (0..LEADS)
        .map(|i| BacktestLead {
            source: d.sources[i],
            before: Scored { total: before[i], qualified: before[i] >= 40 },
            after: Scored { total: after[i], qualified: after[i] >= 40 },
            outcome: d.outcomes[i],
        })
        .collect();
    let b = backtest(&leads).expect("backtest");
    std::hint::black_box(&b);
    start.elapsed()
}

/// Time this thread has spent on a CPU (Linux), to tell the work from waiting for a core on
/// a busy machine; `None` elsewhere.
fn on_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok().map(Duration::from_nanos)
}

fn main() {
    let t = Instant::now();
    let d = generate();
    println!("generated {LEADS} leads × {RULES} rules in {:?}", t.elapsed());
    let mut whole = Vec::new();
    let mut backtests = Vec::new();
    let mut cpu = Vec::new();
    for run in 0..RUNS {
        let cpu_start = on_cpu();
        let (total, parts) = insights(&d);
        if let (Some(a), Some(b)) = (cpu_start, on_cpu()) {
            cpu.push(b - a);
        }
        whole.push(total);
        if run == 0 {
            for (name, time) in parts.iter().filter(|p| !p.0.is_empty()) {
                println!("  {name:<42} {:>8.1} ms", time.as_secs_f64() * 1e3);
            }
        }
        backtests.push(run_backtest(&d));
    }
    // The bootstrap itself, at the largest size it is used for by default.
    let n = 10_000;
    let scores: Vec<f64> = totals(&d.matrix, &d.today)[..n].iter().map(|&t| t as f64).collect();
    let (t, c) = (Instant::now(), on_cpu());
    let a = auc_with_interval(&scores, &d.outcomes[..n], Target::Won, BootstrapOptions::default())
        .expect("one score per lead");
    println!(
        "  bootstrap, 1000 replicates of {n} leads: {:.1} ms wall, {:.1} ms on a CPU ({:?} {:.3}..{:.3})",
        t.elapsed().as_secs_f64() * 1e3,
        on_cpu().zip(c).map_or(f64::NAN, |(b, a)| (b - a).as_secs_f64() * 1e3),
        a.method,
        a.low.unwrap_or(f64::NAN),
        a.high.unwrap_or(f64::NAN)
    );
    whole.sort();
    backtests.sort();
    cpu.sort();
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    println!(
        "insights over {LEADS} leads: median {:.1} ms (min {:.1}, max {:.1}) of {RUNS} runs",
        ms(&whole[RUNS / 2]),
        ms(&whole[0]),
        ms(&whole[RUNS - 1])
    );
    if !cpu.is_empty() {
        println!("insights, time on a CPU: median {:.1} ms", ms(&cpu[cpu.len() / 2]));
    }
    println!(
        "backtest of {LEADS} leads (incl. summing both configs' points): median {:.1} ms (min {:.1}, max {:.1})",
        ms(&backtests[RUNS / 2]),
        ms(&backtests[0]),
        ms(&backtests[RUNS - 1])
    );
}
