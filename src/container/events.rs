//! The container events `strata events` shows (`create`, `start`, `die`, `kill`, `stop`,
//! `destroy`, `pause`, `rename`…), appended to the store's event log with Docker's
//! attributes. Best effort: an event that cannot be written never fails the operation.

use std::collections::BTreeMap;
use std::path::Path;

use super::record::Container;
use crate::store::events::{Event, EventLog, EventType};

/// Records `action` on `c`, with `image` and `name` (and `extra`) as Docker's attributes.
pub fn emit(root: &Path, c: &Container, action: &str, extra: &[(&str, String)]) {
    // Docker's container events carry the container's labels among their attributes.
    let mut attrs: BTreeMap<String, String> = c.config.labels.clone();
    attrs.insert("image".to_string(), c.image.clone());
    attrs.insert("name".to_string(), c.name.clone());
    for (k, v) in extra {
        attrs.insert(k.to_string(), v.clone());
    }
    let ev = Event::now(EventType::Container, action, c.id.clone(), attrs);
    let _ = EventLog::new(root).append(&ev);
}
