//! Container names: Docker's rule for user-given names, and generated `adjective_noun` names.

use super::error::ContainerError;

const ADJECTIVES: &[&str] = &[
    "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry",
    "nifty", "proud", "quiet", "rapid", "sharp", "tender", "upbeat", "vivid", "witty", "zen",
];
const NOUNS: &[&str] = &[
    "otter", "falcon", "maple", "comet", "harbor", "lynx", "quartz", "raven", "sequoia", "tiger",
    "willow", "badger", "cedar", "dolphin", "ember", "fjord", "glacier", "heron", "iris",
    "juniper",
];

/// Docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (a leading `/` is accepted and dropped by the caller).
pub fn validate(name: &str) -> Result<(), ContainerError> {
    if crate::util::valid_name(name) {
        Ok(())
    } else {
        Err(ContainerError::BadName(name.to_string()))
    }
}

/// A name from the container ID's bytes (`attempt` picks another on a clash).
pub fn generate(id: &str, attempt: usize) -> String {
    let n = |i: usize| usize::from_str_radix(id.get(i..i + 4).unwrap_or("0"), 16).unwrap_or(0);
    let a = ADJECTIVES[(n(0) + attempt) % ADJECTIVES.len()];
    let b = NOUNS[(n(4) + attempt / ADJECTIVES.len()) % NOUNS.len()];
    if attempt < ADJECTIVES.len() * NOUNS.len() {
        format!("{a}_{b}")
    } else {
        format!("{a}_{b}_{attempt}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules() {
        for good in ["web", "a1", "my_app.v2-x", "9lives"] {
            assert!(validate(good).is_ok(), "{good}");
        }
        for bad in ["", "a", "-x", "_x", "a/b", "a b", "é1"] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_names_are_valid_and_vary() {
        let id = "0123456789abcdef".repeat(4);
        assert!(validate(&generate(&id, 0)).is_ok());
        assert_ne!(generate(&id, 0), generate(&id, 1));
        assert!(validate(&generate(&id, 100_000)).is_ok());
    }
}
