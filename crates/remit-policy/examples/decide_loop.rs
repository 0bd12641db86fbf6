//! A fixed number of decisions, for counting instructions: `valgrind --tool=callgrind` on this example gives a
//! repeatable cost per decision, where wall-clock timings on a shared machine wander.

use std::hint::black_box;

#[path = "../benches/fixture.rs"]
mod fixture;
use fixture::{deny, fixture, permit, supervised};

fn main() {
    let f = fixture();
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    for q in [permit(&f), deny(&f), supervised(&f)] {
        for _ in 0..n {
            black_box(f.pack.decide(black_box(&q)));
        }
    }
}
