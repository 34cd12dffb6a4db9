//! Independent stages run at the same time: four stages that each sleep finish in well under
//! the sum of their sleeps.

mod build_support;
mod common;

use std::time::Instant;

use build_support::{read, Bench};

#[test]
fn four_independent_stages_run_in_parallel() {
    const SLEEP: f64 = 1.5;
    let b = Bench::new();
    let mut df = String::new();
    for i in 0..4 {
        df.push_str(&format!(
            "FROM busybox AS s{i}\nRUN sleep {SLEEP} && echo {i} > /out{i}\n\n"
        ));
    }
    df.push_str("FROM busybox\n");
    for i in 0..4 {
        df.push_str(&format!("COPY --from=s{i} /out{i} /out{i}\n"));
    }
    b.dockerfile(&df);
    let t0 = Instant::now();
    b.build("par", &[]);
    let wall = t0.elapsed().as_secs_f64();
    let serial = 4.0 * SLEEP;
    assert!(
        wall < 0.6 * serial,
        "4 stages of {SLEEP}s took {wall:.2}s, not under 60% of the serial {serial}s"
    );
    let root = b.unpack("par");
    for i in 0..4 {
        assert_eq!(read(&root, &format!("out{i}")), format!("{i}\n"));
    }
}
