//! OpenAI embeddings clients served by Bedrock `InvokeModel`
//! (`POST /model/{modelId}/invoke`), by model id prefix:
//! - Amazon Titan (`amazon.titan-embed-*`): `{"inputText": …}` embeds one
//!   text per request (`dimensions` → `dimensions`), so a request with
//!   several inputs cannot be sent in one call (a 400; another target may
//!   take it). Its answer: `{"embedding":[…],"inputTextTokenCount":n}`.
//! - Cohere (`cohere.embed-*`): `{"texts":[…],"input_type":
//!   "search_document"}`; its answer `{"embeddings":[[…],…]}` (no usage).
//!
//! Token-array input and `encoding_format = "base64"` are refused.

use serde::Deserialize;
use serde_json::{Value, json};

use super::TranslateError;
use super::embeddings_via_gemini::EmbeddingsRequest;

/// Which embedding family a model id belongs to (an inference profile's
/// region prefix, `us.`, or an ARN's path are looked through).
fn family(model: &str) -> Option<&'static str> {
    let id = model.rsplit('/').next().unwrap_or(model);
    if id.contains("amazon.titan-embed") {
        Some("titan")
    } else if id.contains("cohere.embed") {
        Some("cohere")
    } else {
        None
    }
}

/// Embeddings request → `InvokeModel` body for `model`.
pub fn request(req: EmbeddingsRequest, model: &str) -> Result<Value, TranslateError> {
    if req.encoding_format.as_deref().is_some_and(|f| f != "float") {
        return Err(TranslateError::invalid(
            "encoding_format: Bedrock embeddings are floats; omit it or use \"float\"",
        ));
    }
    let texts: Vec<String> = match req.input {
        Value::String(s) => vec![s],
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(TranslateError::invalid(
                    "input: Bedrock embeds text; token arrays cannot be sent",
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
    match family(model) {
        Some("titan") => {
            let [text] = <[String; 1]>::try_from(texts).map_err(|_| {
                TranslateError::invalid(
                    "input: Titan embeddings take one text per request; send one input",
                )
            })?;
            let mut body = json!({ "inputText": text });
            if let Some(d) = req.dimensions {
                body["dimensions"] = json!(d);
            }
            Ok(body)
        }
        Some(_) => Ok(json!({ "texts": texts, "input_type": "search_document" })),
        None => Err(TranslateError::invalid(format!(
            "model {model:?}: Bedrock embeddings are served for amazon.titan-embed-* and \
             cohere.embed-* models"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvokeResponse {
    /// Titan.
    #[serde(default)]
    pub embedding: Option<Vec<f64>>,
    #[serde(default)]
    pub input_text_token_count: Option<u64>,
    /// Cohere.
    #[serde(default)]
    pub embeddings: Option<Vec<Vec<f64>>>,
}

/// `InvokeModel` answer → OpenAI's embeddings list.
pub fn response(resp: InvokeResponse, model: &str) -> Value {
    let vectors: Vec<Vec<f64>> = match (resp.embedding, resp.embeddings) {
        (Some(one), _) => vec![one],
        (None, Some(many)) => many,
        (None, None) => Vec::new(),
    };
    let data: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(i, e)| json!({"object": "embedding", "index": i, "embedding": e}))
        .collect();
    let tokens = resp.input_text_token_count.unwrap_or(0);
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value, model: &str) -> Result<Value, TranslateError> {
        request(serde_json::from_value(v).unwrap(), model)
    }

    #[test]
    fn titan_takes_one_text_and_cohere_a_list() {
        assert_eq!(
            req(
                json!({"input": "hello", "dimensions": 256}),
                "amazon.titan-embed-text-v2:0"
            )
            .unwrap(),
            json!({"inputText": "hello", "dimensions": 256})
        );
        assert_eq!(
            req(json!({"input": ["hello"]}), "amazon.titan-embed-text-v2:0").unwrap(),
            json!({"inputText": "hello"})
        );
        let e = req(json!({"input": ["a", "b"]}), "amazon.titan-embed-text-v2:0").unwrap_err();
        assert!(e.to_string().contains("one text per request"), "{e}");
        assert_eq!(
            req(json!({"input": ["a", "b"]}), "cohere.embed-english-v3").unwrap(),
            json!({"texts": ["a", "b"], "input_type": "search_document"})
        );
        assert!(req(json!({"input": "a"}), "anthropic.claude-3-haiku").is_err());
        assert!(req(json!({"input": [[1, 2]]}), "cohere.embed-english-v3").is_err());
        assert!(
            req(
                json!({"input": "a", "encoding_format": "base64"}),
                "cohere.embed-english-v3"
            )
            .is_err()
        );
        let titan: InvokeResponse =
            serde_json::from_str(r#"{"embedding":[0.5,-0.25],"inputTextTokenCount":3}"#).unwrap();
        let out = response(titan, "amazon.titan-embed-text-v2:0");
        assert_eq!(out["data"][0]["embedding"], json!([0.5, -0.25]));
        assert_eq!(out["usage"]["prompt_tokens"], 3);
        let cohere: InvokeResponse = serde_json::from_str(
            r#"{"id":"x","texts":["a","b"],"embeddings":[[0.1],[0.2]],"response_type":"embeddings_floats"}"#,
        )
        .unwrap();
        let out = response(cohere, "cohere.embed-english-v3");
        assert_eq!(out["data"][1]["index"], 1);
        assert_eq!(out["data"][1]["embedding"], json!([0.2]));
    }
}
