//! Chat Completions clients served by a Gemini upstream: the request
//! (Chat → `generateContent` body) and the answer (Gemini → Chat).
//!
//! - `system`/`developer` messages join into `systemInstruction`; the
//!   other turns become `contents` with roles `user` and `model`
//!   (consecutive same-role turns merge, as Gemini wants them alternating).
//! - Text parts stay text, `data:` image URLs become `inlineData`, other
//!   image URLs `fileData`; assistant `tool_calls` become `functionCall`
//!   parts (arguments parsed into `args`) and `tool` messages
//!   `functionResponse` parts of a user turn, named after the call they
//!   answer (a JSON object result is sent as is, anything else as
//!   `{"content": text}`).
//! - `tools` → one `functionDeclarations` tool (schemas as
//!   `parametersJsonSchema`), `tool_choice` → `toolConfig` (`auto` AUTO,
//!   `required` ANY, `none` NONE, a named function ANY with that name
//!   allowed); `temperature`, `top_p`, `max_tokens`, `stop` and a JSON
//!   `response_format` → `generationConfig`; `reasoning_effort` →
//!   `thinkingConfig` (a budget, thoughts included; `none` → budget 0);
//!   a Messages client's `thinking` budget → `thinkingBudget`
//!   ([`anthropic_thinking`]).
//! - The answer: the first candidate's text parts join into `content`,
//!   thought parts into `reasoning_content`, `functionCall` parts into
//!   `tool_calls`; `finishReason` maps to `finish_reason`; `usageMetadata`
//!   to `usage` (thinking tokens count as completion tokens and as
//!   `reasoning_tokens`, `cachedContentTokenCount` as `cached_tokens`).
//! - A refused prompt (`promptFeedback.blockReason`) or a candidate stopped
//!   for safety with nothing to show is no answer: [`blocked`] names it and
//!   [`blocked_body`] is the client's 400 with code `content_filter`.

use bytes::Bytes;
use http::StatusCode;
use serde_json::Value;

use super::messages_via_chat::arguments_text;
use super::wire::chat::{
    ChatChunk, ChatContent, ChatMessage, ChatRequest, ChatResponse, ChatUsage, Choice, ChunkChoice,
    ChunkDelta, CompletionDetails, ContentPart, ErrorResponse, FunctionCall, FunctionDelta,
    PromptDetails, ToolCall, ToolCallDelta, ToolChoice,
};
use super::wire::gemini::{
    self, Blob, Content, FileData, FunctionCallingConfig, FunctionDeclaration, FunctionResponse,
    GenerateRequest, GenerateResponse, GenerationConfig, Part, ThinkingConfig, ToolConfig,
    UsageMetadata,
};
use super::{TranslateError, data_url, new_id, now_secs, parse_arguments};

/// A Messages client's `thinking` on a Gemini request (chat has no
/// budget, so `messages_via_chat` drops it): `enabled` with
/// `budget_tokens` → that `thinkingBudget`, `adaptive` → `-1` (Gemini's
/// dynamic budget), thoughts included; `disabled` or none leaves the
/// model's default.
pub fn anthropic_thinking(
    req: &mut GenerateRequest,
    thinking: Option<&super::wire::anthropic::Thinking>,
) {
    let budget = match thinking {
        Some(t) if t.kind == "enabled" => t
            .budget_tokens
            .and_then(|b| i64::try_from(b).ok())
            .unwrap_or(-1),
        Some(t) if t.kind == "adaptive" => -1,
        _ => return,
    };
    req.generation_config
        .get_or_insert_with(GenerationConfig::default)
        .thinking_config = Some(ThinkingConfig {
        thinking_budget: Some(budget),
        include_thoughts: Some(true),
    });
}

