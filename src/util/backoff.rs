//! A poll interval that starts short and doubles while nothing happens: a short-lived
//! container's end is seen within milliseconds, a long-lived one costs few wake-ups.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    min: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            next: min,
            min,
            max: max.max(min),
        }
    }

    /// The interval to sleep now; the next one is twice as long, up to the maximum.
    pub fn step(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(self.max);
        now
    }

    pub fn sleep(&mut self) {
        std::thread::sleep(self.step());
    }

    /// Something happened: poll quickly again.
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_maximum_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(2), ms(20));
        let steps: Vec<_> = (0..6).map(|_| b.step()).collect();
        assert_eq!(steps, [ms(2), ms(4), ms(8), ms(16), ms(20), ms(20)]);
        b.reset();
        assert_eq!(b.step(), ms(2));
    }
}
