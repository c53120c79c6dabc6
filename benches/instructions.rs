//! A fixed-work driver for counting instructions, which (unlike time) does not move with the
//! load on a shared machine: `benches/instructions.py` runs each case under
//! `valgrind --tool=callgrind` at two iteration counts and reports the difference per call.
//!
//! `cargo bench --bench instructions -- CASE ITERATIONS` runs one case; no arguments lists them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::hint::black_box;

mod common;

use _core::core::channel::{Template, parse_wire_id};
use common::{channel_ids, signer, verifier};

/// A fixed clock: counts must not depend on the day they are taken.
const NOW: f64 = 1_800_000_000.0;

fn token(n: usize) -> String {
    let channels = channel_ids(n);
    let mut ids: Vec<&str> = channels.iter().map(String::as_str).collect();
    signer()
        .sign("user-42", &mut ids, NOW, None, Some("fixed-jti"))
        .unwrap()
}

const CASES: &[&str] = &[
    "sign/1",
    "sign/10",
    "sign/100",
    "verify_allows/1",
    "verify_allows/10",
    "verify_allows/100",
    "verify_allows/1000",
    "allows/1",
    "allows/100",
    "allows/10000",
    "channel/render",
    "channel/parse",
];

fn run(case: &str, iterations: u64) {
    let (group, n) = case.split_once('/').unwrap();
    match group {
        "sign" => {
            let signer = signer();
            let channels = channel_ids(n.parse().unwrap());
            for _ in 0..iterations {
                let mut ids: Vec<&str> = channels.iter().map(String::as_str).collect();
                // A fixed jti: the random source is a system call, not the work measured here.
                black_box(
                    signer
                        .sign(black_box("user-42"), &mut ids, NOW, None, Some("fixed-jti"))
                        .unwrap(),
                );
            }
        }
        "verify_allows" => {
            let n: usize = n.parse().unwrap();
            let (verifier, token, probe) = (verifier(), token(n), channel_ids(n)[n / 2].clone());
            for _ in 0..iterations {
                let grants = verifier.verify(black_box(token.as_bytes()), NOW).unwrap();
                assert!(grants.allows(black_box(probe.as_bytes())));
            }
        }
        "allows" => {
            let n: usize = n.parse().unwrap();
            let grants = verifier().verify(token(n).as_bytes(), NOW).unwrap();
            let probe = channel_ids(n)[n / 2].clone();
            for _ in 0..iterations {
                assert!(grants.allows(black_box(probe.as_bytes())));
            }
        }
        "channel" if n == "render" => {
            let template = Template::parse("chat.{roomId}.messages").unwrap();
            for _ in 0..iterations {
                black_box(template.render(black_box(&[("roomId", "r 1")])).unwrap());
            }
        }
        "channel" if n == "parse" => {
            for _ in 0..iterations {
                black_box(parse_wire_id(black_box("chat.r%201##roomId.messages")).unwrap());
            }
        }
        _ => panic!("unknown case {case}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    match args.as_slice() {
        [case, iterations] => run(case, iterations.parse().unwrap()),
        _ => {
            for case in CASES {
                println!("{case}");
            }
        }
    }
}