/// Chat request → `generateContent` body (the model goes in the URL).
pub fn request(req: ChatRequest) -> Result<GenerateRequest, TranslateError> {
    let max_output_tokens = req.max_output();
    let mut system: Vec<Part> = Vec::new();
    let mut contents: Vec<Content> = Vec::new();
    // tool_call_id → function name, for the results that answer them.
    let mut call_names: Vec<(String, String)> = Vec::new();
    for m in req.messages {
        let (role, parts) = match m.role.as_str() {
            "system" | "developer" => {
                if let Some(c) = m.content {
                    let text = c.text();
                    if !text.is_empty() {
                        system.push(Part::text(text));
                    }
                }
                continue;
            }
            "assistant" => {
                let mut parts = Vec::new();
                let text = m.content.map(|c| c.text()).unwrap_or_default();
                if !text.is_empty() {
                    parts.push(Part::text(text));
                }
                for c in m.tool_calls.unwrap_or_default() {
                    call_names.push((c.id.clone(), c.function.name.clone()));
                    parts.push(Part {
                        function_call: Some(gemini::FunctionCall {
                            id: (!c.id.is_empty()).then_some(c.id),
                            name: c.function.name,
                            args: parse_arguments(&c.function.arguments),
                        }),
                        ..Part::default()
                    });
                }
                ("model", parts)
            }
            "tool" | "function" => {
                let id = m.tool_call_id.clone();
                let name = id
                    .as_ref()
                    .and_then(|id| call_names.iter().find(|(k, _)| k == id))
                    .map(|(_, n)| n.clone())
                    .or(m.name)
                    .ok_or_else(|| {
                        TranslateError::invalid(
                            "messages: a tool message must answer an earlier assistant tool call",
                        )
                    })?;
                let text = m.content.map(|c| c.text()).unwrap_or_default();
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => serde_json::json!({ "content": text }),
                };
                let part = Part {
                    function_response: Some(FunctionResponse { id, name, response }),
                    ..Part::default()
                };
                ("user", vec![part])
            }
            _ => ("user", user_parts(m.content)),
        };
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some(last) if last.role.as_deref() == Some(role) => last.parts.extend(parts),
            _ => contents.push(Content {
                role: Some(role.into()),
                parts,
            }),
        }
    }
    if contents.is_empty() {
        return Err(TranslateError::invalid(
            "messages: at least one user or assistant message is required",
        ));
    }

    let declarations: Vec<FunctionDeclaration> = req
        .tools
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.kind == "function")
        .map(|t| FunctionDeclaration {
            name: t.function.name,
            description: t.function.description,
            parameters_json_schema: t.function.parameters,
            parameters: None,
        })
        .collect();
    let tool_config = match (&req.tool_choice, declarations.is_empty()) {
        (_, true) | (None, _) => None,
        (Some(ToolChoice::Mode(mode)), false) => {
            let mode = match mode.as_str() {
                "required" => "ANY",
                "none" => "NONE",
                _ => "AUTO",
            };
            Some(ToolConfig {
                function_calling_config: FunctionCallingConfig {
                    mode: mode.into(),
                    allowed_function_names: None,
                },
            })
        }
        (Some(ToolChoice::Named(n)), false) => Some(ToolConfig {
            function_calling_config: FunctionCallingConfig {
                mode: "ANY".into(),
                allowed_function_names: Some(vec![n.function.name.clone()]),
            },
        }),
    };
    let tools = if declarations.is_empty() {
        Vec::new()
    } else {
        vec![gemini::Tool {
            function_declarations: declarations,
        }]
    };

    let thinking_config = req.reasoning_effort.as_deref().map(|effort| {
        let budget = match effort {
            "none" => 0,
            "minimal" | "low" => 1024,
            "high" => 16384,
            _ => 4096,
        };
        ThinkingConfig {
            thinking_budget: Some(budget),
            include_thoughts: (budget > 0).then_some(true),
        }
    });
    let (response_mime_type, response_json_schema) = match &req.response_format {
        Some(f) if f["type"] == "json_object" => (Some("application/json".into()), None),
        Some(f) if f["type"] == "json_schema" => (
            Some("application/json".into()),
            f["json_schema"].get("schema").cloned(),
        ),
        _ => (None, None),
    };
    let generation_config = GenerationConfig {
        temperature: req.temperature,
        top_p: req.top_p,
        max_output_tokens,
        stop_sequences: req.stop.map(|s| s.into_vec()).unwrap_or_default(),
        response_mime_type,
        response_json_schema,
        response_schema: None,
        thinking_config,
    };
    let empty = generation_config.temperature.is_none()
        && generation_config.top_p.is_none()
        && generation_config.max_output_tokens.is_none()
        && generation_config.stop_sequences.is_empty()
        && generation_config.response_mime_type.is_none()
        && generation_config.thinking_config.is_none();
    Ok(GenerateRequest {
        contents,
        system_instruction: (!system.is_empty()).then_some(Content {
            role: None,
            parts: system,
        }),
        tools,
        tool_config,
        generation_config: (!empty).then_some(generation_config),
    })
}

fn user_parts(content: Option<ChatContent>) -> Vec<Part> {
    match content {
        None => Vec::new(),
        Some(ChatContent::Text(t)) if t.is_empty() => Vec::new(),
        Some(ChatContent::Text(t)) => vec![Part::text(t)],
        Some(ChatContent::Parts(parts)) => parts
            .into_iter()
            .filter_map(|p| match p {
                ContentPart::Text { text, .. } => Some(Part::text(text)),
                ContentPart::ImageUrl { image_url, .. } => Some(match data_url(&image_url.url) {
                    Some((mime, data)) => Part {
                        inline_data: Some(Blob {
                            mime_type: mime.into(),
                            data: data.into(),
                        }),
                        ..Part::default()
                    },
                    None => Part {
                        file_data: Some(FileData {
                            mime_type: None,
                            file_uri: image_url.url,
                        }),
                        ..Part::default()
                    },
                }),
                ContentPart::Other => None,
            })
            .collect(),
    }
}

