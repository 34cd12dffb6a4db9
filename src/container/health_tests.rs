use std::time::Duration;

use super::*;

const MS: i64 = 1_000_000;
const SEC: i64 = 1_000_000_000;

fn hc(test: &[&str], interval: i64, timeout: i64, start_period: i64, retries: i64) -> Healthcheck {
    Healthcheck {
        test: (!test.is_empty()).then(|| test.iter().map(|s| s.to_string()).collect()),
        interval,
        timeout,
        start_period,
        start_interval: 0,
        retries,
    }
}

fn result(code: i32) -> ProbeResult {
    ProbeResult {
        start: "s".into(),
        end: "e".into(),
        exit_code: code,
        output: format!("code {code}"),
    }
}

#[test]
fn merge_takes_the_image_values_the_container_leaves_zero() {
    let image = hc(&["CMD", "check"], 5 * SEC, 2 * SEC, 0, 4);
    // (given, want)
    let cases: &[(Option<Healthcheck>, Option<Healthcheck>)] = &[
        (None, Some(image.clone())),
        (
            Some(hc(&[], SEC, 0, 0, 0)),
            Some(hc(&["CMD", "check"], SEC, 2 * SEC, 0, 4)),
        ),
        (
            Some(hc(&["CMD-SHELL", "other"], 0, 0, 3 * SEC, 0)),
            Some(hc(&["CMD-SHELL", "other"], 5 * SEC, 2 * SEC, 3 * SEC, 4)),
        ),
        (
            Some(hc(&["NONE"], 0, 0, 0, 0)),
            Some(hc(&["NONE"], 5 * SEC, 2 * SEC, 0, 4)),
        ),
    ];
    for (given, want) in cases {
        assert_eq!(&merge(Some(&image), given.clone()), want, "{given:?}");
    }
    assert_eq!(merge(None, None), None);
    let only = hc(&[], SEC, 0, 0, 0);
    assert_eq!(merge(None, Some(only.clone())), Some(only));
}

#[test]
fn validation_speaks_dockers_messages() {
    let mut start_interval = hc(&["CMD", "x"], 0, 0, 0, 0);
    start_interval.start_interval = 10;
    let cases: &[(Healthcheck, Option<&str>)] = &[
        (hc(&["CMD", "x"], 0, 0, 0, 0), None),
        (hc(&["CMD", "x"], MS, MS, MS, 1), None),
        (
            hc(&["CMD", "x"], MS - 1, 0, 0, 0),
            Some("Interval in Healthcheck cannot be less than 1ms"),
        ),
        (
            hc(&["CMD", "x"], -10 * MS, 0, 0, 0),
            Some("Interval in Healthcheck cannot be less than 1ms"),
        ),
        (
            hc(&["CMD", "x"], 0, 5, 0, 0),
            Some("Timeout in Healthcheck cannot be less than 1ms"),
        ),
        (
            hc(&["CMD", "x"], 0, 0, 0, -1),
            Some("Retries in Healthcheck cannot be negative"),
        ),
        (
            hc(&["CMD", "x"], 0, 0, 7, 0),
            Some("StartPeriod in Healthcheck cannot be less than 1ms"),
        ),
        (
            start_interval,
            Some("StartInterval in Healthcheck cannot be less than 1ms"),
        ),
    ];
    for (h, want) in cases {
        assert_eq!(validate(h).err().as_deref(), *want, "{h:?}");
    }
}

#[test]
fn probe_commands_by_test_kind() {
    let sh = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let bash = sh(&["/bin/bash", "-c"]);
    // (test, shell, want)
    type Case<'a> = (&'a [&'a str], &'a [String], Option<&'a [&'a str]>);
    let cases: &[Case] = &[
        (&["CMD", "true"], &[], Some(&["true"])),
        (
            &["CMD", "test", "-e", "/x"],
            &[],
            Some(&["test", "-e", "/x"]),
        ),
        (
            &["CMD-SHELL", "exit 0"],
            &[],
            Some(&["/bin/sh", "-c", "exit 0"]),
        ),
        (
            &["CMD-SHELL", "exit 0"],
            &bash,
            Some(&["/bin/bash", "-c", "exit 0"]),
        ),
        (&["NONE"], &[], None),
        (&["CMD"], &[], None),
        (&["WHAT", "x"], &[], None),
        (&[], &[], None),
    ];
    for (test, shell, want) in cases {
        let h = hc(test, 0, 0, 0, 0);
        let want = want.map(sh);
        assert_eq!(probe_command(Some(&h), shell), want, "{test:?}");
    }
    assert_eq!(probe_command(None, &[]), None);
}

#[test]
fn defaults_fill_the_zeros() {
    let t = Timing::of(&hc(&["CMD", "x"], 0, 0, 0, 0));
    assert_eq!(
        t,
        Timing {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            start_period: Duration::ZERO,
            start_interval: Duration::from_secs(5),
            retries: 3,
        }
    );
    let t = Timing::of(&hc(&["CMD", "x"], 200 * MS, SEC, 2 * SEC, 1));
    assert_eq!(
        (t.interval, t.timeout, t.start_period, t.retries),
        (
            Duration::from_millis(200),
            Duration::from_secs(1),
            Duration::from_secs(2),
            1
        )
    );
}

