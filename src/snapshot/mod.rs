//! Unpacked layers keyed by chain ID, the deterministic layer writer, and unpacking with
//! whiteouts and escape refusal.
