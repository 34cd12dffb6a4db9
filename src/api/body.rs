//! JSON request bodies parsed strictly: a syntax error or a field of the wrong type is a
//! 400 naming the field at fault, as dockerd's decoder reports it; fields a model does not
//! know are ignored, as dockerd ignores them.

use serde::de::DeserializeOwned;

use super::error::ApiError;

/// `raw` as a `T`; an empty body is `{}` when `empty_ok` (dockerd's optional bodies).
pub fn json_body<T: DeserializeOwned>(raw: &[u8], empty_ok: bool) -> Result<T, ApiError> {
    let raw: &[u8] = if raw.iter().all(u8::is_ascii_whitespace) {
        if !empty_ok {
            return Err(ApiError::bad_request("request body is empty"));
        }
        b"{}"
    } else {
        raw
    };
    let de = &mut serde_json::Deserializer::from_slice(raw);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        if path.is_empty() || path == "." || path == "?" {
            ApiError::bad_request(format!("invalid JSON: {}", e.inner()))
        } else {
            ApiError::bad_request(format!("invalid JSON for field {path}: {}", e.inner()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_stubs::models::VolumeCreateRequest;

    #[test]
    fn bodies() {
        let v: VolumeCreateRequest = json_body(b"", true).unwrap();
        assert_eq!(v.name, None);
        let v: VolumeCreateRequest = json_body(br#"{"Name":"a","Extra":1}"#, false).unwrap();
        assert_eq!(v.name.as_deref(), Some("a"));
        for (raw, want) in [
            (&b""[..], "request body is empty"),
            (b"{nope", "invalid JSON: "),
            (br#"{"Name":7}"#, "invalid JSON for field Name: "),
            (
                br#"{"Labels":{"a":1}}"#,
                "invalid JSON for field Labels.a: ",
            ),
        ] {
            let e = json_body::<VolumeCreateRequest>(raw, false).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
            assert!(e.message.starts_with(want), "{:?}: {}", raw, e.message);
        }
    }
}