/// Gemini `finishReason` → chat `finish_reason` (`tool_calls` when the
/// turn ended in function calls).
pub fn finish_reason(reason: Option<&str>, called: bool) -> &'static str {
    match reason {
        Some("MAX_TOKENS") => "length",
        Some(
            "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY",
        ) => "content_filter",
        _ if called => "tool_calls",
        _ => "stop",
    }
}

/// `usageMetadata` → chat usage.
pub fn usage(u: &UsageMetadata) -> ChatUsage {
    let thoughts = u.thoughts_token_count.unwrap_or(0);
    let completion = u.candidates_token_count + thoughts;
    ChatUsage {
        prompt_tokens: u.prompt_token_count,
        completion_tokens: completion,
        total_tokens: u.total_token_count.max(u.prompt_token_count + completion),
        prompt_tokens_details: u.cached_content_token_count.map(|c| PromptDetails {
            cached_tokens: Some(c),
        }),
        completion_tokens_details: u.thoughts_token_count.map(|t| CompletionDetails {
            reasoning_tokens: Some(t),
        }),
    }
}

/// Why Gemini gave no answer: the prompt was refused, or the only
/// candidate stopped for safety before any content. `None`: an answer.
pub fn blocked(resp: &GenerateResponse) -> Option<String> {
    if let Some(reason) = resp
        .prompt_feedback
        .as_ref()
        .and_then(|f| f.block_reason.as_deref())
    {
        return Some(format!("Gemini refused the prompt (blockReason {reason})"));
    }
    let c = resp.candidates.first()?;
    let empty = c.content.as_ref().is_none_or(|c| c.parts.is_empty());
    let reason = c.finish_reason.as_deref()?;
    (empty && finish_reason(Some(reason), false) == "content_filter")
        .then(|| format!("Gemini stopped the answer (finishReason {reason})"))
}

/// The client's error for a [`blocked`] answer: a 400 in OpenAI's shape
/// with code `content_filter` (routing classifies it as such).
pub fn blocked_body(message: &str) -> (StatusCode, Bytes) {
    let body = ErrorResponse::new("invalid_request_error", "content_filter", message);
    (
        StatusCode::BAD_REQUEST,
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
    )
}

/// A Gemini error body `{"error":{"code","message","status"}}` in OpenAI's
/// shape: `type` from the HTTP status, `code` the Gemini status in lower
/// case (`resource_exhausted`, `invalid_argument`…).
pub fn error_to_openai(status: StatusCode, body: &[u8]) -> Bytes {
    let kind = match status.as_u16() {
        400 | 404 | 413 | 422 => "invalid_request_error",
        401 | 403 => "authentication_error",
        429 => "rate_limit_exceeded",
        _ => "server_error",
    };
    let (message, code) = match serde_json::from_slice::<gemini::ErrorResponse>(body) {
        Ok(e) => (e.error.message, e.error.status.to_ascii_lowercase()),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let cut: String = text.trim().chars().take(2000).collect();
            (format!("upstream answered {status}: {cut}"), String::new())
        }
    };
    let code = if code.is_empty() {
        status.as_u16().to_string()
    } else {
        code
    };
    let body = ErrorResponse::new(kind, &code, message);
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

/// The first candidate's parts split into (text, thinking, tool calls).
fn split(content: Option<Content>) -> (String, String, Vec<ToolCall>) {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for p in content.map(|c| c.parts).unwrap_or_default() {
        if let Some(f) = p.function_call {
            calls.push(ToolCall {
                id: f.id.unwrap_or_else(|| new_id("call_")),
                kind: "function".into(),
                function: FunctionCall {
                    name: f.name,
                    arguments: arguments_text(&f.args),
                },
            });
        } else if let Some(t) = p.text {
            if p.thought == Some(true) {
                reasoning.push_str(&t);
            } else {
                text.push_str(&t);
            }
        }
    }
    (text, reasoning, calls)
}

