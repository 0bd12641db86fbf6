//! A fixed number of decisions, for counting instructions: `valgrind --tool=callgrind` on this example gives a
//! repeatable cost per decision, where wall-clock timings on a shared machine wander. With `first` after the count,
//! the permits are asked about 2,048 people in turn, so that none is answered from memory.

use std::hint::black_box;

#[path = "../benches/fixture.rs"]
mod fixture;
use fixture::{deny, fixture, permit, strangers, supervised};

fn main() {
    let f = fixture();
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let first = std::env::args().nth(2).is_some_and(|a| a == "first");
    let people = strangers(&f, 2_048);
    for (k, q) in [permit(&f), deny(&f), supervised(&f)].into_iter().enumerate() {
        for i in 0..n {
            let mut q = q.clone();
            if first && k != 1 {
                q.actor = &people[i % people.len()];
            }
            black_box(f.pack.decide(black_box(&q)));
        }
    }
}
