//! A 100-rule model scoring a lead with 100 page views (`cargo bench -p leadgate-core`).
//! Goal: under 10 µs per score natively.
#![allow(clippy::unwrap_used)] // a benchmark may stop on a broken model

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use leadgate_core::{score, FieldValue, FormConfig, Lead, PageView, Timestamp, VisitorContext};

// The model and the visitor, shared with the browser timing in tests/web.rs.
include!("shared/model.rs");

fn bench(c: &mut Criterion) {
    let config = model();
    let (lead, context) = input();
    let s = score(&lead, &context, &config.scoring, Timestamp(NOW));
    assert!(s.hits.len() > 30, "{}", s.hits.len());
    c.bench_function("score: 100 rules, 100 page views", |b| {
        b.iter(|| {
            score(black_box(&lead), black_box(&context), black_box(&config.scoring), Timestamp(NOW))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
