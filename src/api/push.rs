//! `POST /images/{name}/push?tag=`: a push, streamed as Docker's progress messages, ending
//! with `TAG: digest: … size: N` and the same as an `aux` message.

use std::path::PathBuf;

use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;

use super::error::ApiError;
use super::query::Params;
use super::{registry_auth, stream};
use crate::engine;
use crate::engine::push::{pushed_name, PushEvent, PushRequest};

pub async fn push(
    root: PathBuf,
    name: &str,
    p: &Params,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let reference = super::pull::reference(name, p.get("tag").map(String::as_str))?;
    let req = PushRequest {
        reference: reference.clone(),
        insecure: Vec::new(),
        credential: registry_auth::credential(headers)?,
    };
    stream::run(move |out| {
        let on = |e: PushEvent| {
            let _ = match e {
                PushEvent::Started(layers) => {
                    out.status(format!(
                        "The push refers to repository [{}]",
                        reference.familiar()
                    ));
                    // dockerd lists the layers top first.
                    layers
                        .iter()
                        .rev()
                        .all(|d| out.status_id("Preparing", &d.short()))
                }
                PushEvent::Pushing(d) => out.status_id("Pushing", &d.short()),
                PushEvent::Pushed(d) => out.status_id("Pushed", &d.short()),
                PushEvent::Existed(d) => out.status_id("Layer already exists", &d.short()),
                PushEvent::Warning(w) => out.status(format!("Warning: {w}")),
            };
        };
        let pushed = engine::push::push(&root, &req, &on)?;
        let tag = pushed_name(&reference);
        out.status(format!(
            "{tag}: digest: {} size: {}",
            pushed.digest, pushed.size
        ));
        out.send(json!({
            "progressDetail": {},
            "aux": { "Tag": tag, "Digest": pushed.digest.to_string(), "Size": pushed.size },
        }));
        Ok(())
    })
    .await
}