#[test]
fn the_start_interval_applies_while_starting_within_the_start_period() {
    let mut h = hc(&["CMD", "x"], 10 * SEC, 0, 4 * SEC, 0);
    h.start_interval = SEC;
    let t = Timing::of(&h);
    let s = Duration::from_secs;
    use HealthStatus::*;
    // (since start, status, delay)
    let cases = [
        (s(0), Starting, s(1)),
        (s(3), Starting, s(1)),
        (s(4), Starting, s(10)),
        (s(1), Healthy, s(10)),
        (s(1), Unhealthy, s(10)),
    ];
    for (since, status, want) in cases {
        assert_eq!(t.next_delay(since, status), want, "{since:?} {status:?}");
    }
}

/// Results (exit code, seconds after the start) → (status, streak) after each, with
/// retries 3 and a start period of 10 s.
#[test]
fn results_drive_status_and_streak() {
    let t = Timing::of(&hc(&["CMD", "x"], SEC, SEC, 10 * SEC, 3));
    use HealthStatus::*;
    type Step = (i32, u64, HealthStatus, u32, bool);
    // (exit code, at second, status after, streak after, status changed)
    let runs: &[&[Step]] = &[
        // Failures inside the start period do not count; after it they do.
        &[
            (1, 1, Starting, 0, false),
            (1, 5, Starting, 0, false),
            (1, 11, Starting, 1, false),
            (1, 12, Starting, 2, false),
            (1, 13, Unhealthy, 3, true),
            (1, 14, Unhealthy, 4, false),
            (0, 15, Healthy, 0, true),
        ],
        // A success ends the start period: later failures count at once.
        &[
            (0, 1, Healthy, 0, true),
            (1, 2, Healthy, 1, false),
            (2, 3, Healthy, 2, false),
            (-1, 4, Unhealthy, 3, true),
        ],
        // A success in between resets the streak.
        &[
            (1, 11, Starting, 1, false),
            (1, 12, Starting, 2, false),
            (0, 13, Healthy, 0, true),
            (1, 14, Healthy, 1, false),
        ],
    ];
    for (i, run) in runs.iter().enumerate() {
        let mut h = Health::starting(None);
        for &(code, at, status, streak, changed) in run.iter() {
            let got = h.record(result(code), Duration::from_secs(at), &t);
            assert_eq!(
                (h.status, h.failing_streak, got.is_some()),
                (status, streak, changed),
                "run {i}, exit {code} at {at}s"
            );
            assert_eq!(got, changed.then_some(status));
        }
    }
}

#[test]
fn the_log_keeps_the_last_five() {
    let t = Timing::of(&hc(&["CMD", "x"], 0, 0, 0, 100));
    let mut h = Health::starting(None);
    for code in 0..8 {
        h.record(result(code), Duration::from_secs(100), &t);
        assert_eq!(h.log.len(), (code as usize + 1).min(MAX_LOG));
    }
    let codes: Vec<i32> = h.log.iter().map(|r| r.exit_code).collect();
    assert_eq!(codes, vec![3, 4, 5, 6, 7]);
    // A restart starts over, keeping the log; a stop leaves it unhealthy.
    let mut again = Health::starting(Some(h.clone()));
    assert_eq!(
        (again.status, again.failing_streak),
        (HealthStatus::Starting, 0)
    );
    assert_eq!(again.log, h.log);
    again.stopped();
    assert_eq!(again.status, HealthStatus::Unhealthy);
}

#[test]
fn output_is_cut_at_4096_bytes() {
    let mut o = Output::default();
    o.push(b"hello ");
    o.push(b"world");
    assert_eq!(o.text(), "hello world");
    let mut o = Output::default();
    o.push(&[b'a'; 4000]);
    o.push(&[b'b'; 200]);
    o.push(b"c");
    let t = o.text();
    assert_eq!(t.len(), MAX_OUTPUT + 3);
    assert!(t.starts_with(&"a".repeat(4000)) && t.ends_with(&format!("{}...", "b".repeat(96))));
    let mut o = Output::default();
    o.push(&[b'x'; MAX_OUTPUT]);
    assert_eq!(o.text().len(), MAX_OUTPUT, "exactly full is not cut");
}

#[test]
fn durations_print_as_go_does() {
    let ms = Duration::from_millis;
    let cases = [
        (Duration::ZERO, "0s"),
        (Duration::from_nanos(5), "5ns"),
        (Duration::from_micros(1), "1µs"),
        (Duration::from_micros(1500), "1.5ms"),
        (ms(200), "200ms"),
        (ms(1000), "1s"),
        (ms(1500), "1.5s"),
        (ms(30_000), "30s"),
        (ms(90_000), "1m30s"),
        (ms(3_600_000), "1h0m0s"),
        (ms(3_661_500), "1h1m1.5s"),
    ];
    for (d, want) in cases {
        assert_eq!(go_duration(d), want, "{d:?}");
    }
    assert_eq!(
        timeout_output(ms(1000), ""),
        "Health check exceeded timeout (1s)"
    );
    assert_eq!(
        timeout_output(ms(200), "partial"),
        "Health check exceeded timeout (200ms): partial"
    );
}
