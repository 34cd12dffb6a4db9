//! Reading the store's event log for either front door: the `since`/`until`/`filters` a user
//! gave become a `Query`, and `follow` streams the matching events (blocking; it returns when
//! `until` has passed, `stop` says so, or `emit` refuses an event).

use std::path::Path;

use super::EngineError;
pub use crate::store::events::now_ns;
use crate::store::events::{parse_time, Event, EventLog, Filters, Query};

/// What a user asks of the event log, as typed (times in any form `parse_time` takes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsRequest {
    pub since: Option<String>,
    pub until: Option<String>,
    /// `KEY=VALUE` each.
    pub filters: Vec<String>,
}

impl EventsRequest {
    /// The query, with relative times taken from `now` (Unix ns).
    pub fn query(&self, now: i128) -> Result<Query, EngineError> {
        let time = |flag: &'static str, v: &Option<String>| {
            v.as_deref()
                .map(|s| parse_time(s, now).map_err(|source| EngineError::BadTime { flag, source }))
                .transpose()
        };
        let since = time("since", &self.since)?;
        let until = time("until", &self.until)?;
        Ok(Query {
            since,
            until,
            filters: Filters::parse(&self.filters)?,
        })
    }
}

/// Streams the events `q` selects to `emit` (see `EventLog::follow`).
pub fn follow(
    root: &Path,
    q: &Query,
    stop: &dyn Fn() -> bool,
    emit: &mut dyn FnMut(&Event) -> bool,
) -> Result<(), EngineError> {
    EventLog::new(root).follow(q, stop, emit)?;
    Ok(())
}
