//! OpenAI embeddings clients served by a Gemini upstream
//! (`models/{model}:batchEmbedContents`): each `input` string becomes one
//! request of the batch (`dimensions` → `outputDimensionality`), each
//! returned `values` one `data` item. Token-array input and
//! `encoding_format = "base64"` cannot be expressed (a 400; another target
//! may take the request). Gemini reports no usage: it reads as 0.

use serde::Deserialize;
use serde_json::{Value, json};

use super::TranslateError;

#[derive(Deserialize)]
pub struct EmbeddingsRequest {
    pub input: Value,
    #[serde(default)]
    pub dimensions: Option<u64>,
    #[serde(default)]
    pub encoding_format: Option<String>,
}

#[derive(Deserialize)]
pub struct BatchEmbedResponse {
    #[serde(default)]
    pub embeddings: Vec<Embedding>,
}

#[derive(Deserialize)]
pub struct Embedding {
    #[serde(default)]
    pub values: Vec<f64>,
}

/// Embeddings request → `batchEmbedContents` body for `model`.
pub fn request(req: EmbeddingsRequest, model: &str) -> Result<Value, TranslateError> {
    if req.encoding_format.as_deref().is_some_and(|f| f != "float") {
        return Err(TranslateError::invalid(
            "encoding_format: Gemini returns floats only; omit it or use \"float\"",
        ));
    }
    let texts: Vec<String> = match req.input {
        Value::String(s) => vec![s],
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(TranslateError::invalid(
                    "input: Gemini embeds text; token arrays cannot be sent",
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(TranslateError::invalid(
                "input: a string or an array of strings",
            ));
        }
    };
    if texts.is_empty() {
        return Err(TranslateError::invalid(
            "input: at least one text is required",
        ));
    }
    let model = format!("models/{}", model.strip_prefix("models/").unwrap_or(model));
    let requests: Vec<Value> = texts
        .into_iter()
        .map(|t| {
            let mut r = json!({"model": model, "content": {"parts": [{"text": t}]}});
            if let Some(d) = req.dimensions {
                r["outputDimensionality"] = json!(d);
            }
            r
        })
        .collect();
    Ok(json!({ "requests": requests }))
}

/// `batchEmbedContents` answer → OpenAI's embeddings list.
pub fn response(resp: BatchEmbedResponse, model: &str) -> Value {
    let data: Vec<Value> = resp
        .embeddings
        .into_iter()
        .enumerate()
        .map(|(i, e)| json!({"object": "embedding", "index": i, "embedding": e.values}))
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": 0, "total_tokens": 0}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> Result<Value, TranslateError> {
        request(serde_json::from_value(v).unwrap(), "text-embedding-004")
    }

    #[test]
    fn inputs_become_a_batch_and_values_a_list() {
        let out = req(json!({"model": "e", "input": ["a", "b"], "dimensions": 256})).unwrap();
        assert_eq!(
            out,
            json!({"requests": [
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 256},
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "b"}]}, "outputDimensionality": 256}
            ]})
        );
        assert_eq!(
            req(json!({"input": "x"})).unwrap()["requests"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        for bad in [
            json!({"input": [[1, 2, 3]]}),
            json!({"input": []}),
            json!({"input": "x", "encoding_format": "base64"}),
        ] {
            assert!(matches!(req(bad), Err(TranslateError::Invalid(_))));
        }
        let r: BatchEmbedResponse = serde_json::from_value(
            json!({"embeddings": [{"values": [0.5, -1.0]}, {"values": [2.0]}]}),
        )
        .unwrap();
        let v = response(r, "text-embedding-004");
        assert_eq!(v["object"], "list");
        assert_eq!(
            v["data"][1],
            json!({"object": "embedding", "index": 1, "embedding": [2.0]})
        );
        assert_eq!(v["data"][0]["embedding"], json!([0.5, -1.0]));
    }
}
