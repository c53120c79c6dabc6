//! Criterion benches of the Rust core alone (no Python): the same rows as `benches/compare.py`,
//! plus the pieces a verify is made of, so a regression can be traced to one of them.
//!
//! `cargo bench --bench core` (or `make bench`, which runs it after the Python comparison).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::hint::black_box;
use std::time::Duration;

mod common;

use _core::core::b64;
use _core::core::channel::{Template, parse_wire_id, validate_wire_id};
use _core::core::keys::Key;
use _core::core::time::system_now;
use common::{SECRET, channel_ids, signer, verifier};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const IDENTITY: &str = "user-42";

fn token(channels: &[String], now: f64) -> String {
    let mut ids: Vec<&str> = channels.iter().map(String::as_str).collect();
    signer().sign(IDENTITY, &mut ids, now, None, None).unwrap()
}

fn sign(c: &mut Criterion) {
    let signer = signer();
    let now = system_now();
    let mut group = c.benchmark_group("sign");
    for n in [1, 10, 100] {
        let channels = channel_ids(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &channels, |b, channels| {
            b.iter(|| {
                let mut ids: Vec<&str> = channels.iter().map(String::as_str).collect();
                signer.sign(black_box(IDENTITY), &mut ids, now, None, None).unwrap()
            });
        });
    }
    group.finish();
}

fn verify_allows(c: &mut Criterion) {
    let verifier = verifier();
    let now = system_now();
    let mut group = c.benchmark_group("verify_allows");
    for n in [1, 10, 100, 1000] {
        let channels = channel_ids(n);
        let token = token(&channels, now);
        let probe = channels[n / 2].clone();
        assert!(verifier.verify(token.as_bytes(), now).unwrap().allows(probe.as_bytes()));
        group.bench_with_input(BenchmarkId::from_parameter(n), &token, |b, token| {
            b.iter(|| {
                verifier
                    .verify(black_box(token.as_bytes()), now)
                    .unwrap()
                    .allows(black_box(probe.as_bytes()))
            });
        });
    }
    group.finish();
}

fn allows(c: &mut Criterion) {
    let verifier = verifier();
    let now = system_now();
    let mut group = c.benchmark_group("allows");
    for n in [1, 100, 10_000] {
        let channels = channel_ids(n);
        let grants = verifier.verify(token(&channels, now).as_bytes(), now).unwrap();
        let probe = channels[n / 2].clone();
        let miss = "chat.r99999##roomId.messages";
        group.bench_function(BenchmarkId::new("hit", n), |b| {
            b.iter(|| grants.allows(black_box(probe.as_bytes())));
        });
        group.bench_function(BenchmarkId::new("miss", n), |b| {
            b.iter(|| grants.allows(black_box(miss.as_bytes())));
        });
    }
    group.finish();
}

fn channel(c: &mut Criterion) {
    let template = Template::parse("chat.{roomId}.messages").unwrap();
    let values = [("roomId", "r 1")];
    let id = template.render(&values).unwrap();
    let mut group = c.benchmark_group("channel");
    group.bench_function("render", |b| b.iter(|| template.render(black_box(&values)).unwrap()));
    group.bench_function("parse", |b| b.iter(|| parse_wire_id(black_box(&id)).unwrap()));
    group.bench_function("validate", |b| {
        b.iter(|| validate_wire_id(black_box(id.as_bytes())).unwrap());
    });
    group.finish();
}

/// The pieces of one verify of a 1-channel token.
fn parts(c: &mut Criterion) {
    let now = system_now();
    let token = token(&channel_ids(1), now);
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let payload = signing_input.split_once('.').unwrap().1;
    let key = Key::new(SECRET).unwrap();
    let mut group = c.benchmark_group("parts");
    group.bench_function("hmac_signing_input", |b| {
        b.iter(|| key.mac(&[black_box(signing_input.as_bytes())]));
    });
    group.bench_function("b64_payload", |b| b.iter(|| b64::decode(black_box(payload.as_bytes()))));
    group.bench_function("b64_signature", |b| {
        b.iter(|| {
            matches!(
                b64::decode_fixed::<32>(black_box(signature.as_bytes())),
                b64::Fixed::Ok(_)
            )
        });
    });
    group.finish();
}

fn config() -> Criterion {
    // Short runs: the interleaved Python comparison is the primary table; these track the core.
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = sign, verify_allows, allows, channel, parts
}
criterion_main!(benches);