/// `generateContent` answer → chat response for `model` (reported when
/// Gemini names no `modelVersion`). Check [`blocked`] first.
pub fn response(resp: GenerateResponse, model: &str) -> ChatResponse {
    let usage = resp.usage_metadata.as_ref().map(usage);
    let id = if resp.response_id.is_empty() {
        new_id("chatcmpl-")
    } else {
        format!("chatcmpl-{}", resp.response_id)
    };
    let model = if resp.model_version.is_empty() {
        model.to_string()
    } else {
        resp.model_version
    };
    let candidate = resp.candidates.into_iter().next().unwrap_or_default();
    let reason = candidate.finish_reason.clone();
    let (text, reasoning, calls) = split(candidate.content);
    let finish = finish_reason(reason.as_deref(), !calls.is_empty());
    let mut message = ChatMessage::new(
        "assistant",
        (!text.is_empty() || calls.is_empty()).then_some(ChatContent::Text(text)),
    );
    message.tool_calls = (!calls.is_empty()).then_some(calls);
    message.reasoning_content = (!reasoning.is_empty()).then_some(reasoning);
    ChatResponse {
        id,
        object: "chat.completion".into(),
        created: now_secs(),
        model,
        choices: vec![Choice {
            index: 0,
            message,
            finish_reason: Some(finish.into()),
            stop_reason: None,
        }],
        usage,
    }
}

/// A `streamGenerateContent?alt=sse` stream → `chat.completion.chunk`s,
/// event by event. Each Gemini event carries new parts; a function call
/// arrives whole; `usageMetadata` is cumulative (the last one counts).
#[derive(Debug)]
pub struct ChunkStream {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    started: bool,
    calls: usize,
    finished: bool,
    usage: Option<UsageMetadata>,
}

impl ChunkStream {
    pub fn new(model: &str, include_usage: bool) -> Self {
        Self {
            id: new_id("chatcmpl-"),
            created: now_secs(),
            model: model.to_string(),
            include_usage,
            started: false,
            calls: 0,
            finished: false,
            usage: None,
        }
    }

    fn chunk(&self, delta: ChunkDelta, finish: Option<&str>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish.map(str::to_string),
                stop_reason: None,
            }],
            usage: None,
        }
    }

    /// The chunks for one Gemini event (a refused prompt ends the stream
    /// with `content_filter`: its head is already sent).
    pub fn event(&mut self, ev: GenerateResponse) -> Vec<ChatChunk> {
        let mut out = Vec::new();
        if !ev.model_version.is_empty() {
            self.model = ev.model_version;
        }
        if ev.usage_metadata.is_some() {
            self.usage = ev.usage_metadata;
        }
        if !self.started {
            self.started = true;
            out.push(self.chunk(
                ChunkDelta {
                    role: Some("assistant".into()),
                    content: Some(String::new()),
                    ..ChunkDelta::default()
                },
                None,
            ));
        }
        let refused = ev
            .prompt_feedback
            .as_ref()
            .is_some_and(|f| f.block_reason.is_some());
        if refused && !self.finished {
            self.finished = true;
            out.push(self.chunk(ChunkDelta::default(), Some("content_filter")));
        }
        let Some(c) = ev.candidates.into_iter().next() else {
            return out;
        };
        for p in c.content.map(|c| c.parts).unwrap_or_default() {
            let delta = if let Some(f) = p.function_call {
                let index = self.calls;
                self.calls += 1;
                ChunkDelta {
                    tool_calls: Some(vec![ToolCallDelta {
                        index,
                        id: Some(f.id.unwrap_or_else(|| new_id("call_"))),
                        kind: Some("function".into()),
                        function: Some(FunctionDelta {
                            name: Some(f.name),
                            arguments: Some(arguments_text(&f.args)),
                        }),
                    }]),
                    ..ChunkDelta::default()
                }
            } else if let Some(t) = p.text.filter(|t| !t.is_empty()) {
                if p.thought == Some(true) {
                    ChunkDelta {
                        reasoning_content: Some(t),
                        ..ChunkDelta::default()
                    }
                } else {
                    ChunkDelta {
                        content: Some(t),
                        ..ChunkDelta::default()
                    }
                }
            } else {
                continue;
            };
            out.push(self.chunk(delta, None));
        }
        if let Some(reason) = c.finish_reason.as_deref()
            && !self.finished
        {
            self.finished = true;
            let finish = finish_reason(Some(reason), self.calls > 0);
            out.push(self.chunk(ChunkDelta::default(), Some(finish)));
        }
        out
    }

    /// The chunks after the last event: a finish if Gemini sent none, and
    /// the usage chunk when the client asked for it.
    pub fn finish(&mut self) -> Vec<ChatChunk> {
        let mut out = Vec::new();
        if !self.finished {
            self.finished = true;
            let finish = finish_reason(None, self.calls > 0);
            out.push(self.chunk(ChunkDelta::default(), Some(finish)));
        }
        if self.include_usage {
            let mut last = self.chunk(ChunkDelta::default(), None);
            last.choices.clear();
            last.usage = Some(self.usage.as_ref().map(usage).unwrap_or_default());
            out.push(last);
        }
        out
    }
}

#[cfg(test)]
#[path = "chat_via_gemini_tests.rs"]
mod tests;
