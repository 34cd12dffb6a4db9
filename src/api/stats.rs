//! `GET /containers/{id}/stats?stream=&one-shot=`: Docker's stats JSON from the engine's
//! readings. `stream=false` waits for a second reading so `precpu_stats` is filled (what
//! `docker stats --no-stream` computes CPU % from), unless `one-shot`; streamed, one object a
//! second until the client goes away or the container is removed.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{self, Query};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use bollard_stubs::models::{
    ContainerBlkioStatEntry, ContainerBlkioStats, ContainerCpuStats, ContainerCpuUsage,
    ContainerMemoryStats, ContainerNetworkStats, ContainerPidsStats, ContainerStatsResponse,
};
use tokio::sync::mpsc;

use super::channel_body::ChannelBody;
use super::containers::{cblocking, Shared};
use super::error::ApiError;
use super::query::Params;
use crate::container::stats_view::memory_limit;
use crate::engine::containers::stats::{Reading, StatsSource};

/// Between two readings, as dockerd's collector.
const INTERVAL: Duration = Duration::from_secs(1);
/// Go's zero time, which dockerd sends for a reading it does not have.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn cpu(r: Option<&Reading>) -> ContainerCpuStats {
    let Some(r) = r else {
        return ContainerCpuStats::default();
    };
    let Some(s) = &r.sample else {
        return ContainerCpuStats::default();
    };
    ContainerCpuStats {
        cpu_usage: Some(ContainerCpuUsage {
            total_usage: Some(s.cgroup.cpu_total_ns),
            ..ContainerCpuUsage::default()
        }),
        system_cpu_usage: Some(s.system_cpu_ns),
        online_cpus: Some(r.online_cpus),
        throttling_data: None,
    }
}

/// The stats object of the reading `cur`, `prev` the one before it.
pub fn stats_object(
    src: &StatsSource,
    cur: &Reading,
    prev: Option<&Reading>,
) -> ContainerStatsResponse {
    let c = &src.container;
    let mut out = ContainerStatsResponse {
        id: Some(c.id.clone()),
        name: Some(format!("/{}", c.name)),
        os_type: Some("linux".into()),
        read: Some(cur.read.clone()),
        preread: Some(prev.map_or(ZERO_TIME.to_string(), |p| p.read.clone())),
        cpu_stats: Some(cpu(Some(cur))),
        precpu_stats: Some(cpu(prev)),
        memory_stats: Some(ContainerMemoryStats::default()),
        pids_stats: Some(ContainerPidsStats::default()),
        blkio_stats: Some(ContainerBlkioStats::default()),
        num_procs: Some(0),
        ..ContainerStatsResponse::default()
    };
    let Some(s) = &cur.sample else {
        return out;
    };
    let g = &s.cgroup;
    // The docker CLI takes `inactive_file` off the usage, as `strata stats` does.
    let stats = HashMap::from([("inactive_file".to_string(), g.memory_cache)]);
    out.memory_stats = Some(ContainerMemoryStats {
        usage: Some(g.memory_usage),
        stats: Some(stats),
        limit: Some(memory_limit(g.memory_limit, cur.host_memory)),
        ..ContainerMemoryStats::default()
    });
    out.pids_stats = Some(ContainerPidsStats {
        current: Some(g.pids_current),
        limit: g.pids_limit,
    });
    let entry = |op: &str, value: u64| ContainerBlkioStatEntry {
        major: Some(0),
        minor: Some(0),
        op: Some(op.into()),
        value: Some(value),
    };
    out.blkio_stats = Some(ContainerBlkioStats {
        io_service_bytes_recursive: Some(vec![
            entry("read", g.blkio_read_bytes),
            entry("write", g.blkio_write_bytes),
        ]),
        ..ContainerBlkioStats::default()
    });
    if c.config.net.mode != "host" && c.config.net.mode != "none" {
        out.networks = Some(
            cur.networks
                .iter()
                .map(|(name, n)| {
                    let stats = ContainerNetworkStats {
                        rx_bytes: Some(n.rx_bytes),
                        rx_packets: Some(n.rx_packets),
                        rx_errors: Some(n.rx_errors),
                        rx_dropped: Some(n.rx_dropped),
                        tx_bytes: Some(n.tx_bytes),
                        tx_packets: Some(n.tx_packets),
                        tx_errors: Some(n.tx_errors),
                        tx_dropped: Some(n.tx_dropped),
                        ..ContainerNetworkStats::default()
                    };
                    (name.clone(), stats)
                })
                .collect(),
        );
    }
    out
}

fn line(v: &ContainerStatsResponse) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

pub async fn stats(
    extract::State(s): Shared,
    extract::Path(id): extract::Path<String>,
    Query(p): Query<Params>,
) -> Result<Response, ApiError> {
    // `stream` defaults to true; only an explicit false turns it off.
    let stream = !p.get("stream").is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "0" | "false" | "no" | "none"
        )
    });
    let one_shot = super::query::bool_param(&p, "one-shot");
    let root = s.root.clone();
    let mut src = cblocking(move || StatsSource::open(&root, &id)).await?;
    if !stream {
        let v = cblocking(move || {
            let first = src.read();
            if one_shot {
                return Ok(stats_object(&src, &first, None));
            }
            std::thread::sleep(INTERVAL / 2);
            let second = src.read();
            Ok(stats_object(&src, &second, Some(&first)))
        })
        .await?;
        return Ok(axum::Json(v).into_response());
    }
    let (tx, rx) = mpsc::channel::<Bytes>(2);
    let root = s.root.clone();
    tokio::task::spawn_blocking(move || {
        let mut prev: Option<Reading> = None;
        loop {
            let cur = src.read();
            if tx
                .blocking_send(line(&stats_object(&src, &cur, prev.as_ref())))
                .is_err()
            {
                return;
            }
            prev = Some(cur);
            std::thread::sleep(INTERVAL);
            // A removed container ends the stream, as with dockerd.
            if crate::container::Containers::new(&root)
                .find(&src.container.id)
                .is_err()
            {
                return;
            }
        }
    });
    let mut r = Response::new(Body::new(ChannelBody { rx }));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}
