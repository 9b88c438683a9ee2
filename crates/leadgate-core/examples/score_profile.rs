//! The scoring benchmark's input scored 1,000 times, for an instruction profile (criterion's
//! timings move with the machine's load; instruction counts do not):
//!   cargo build --profile relay -p leadgate-core --example score_profile
//!   valgrind --tool=callgrind target/relay/examples/score_profile
//! Parsing the model is ~3.9 M instructions of the total; the rest is the 1,000 scores.
#![allow(clippy::unwrap_used)] // a profile run may stop on a broken model

use leadgate_core::{score, FieldValue, FormConfig, Lead, PageView, Timestamp, VisitorContext};

// The model and the visitor of benches/score.rs.
include!("../benches/shared/model.rs");

fn main() {
    let config = model();
    let (lead, context) = input();
    let mut hits = 0;
    for _ in 0..1000 {
        let scored = score(&lead, &context, &config.scoring, Timestamp(NOW));
        hits += std::hint::black_box(scored).hits.len();
    }
    println!("{hits} hits");
}
