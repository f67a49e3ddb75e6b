//! Anthropic `count_tokens` served by a Gemini upstream:
//! `POST models/{m}:countTokens`. The client's Messages body is
//! translated as for `generateContent` (through chat) and sent whole as
//! `generateContentRequest` (so the system instruction and the tools are
//! counted too; the generation settings, which count nothing, are left
//! out); Gemini's `{"totalTokens":N}` becomes `{"input_tokens":N}`.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::wire::anthropic::MessagesRequest;
use super::wire::gemini::GenerateRequest;
use super::{TranslateError, chat_via_gemini, messages_via_chat, parse_request, to_bytes};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CountRequest {
    generate_content_request: Counted,
}

#[derive(Serialize)]
struct Counted {
    /// `models/{m}`: required inside `generateContentRequest`.
    model: String,
    #[serde(flatten)]
    request: GenerateRequest,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CountResponse {
    total_tokens: u64,
}

/// The `:countTokens` body for a Messages `count_tokens` body and the
/// (forwarded) model.
pub fn request(body: &[u8], model: &str) -> Result<Bytes, TranslateError> {
    let req: MessagesRequest = parse_request(body)?;
    let chat = messages_via_chat::request(req, model)?;
    let mut request = chat_via_gemini::request(chat)?;
    request.generation_config = None;
    let model = model.strip_prefix("models/").unwrap_or(model);
    to_bytes(&CountRequest {
        generate_content_request: Counted {
            model: format!("models/{model}"),
            request,
        },
    })
}

/// The count in a `:countTokens` answer; `None` when it is not one.
pub fn response(body: &[u8]) -> Option<u64> {
    serde_json::from_slice::<CountResponse>(body)
        .ok()
        .map(|r| r.total_tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn a_messages_count_becomes_a_generate_content_request() {
        let body = json!({"model": "claude-sonnet-4-5", "system": "Be brief.",
            "messages": [{"role": "user", "content": "hello there"}],
            "tools": [{"name": "get_weather", "input_schema": {"type": "object",
                "properties": {"city": {"type": "string"}}}}]});
        let out = request(body.to_string().as_bytes(), "gemini-2.5-flash").unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        let g = &v["generateContentRequest"];
        assert_eq!(g["model"], "models/gemini-2.5-flash");
        assert_eq!(g["systemInstruction"]["parts"][0]["text"], "Be brief.");
        assert_eq!(g["contents"][0]["parts"][0]["text"], "hello there");
        assert_eq!(
            g["tools"][0]["functionDeclarations"][0]["name"],
            "get_weather"
        );
        assert!(g.get("generationConfig").is_none(), "{g}");
        assert!(
            v.get("contents").is_none(),
            "contents and generateContentRequest exclude each other"
        );
        assert_eq!(
            response(br#"{"totalTokens":31,"promptTokensDetails":[{"modality":"TEXT","tokenCount":31}]}"#),
            Some(31)
        );
        assert_eq!(response(br#"{"error":{"code":404}}"#), None);
        assert!(request(b"{", "g").is_err());
    }
}
