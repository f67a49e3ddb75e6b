//! JSON Schema → the OpenAPI subset of Gemini's classic `parameters` /
//! `responseSchema` (`Schema`: upper-case `type`, `nullable`, `anyOf`,
//! `enum` of strings, `items`, `properties`, `required` and a few bounds),
//! for providers with `gemini_schema = "openapi"` (API versions without
//! `parametersJsonSchema`).
//!
//! - `type` becomes upper-case; `["string","null"]` becomes `STRING` with
//!   `nullable: true` (several non-null types: an `anyOf`).
//! - `$ref` to `#/$defs/…` or `#/definitions/…` is inlined, at most
//!   [`MAX_DEPTH`] levels deep (a recursive type ends as a bare `OBJECT`).
//! - `oneOf` becomes `anyOf`; a `null` branch becomes `nullable`; a single
//!   `allOf` is inlined; `const` becomes a one-value `enum`.
//! - Keywords the subset lacks (`additionalProperties`, `$schema`, `$id`,
//!   `$defs`, `examples`, `exclusiveMinimum`, `not`, …), formats it refuses,
//!   and non-string enums are dropped; `required` keeps only names in
//!   `properties`.

use serde_json::{Map, Value, json};

/// Deepest nesting converted (`$ref` chains included).
pub const MAX_DEPTH: usize = 32;

/// Keywords copied as they are (after their values are checked below).
const KEPT: &[&str] = &[
    "description",
    "title",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minProperties",
    "maxProperties",
    "default",
    "example",
    "propertyOrdering",
];

/// Formats the subset takes, per type.
fn format_ok(ty: &str, format: &str) -> bool {
    matches!(
        (ty, format),
        ("STRING", "enum" | "date-time")
            | ("INTEGER", "int32" | "int64")
            | ("NUMBER", "float" | "double")
    )
}

/// `schema` (a JSON Schema) in the OpenAPI subset.
pub fn to_openapi(schema: &Value) -> Value {
    convert(schema, schema, 0)
}

fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let path = reference.strip_prefix("#/")?;
    let mut v = root;
    for seg in path.split('/') {
        v = v.get(seg.replace("~1", "/").replace("~0", "~"))?;
    }
    Some(v)
}

