//! Query-string values as Docker's daemon reads them: booleans (`httputils.BoolValue`) and
//! `filters`, a JSON object of `{"key": ["value", …]}` (or the older `{"key": {"value": true}}`).

use std::collections::{BTreeMap, HashMap};

use super::error::ApiError;

pub type Params = HashMap<String, String>;

/// A query as Go's `Request.FormValue` reads it: the first value of a repeated key wins
/// (docker-py sends `dockerfile` twice for a Dockerfile outside the context, name first).
pub fn first_values(pairs: &[(String, String)]) -> Params {
    let mut out = Params::new();
    for (k, v) in pairs {
        out.entry(k.clone()).or_insert_with(|| v.clone());
    }
    out
}

/// True unless absent, empty, `0`, `no`, `false` or `none` (any case).
pub fn bool_param(params: &Params, key: &str) -> bool {
    params.get(key).is_some_and(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "no" | "false" | "none"
        )
    })
}

/// The `filters` parameter as `KEY=VALUE` strings, the form the engine's filters take.
pub fn filters(params: &Params) -> Result<Vec<String>, ApiError> {
    let Some(raw) = params.get("filters").filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Values {
        List(Vec<String>),
        Map(BTreeMap<String, bool>),
    }
    let parsed: BTreeMap<String, Values> = serde_json::from_str(raw)
        .map_err(|e| ApiError::bad_request(format!("invalid filter: {e}")))?;
    let mut out = Vec::new();
    for (k, values) in parsed {
        let values: Vec<String> = match values {
            Values::List(l) => l,
            Values::Map(m) => m
                .into_iter()
                .filter(|(_, on)| *on)
                .map(|(v, _)| v)
                .collect(),
        };
        out.extend(values.into_iter().map(|v| format!("{k}={v}")));
    }
    Ok(out)
}

/// `repo` and `tag` as one reference (`None` for an untagged image), as `/commit` and
/// `/images/create?fromSrc=` take them.
pub fn repo_tag(p: &Params) -> Option<String> {
    let repo = p.get("repo").filter(|r| !r.is_empty())?;
    Some(match p.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo.clone(),
    })
}

/// A JSON request body parsed strictly, as dockerd answers a bad one: 400 `invalid JSON: …`,
/// naming the field at fault when the error is in one.
pub fn json_body<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(raw);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        if path.is_empty() || path == "." {
            ApiError::bad_request(format!("invalid JSON: {}", e.inner()))
        } else {
            ApiError::bad_request(format!("invalid JSON for field {path}: {}", e.inner()))
        }
    })
}

/// Renames the top-level keys of a JSON object that match one of `names` but for case to
/// that name: dockerd's decoder (Go's `encoding/json`) matches field names case-insensitively,
/// and clients rely on it (docker-py sends an exec's `detachKeys`).
pub fn canonical_keys(raw: &[u8], names: &[&str]) -> Vec<u8> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(raw)
    else {
        return raw.to_vec();
    };
    let renamed: serde_json::Map<String, serde_json::Value> = map
        .into_iter()
        .map(|(k, v)| {
            let k = names
                .iter()
                .find(|n| n.eq_ignore_ascii_case(&k))
                .map_or(k, |n| n.to_string());
            (k, v)
        })
        .collect();
    serde_json::to_vec(&renamed).unwrap_or_else(|_| raw.to_vec())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn first_value_wins() {
        let pairs: Vec<(String, String)> = [("dockerfile", ".df.1"), ("dockerfile", "FROM x")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(first_values(&pairs)["dockerfile"], ".df.1");
    }

    #[test]
    fn keys_match_like_go_s_decoder() {
        let out = canonical_keys(
            br#"{"detachKeys":"ctrl-x","Tty":true,"other":1}"#,
            &["DetachKeys", "Tty"],
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"DetachKeys": "ctrl-x", "Tty": true, "other": 1})
        );
        assert_eq!(canonical_keys(b"not json", &["A"]), b"not json");
    }

    #[test]
    fn booleans() {
        for (v, want) in [
            ("1", true),
            ("true", true),
            ("True", true),
            ("yes", true),
            ("0", false),
            ("false", false),
            ("", false),
            ("none", false),
        ] {
            assert_eq!(bool_param(&params(&[("all", v)]), "all"), want, "{v:?}");
        }
        assert!(!bool_param(&params(&[]), "all"));
    }

    #[test]
    fn filter_forms() {
        for (raw, want) in [
            (r#"{"dangling":["true"]}"#, vec!["dangling=true"]),
            (
                r#"{"reference":{"a:*":true,"b":false}}"#,
                vec!["reference=a:*"],
            ),
            (
                r#"{"label":["x=1","y"],"type":["image"]}"#,
                vec!["label=x=1", "label=y", "type=image"],
            ),
            ("{}", vec![]),
        ] {
            assert_eq!(
                filters(&params(&[("filters", raw)])).unwrap(),
                want,
                "{raw}"
            );
        }
        let e = filters(&params(&[("filters", "{nope")])).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
    }
}