fn convert(s: &Value, root: &Value, depth: usize) -> Value {
    let Some(obj) = s.as_object() else {
        // `true` / `{}`: anything; the subset has no such schema.
        return json!({});
    };
    if depth >= MAX_DEPTH {
        return json!({"type": "OBJECT"});
    }
    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
        let mut target =
            resolve(root, r).map_or_else(|| json!({}), |t| convert(t, root, depth + 1));
        // Siblings of `$ref` (a description) win.
        if let (Some(t), Some(d)) = (target.as_object_mut(), obj.get("description")) {
            t.insert("description".into(), d.clone());
        }
        return target;
    }
    if let Some(Value::Array(all)) = obj.get("allOf")
        && all.len() == 1
    {
        let mut inner = convert(&all[0], root, depth + 1);
        if let (Some(t), Some(d)) = (inner.as_object_mut(), obj.get("description")) {
            t.insert("description".into(), d.clone());
        }
        return inner;
    }
    let mut out = Map::new();
    let mut nullable = obj.get("nullable").and_then(Value::as_bool) == Some(true);
    let mut ty: Option<String> = None;
    let mut any_of: Vec<Value> = Vec::new();
    match obj.get("type") {
        Some(Value::String(t)) if t == "null" => nullable = true,
        Some(Value::String(t)) => ty = Some(t.to_ascii_uppercase()),
        Some(Value::Array(ts)) => {
            let named: Vec<String> = ts
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| {
                    if *t == "null" {
                        nullable = true;
                    }
                    *t != "null"
                })
                .map(str::to_ascii_uppercase)
                .collect();
            match named.as_slice() {
                [one] => ty = Some(one.clone()),
                [] => {}
                many => any_of.extend(many.iter().map(|t| json!({"type": t}))),
            }
        }
        _ => {}
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = obj.get(key) {
            for b in branches {
                if b.get("type").and_then(Value::as_str) == Some("null") {
                    nullable = true;
                } else {
                    any_of.push(convert(b, root, depth + 1));
                }
            }
        }
    }
    if ty.is_none() && any_of.len() == 1 {
        // `anyOf: [X, null]`: X, nullable.
        if let Some(Value::Object(one)) = any_of.pop() {
            for (k, v) in one {
                out.insert(k, v);
            }
        }
    } else if !any_of.is_empty() {
        out.insert("anyOf".into(), Value::Array(any_of));
    }
    if ty.is_none() && obj.contains_key("properties") {
        ty = Some("OBJECT".into());
    }
    if let Some(t) = &ty {
        out.insert("type".into(), Value::String(t.clone()));
        if let Some(f) = obj.get("format").and_then(Value::as_str)
            && format_ok(t, f)
        {
            out.insert("format".into(), Value::String(f.into()));
        }
    }
    if nullable {
        out.insert("nullable".into(), Value::Bool(true));
    }
    let strings = |vs: &[Value]| vs.iter().all(Value::is_string);
    match (obj.get("enum"), obj.get("const")) {
        (Some(Value::Array(vs)), _) if strings(vs) => {
            out.insert("enum".into(), Value::Array(vs.clone()));
        }
        (None, Some(c @ Value::String(_))) => {
            out.insert("enum".into(), json!([c]));
        }
        _ => {}
    }
    if let Some(Value::Object(props)) = obj.get("properties") {
        let converted: Map<String, Value> = props
            .iter()
            .map(|(k, v)| (k.clone(), convert(v, root, depth + 1)))
            .collect();
        if let Some(Value::Array(req)) = obj.get("required") {
            let req: Vec<Value> = req
                .iter()
                .filter(|r| r.as_str().is_some_and(|n| converted.contains_key(n)))
                .cloned()
                .collect();
            if !req.is_empty() {
                out.insert("required".into(), Value::Array(req));
            }
        }
        out.insert("properties".into(), Value::Object(converted));
    }
    match obj.get("items") {
        Some(Value::Array(tuple)) if !tuple.is_empty() => {
            out.insert("items".into(), convert(&tuple[0], root, depth + 1));
        }
        Some(items @ Value::Object(_)) => {
            out.insert("items".into(), convert(items, root, depth + 1));
        }
        _ => {}
    }
    for k in KEPT {
        if let Some(v) = obj.get(*k) {
            out.insert((*k).to_string(), v.clone());
        }
    }
    Value::Object(out)
}

/// A function's `parametersJsonSchema` as classic `parameters`: `None`
/// when it takes no parameters (Gemini refuses an `OBJECT` without
/// properties there).
pub fn parameters(schema: &Value) -> Option<Value> {
    let converted = to_openapi(schema);
    let empty = converted
        .get("properties")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty);
    let object = converted.get("type").and_then(Value::as_str) == Some("OBJECT");
    (!(object && empty)).then_some(converted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_schema_becomes_the_openapi_subset() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": false,
            "$defs": {"Unit": {"type": "string", "enum": ["c", "f"], "description": "unit"}},
            "properties": {
                "city": {"type": "string", "format": "uri", "minLength": 1},
                "when": {"type": ["string", "null"], "format": "date-time"},
                "unit": {"$ref": "#/$defs/Unit"},
                "days": {"type": "integer", "minimum": 1, "exclusiveMaximum": 15},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                "mode": {"const": "fast"},
                "extra": {"anyOf": [{"type": "number"}, {"type": "null"}]},
                "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                "level": {"type": "integer", "enum": [1, 2]}
            },
            "required": ["city", "ghost"]
        });
        assert_eq!(
            to_openapi(&schema),
            json!({
                "type": "OBJECT",
                "properties": {
                    "city": {"type": "STRING", "minLength": 1},
                    "when": {"type": "STRING", "format": "date-time", "nullable": true},
                    "unit": {"type": "STRING", "enum": ["c", "f"], "description": "unit"},
                    "days": {"type": "INTEGER", "minimum": 1},
                    "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "maxItems": 3},
                    "mode": {"enum": ["fast"]},
                    "extra": {"type": "NUMBER", "nullable": true},
                    "either": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]},
                    "level": {"type": "INTEGER"}
                },
                "required": ["city"]
            })
        );
    }

    #[test]
    fn recursion_and_empty_parameters_are_bounded() {
        let node = json!({"$defs": {"N": {"type": "object",
            "properties": {"next": {"$ref": "#/$defs/N"}}}}, "$ref": "#/$defs/N"});
        let mut v = to_openapi(&node);
        let mut depth = 0;
        while let Some(next) = v.pointer("/properties/next").cloned() {
            v = next;
            depth += 1;
        }
        assert!(depth < MAX_DEPTH, "{depth}");
        assert_eq!(v, json!({"type": "OBJECT"}));
        assert_eq!(
            parameters(&json!({"type": "object", "properties": {}})),
            None
        );
        assert_eq!(parameters(&json!({"type": "object"})), None);
        assert!(
            parameters(&json!({"type": "object", "properties": {"a": {"type": "string"}}}))
                .is_some()
        );
        assert_eq!(to_openapi(&json!(true)), json!({}));
        assert_eq!(to_openapi(&json!({"$ref": "#/nowhere"})), json!({}));
    }
}

/// A `generateContent` body with its JSON Schemas in the classic fields:
/// `functionDeclarations[].parametersJsonSchema` → `parameters`,
/// `generationConfig.responseJsonSchema` → `responseSchema` (also inside
/// a `:countTokens` body's `generateContentRequest`). `None` when
/// there is nothing to move (the body goes as it is).
pub fn body_to_openapi(body: &[u8]) -> Option<bytes::Bytes> {
    if !body.windows(10).any(|w| w == b"JsonSchema") {
        return None;
    }
    let mut whole: Value = serde_json::from_slice(body).ok()?;
    // A `:countTokens` body carries the request inside.
    let v = match whole.get("generateContentRequest") {
        Some(_) => whole.get_mut("generateContentRequest")?,
        None => &mut whole,
    };
    if let Some(tools) = v.get_mut("tools").and_then(Value::as_array_mut) {
        for tool in tools {
            let Some(decls) = tool
                .get_mut("functionDeclarations")
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for d in decls.iter_mut().filter_map(Value::as_object_mut) {
                if let Some(s) = d.remove("parametersJsonSchema")
                    && let Some(p) = parameters(&s)
                {
                    d.insert("parameters".into(), p);
                }
            }
        }
    }
    if let Some(g) = v.get_mut("generationConfig").and_then(Value::as_object_mut)
        && let Some(s) = g.remove("responseJsonSchema")
    {
        g.insert("responseSchema".into(), to_openapi(&s));
    }
    serde_json::to_vec(&whole).ok().map(bytes::Bytes::from)
}

#[cfg(test)]
mod body_tests {
    use super::*;

    #[test]
    fn a_request_body_moves_its_schemas_to_the_classic_fields() {
        let body = json!({"contents": [],
            "tools": [{"functionDeclarations": [
                {"name": "f", "parametersJsonSchema": {"type": "object", "additionalProperties": false,
                    "properties": {"q": {"type": "string"}}}},
                {"name": "now", "parametersJsonSchema": {"type": "object", "properties": {}}}]}],
            "generationConfig": {"responseMimeType": "application/json",
                "responseJsonSchema": {"type": "object", "properties": {"a": {"type": "integer"}}}}});
        let out = body_to_openapi(body.to_string().as_bytes()).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["tools"][0]["functionDeclarations"],
            json!([{"name": "f", "parameters": {"type": "OBJECT", "properties": {"q": {"type": "STRING"}}}},
                {"name": "now"}])
        );
        assert_eq!(
            v["generationConfig"]["responseSchema"],
            json!({"type": "OBJECT", "properties": {"a": {"type": "INTEGER"}}})
        );
        assert!(v["generationConfig"].get("responseJsonSchema").is_none());
        assert!(body_to_openapi(br#"{"contents":[]}"#).is_none());
        let count = json!({"generateContentRequest": {"model": "models/g",
            "tools": [{"functionDeclarations": [{"name": "f",
                "parametersJsonSchema": {"type": "object", "properties": {"q": {"type": "string"}}}}]}]}});
        let out = body_to_openapi(count.to_string().as_bytes()).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["generateContentRequest"]["tools"][0]["functionDeclarations"][0]["parameters"]["type"],
            "OBJECT"
        );
    }
}
