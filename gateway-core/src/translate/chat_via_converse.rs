//! Chat Completions clients served by a Bedrock Converse upstream: the
//! request (Chat → `converse` body; the model id goes in the URL), the
//! answer, error bodies and ConverseStream events.
//!
//! - `system`/`developer` messages become `system` text blocks; the other
//!   turns `messages` with roles `user` and `assistant` (consecutive
//!   same-role turns merge: Converse wants them alternating).
//! - Text parts stay `text`; `data:` image URLs become `image` blocks
//!   (`format` from the media type, base64 `source.bytes`); other image
//!   URLs cannot be sent (Bedrock takes bytes only: a 400).
//! - Assistant `tool_calls` → `toolUse` blocks (arguments parsed into
//!   `input`); `tool` messages → `toolResult` blocks of a user turn (a JSON
//!   object result as `json`, anything else as `text`).
//! - A part with `cache_control` (Anthropic's breakpoint, which Claude
//!   Code and the Messages translation carry) is followed by a `cachePoint`
//!   block, in `system` and in messages alike.
//! - `tools` → `toolConfig.tools[].toolSpec` (`inputSchema.json`),
//!   `tool_choice` `auto` → `{"auto":{}}`, `required` → `{"any":{}}`, a
//!   named function → `{"tool":{"name"}}`, `none` → no `toolChoice` (Converse
//!   has no "none"; the tools stay declared for the history's tool blocks).
//! - `max_tokens`, `temperature`, `top_p`, `stop` → `inferenceConfig`;
//!   `reasoning_effort` on a Claude model → `additionalModelRequestFields`
//!   `{"thinking":{"type":"enabled","budget_tokens":…}}` (`none`: off).
//! - The answer: `text` blocks join into `content`, `reasoningContent` into
//!   `reasoning_content`, `toolUse` into `tool_calls`; `stopReason` maps to
//!   `finish_reason`; `usage` to `usage` (`prompt_tokens` counts cache reads
//!   and writes too, `cached_tokens` the reads).

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use super::messages_via_chat::arguments_text;
use super::wire::bedrock::{
    self, Block, ConverseRequest, ConverseResponse, Image, ImageSource, InferenceConfig,
    InputSchema, Message, StreamPayload, SystemBlock, TokenUsage, ToolConfig, ToolResult,
    ToolResultBlock, ToolSpec, ToolUse,
};
use super::wire::chat::{
    ChatChunk, ChatContent, ChatMessage, ChatRequest, ChatResponse, ChatUsage, Choice, ChunkChoice,
    ChunkDelta, ContentPart, ErrorResponse, FunctionCall, FunctionDelta, PromptDetails, ToolCall,
    ToolCallDelta, ToolChoice,
};
use super::{TranslateError, data_url, new_id, now_secs, parse_arguments};

/// Whether `model` (an id, inference profile or ARN) is an Anthropic model.
fn is_claude(model: &str) -> bool {
    model.contains("anthropic.") || model.contains("claude")
}

/// The blocks of a user turn's content, with a `cachePoint` after each
/// part that had `cache_control`.
fn user_blocks(content: Option<ChatContent>) -> Result<Vec<Block>, TranslateError> {
    let mut out = Vec::new();
    match content {
        None => {}
        Some(ChatContent::Text(t)) if t.is_empty() => {}
        Some(ChatContent::Text(t)) => out.push(Block::text(t)),
        Some(ChatContent::Parts(parts)) => {
            for p in parts {
                let cached = match p {
                    ContentPart::Text {
                        text,
                        cache_control,
                    } => {
                        if text.is_empty() {
                            continue;
                        }
                        out.push(Block::text(text));
                        cache_control.is_some()
                    }
                    ContentPart::ImageUrl {
                        image_url,
                        cache_control,
                    } => {
                        out.push(image(&image_url.url)?);
                        cache_control.is_some()
                    }
                    ContentPart::Other => false,
                };
                if cached {
                    out.push(Block::cache_point());
                }
            }
        }
    }
    Ok(out)
}

fn image(url: &str) -> Result<Block, TranslateError> {
    let Some((mime, data)) = data_url(url) else {
        return Err(TranslateError::invalid(
            "image_url: Bedrock takes images as bytes only; send a data: URL (base64)",
        ));
    };
    let format = match mime {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        other => {
            return Err(TranslateError::invalid(format!(
                "image_url: Bedrock takes png, jpeg, gif and webp images, not {other}"
            )));
        }
    };
    Ok(Block {
        image: Some(Image {
            format: format.into(),
            source: ImageSource { bytes: data.into() },
        }),
        ..Block::default()
    })
}

/// Whether any part of `content` had `cache_control`.
fn has_cache_control(content: &Option<ChatContent>) -> bool {
    matches!(content, Some(ChatContent::Parts(parts)) if parts.iter().any(|p| matches!(p,
        ContentPart::Text { cache_control: Some(_), .. }
        | ContentPart::ImageUrl { cache_control: Some(_), .. })))
}

/// Chat request → `converse` body for `model` (which goes in the URL).
pub fn request(req: ChatRequest, model: &str) -> Result<ConverseRequest, TranslateError> {
    let max_tokens = req.max_output();
    let mut system: Vec<SystemBlock> = Vec::new();
    let mut messages: Vec<Message> = Vec::new();
    for m in req.messages {
        let (role, blocks) = match m.role.as_str() {
            "system" | "developer" => {
                // Each text part its own block, a cache point after those
                // that had `cache_control`.
                for b in user_blocks(m.content)? {
                    if b.text.is_some() || b.cache_point.is_some() {
                        system.push(SystemBlock {
                            text: b.text,
                            cache_point: b.cache_point,
                        });
                    }
                }
                continue;
            }
            "assistant" => {
                let mut blocks = Vec::new();
                let text = m.content.map(|c| c.text()).unwrap_or_default();
                if !text.is_empty() {
                    blocks.push(Block::text(text));
                }
                for c in m.tool_calls.unwrap_or_default() {
                    blocks.push(Block {
                        tool_use: Some(ToolUse {
                            tool_use_id: if c.id.is_empty() {
                                new_id("tooluse_")
                            } else {
                                c.id
                            },
                            name: c.function.name,
                            input: parse_arguments(&c.function.arguments),
                        }),
                        ..Block::default()
                    });
                }
                ("assistant", blocks)
            }
            "tool" | "function" => {
                let Some(id) = m.tool_call_id.clone().filter(|id| !id.is_empty()) else {
                    return Err(TranslateError::invalid(
                        "messages: a tool message needs the tool_call_id it answers",
                    ));
                };
                let cached = has_cache_control(&m.content);
                let text = m.content.map(|c| c.text()).unwrap_or_default();
                let block = match serde_json::from_str::<Value>(&text) {
                    Ok(v @ Value::Object(_)) => ToolResultBlock {
                        text: None,
                        json: Some(v),
                    },
                    _ => ToolResultBlock {
                        text: Some(text),
                        json: None,
                    },
                };
                let mut blocks = vec![Block {
                    tool_result: Some(ToolResult {
                        tool_use_id: id,
                        content: vec![block],
                        status: None,
                    }),
                    ..Block::default()
                }];
                if cached {
                    blocks.push(Block::cache_point());
                }
                ("user", blocks)
            }
            _ => ("user", user_blocks(m.content)?),
        };
        if blocks.is_empty() {
            continue;
        }
        match messages.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => messages.push(Message {
                role: role.into(),
                content: blocks,
            }),
        }
    }
    if messages.is_empty() {
        return Err(TranslateError::invalid(
            "messages: at least one user or assistant message is required",
        ));
    }

    let tools: Vec<bedrock::Tool> = req
        .tools
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.kind == "function")
        .map(|t| bedrock::Tool {
            tool_spec: ToolSpec {
                name: t.function.name,
                description: t.function.description,
                input_schema: InputSchema {
                    json: t
                        .function
                        .parameters
                        .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                },
            },
        })
        .collect();
    let tool_choice = match &req.tool_choice {
        Some(ToolChoice::Mode(m)) if m == "required" => Some(json!({"any": {}})),
        Some(ToolChoice::Mode(m)) if m == "auto" => Some(json!({"auto": {}})),
        Some(ToolChoice::Named(n)) => Some(json!({"tool": {"name": n.function.name}})),
        _ => None,
    };
    let tool_config = (!tools.is_empty()).then_some(ToolConfig { tools, tool_choice });

    let thinking = req
        .reasoning_effort
        .as_deref()
        .filter(|_| is_claude(model))
        .and_then(|effort| {
            let budget = match effort {
                "none" => return None,
                "minimal" | "low" => 1024,
                "high" => 16384,
                _ => 4096,
            };
            Some(json!({"thinking": {"type": "enabled", "budget_tokens": budget}}))
        });
    let inference = InferenceConfig {
        max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        stop_sequences: req.stop.map(|s| s.into_vec()).unwrap_or_default(),
    };
    let empty = inference.max_tokens.is_none()
        && inference.temperature.is_none()
        && inference.top_p.is_none()
        && inference.stop_sequences.is_empty();
    Ok(ConverseRequest {
        messages,
        system,
        inference_config: (!empty).then_some(inference),
        tool_config,
        additional_model_request_fields: thinking,
    })
}

/// An Anthropic Messages request's cache breakpoints (`cache_control` on
/// system and message blocks, which the chat step in between drops) as
/// Converse `cachePoint`s, where they map cleanly: system blocks one for
/// one (each text block its own, a cache point after each marked one);
/// a message with a marked block gets a cache point at its end when the
/// Anthropic turns and the Converse turns correspond one to one (same
/// count, same roles); otherwise that message's breakpoints are dropped.
pub fn anthropic_cache_points(body: &[u8], out: &mut ConverseRequest) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let marked = |b: &Value| b.get("cache_control").is_some_and(|c| !c.is_null());
    if let Some(blocks) = v["system"].as_array()
        && blocks.iter().any(marked)
    {
        let mut system = Vec::new();
        for b in blocks {
            if let Some(t) = b["text"].as_str().filter(|t| !t.is_empty()) {
                system.push(SystemBlock {
                    text: Some(t.to_string()),
                    cache_point: None,
                });
            }
            if marked(b) {
                system.push(SystemBlock {
                    text: None,
                    cache_point: Some(bedrock::CachePoint::default()),
                });
            }
        }
        out.system = system;
    }
    let Some(messages) = v["messages"].as_array() else {
        return;
    };
    let turns: Vec<(&str, bool)> = messages
        .iter()
        .filter(|m| match &m["content"] {
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => false,
        })
        .map(|m| {
            let cached = m["content"]
                .as_array()
                .is_some_and(|a| a.iter().any(marked));
            (m["role"].as_str().unwrap_or(""), cached)
        })
        .collect();
    let aligned = turns.len() == out.messages.len()
        && turns
            .iter()
            .zip(&out.messages)
            .all(|((role, _), m)| *role == m.role);
    if !aligned {
        return;
    }
    for ((_, cached), m) in turns.iter().zip(out.messages.iter_mut()) {
        if *cached && m.content.last().is_none_or(|b| b.cache_point.is_none()) {
            m.content.push(Block::cache_point());
        }
    }
}

/// An Anthropic client's `thinking` (`{"type":"enabled","budget_tokens"}`)
/// goes as it is into `additionalModelRequestFields` of a Claude model
/// (the chat step in between has no such field).
pub fn anthropic_thinking(
    thinking: Option<super::wire::anthropic::Thinking>,
    model: &str,
    out: &mut ConverseRequest,
) {
    if let Some(t) = thinking.filter(|t| t.kind == "enabled" && is_claude(model)) {
        out.additional_model_request_fields = Some(json!({ "thinking": t }));
    }
}

/// Converse `stopReason` → chat `finish_reason`.
pub fn finish_reason(reason: Option<&str>, called: bool) -> &'static str {
    match reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("guardrail_intervened" | "content_filtered") => "content_filter",
        Some("tool_use") => "tool_calls",
        _ if called => "tool_calls",
        _ => "stop",
    }
}

/// Converse `usage` → chat usage: every input token in `prompt_tokens`
/// (Bedrock's `inputTokens` leaves the cache reads and writes out).
pub fn usage(u: &TokenUsage) -> ChatUsage {
    let read = u.cache_read_input_tokens.unwrap_or(0);
    let write = u.cache_write_input_tokens.unwrap_or(0);
    let prompt = u.input_tokens + read + write;
    ChatUsage {
        prompt_tokens: prompt,
        completion_tokens: u.output_tokens,
        total_tokens: u.total_tokens.max(prompt + u.output_tokens),
        prompt_tokens_details: u.cache_read_input_tokens.map(|c| PromptDetails {
            cached_tokens: Some(c),
        }),
        completion_tokens_details: None,
    }
}

/// Converse `usage` as routing counts it (Anthropic's reading: input
/// excludes the cache fields, which are kept apart).
pub fn routing_usage(u: &TokenUsage) -> crate::vocab::Usage {
    crate::vocab::Usage {
        prompt_tokens: Some(u.input_tokens),
        completion_tokens: Some(u.output_tokens),
        cache_read_input_tokens: u.cache_read_input_tokens,
        cache_creation_input_tokens: u.cache_write_input_tokens,
        excludes_cache: true,
        ..crate::vocab::Usage::default()
    }
}

/// The `code` of a Bedrock error: its `__type` (the part after `#`, in
/// snake case) or the one its HTTP status stands for.
fn error_code(status: StatusCode, kind: Option<&str>) -> String {
    if let Some(k) = kind
        .and_then(|k| k.rsplit('#').next())
        .filter(|k| !k.is_empty())
    {
        let k = k.split(':').next().unwrap_or(k);
        return crate::eventstream::snake_case(k);
    }
    match status.as_u16() {
        400 => "validation_exception",
        403 => "access_denied_exception",
        404 => "resource_not_found_exception",
        408 => "model_timeout_exception",
        424 => "model_error_exception",
        429 => "throttling_exception",
        503 => "service_unavailable_exception",
        _ => "internal_server_exception",
    }
    .into()
}

/// A Bedrock error body (`{"message": …}`) in OpenAI's shape: `type` from
/// the HTTP status, `code` the Bedrock exception in snake case
/// (`throttling_exception`, `validation_exception`…).
pub fn error_to_openai(status: StatusCode, body: &[u8]) -> Bytes {
    let kind = match status.as_u16() {
        400 | 404 | 413 | 422 => "invalid_request_error",
        401 | 403 => "authentication_error",
        429 => "rate_limit_exceeded",
        _ => "server_error",
    };
    let (message, code) = match serde_json::from_slice::<bedrock::ErrorBody>(body) {
        Ok(e) if !e.message.is_empty() => {
            let code = error_code(status, e.kind.as_deref());
            (e.message, code)
        }
        _ => {
            let text = String::from_utf8_lossy(body);
            let cut: String = text.trim().chars().take(2000).collect();
            (
                format!("upstream answered {status}: {cut}"),
                error_code(status, None),
            )
        }
    };
    // A context-length refusal keeps OpenAI's code, so clients and
    // routing's `fallback_on` recognise it.
    let code = match crate::routing::classify::classify(body) {
        Some(crate::vocab::ErrorClass::ContextLengthExceeded) => "context_length_exceeded".into(),
        _ => code,
    };
    let body = ErrorResponse::new(kind, &code, message);
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

/// `converse` answer → chat response for `model`.
pub fn response(resp: ConverseResponse, model: &str) -> ChatResponse {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for b in resp.output.message.map(|m| m.content).unwrap_or_default() {
        if let Some(t) = b.text {
            text.push_str(&t);
        } else if let Some(u) = b.tool_use {
            calls.push(ToolCall {
                id: u.tool_use_id,
                kind: "function".into(),
                function: FunctionCall {
                    name: u.name,
                    arguments: arguments_text(&u.input),
                },
            });
        } else if let Some(r) = b.reasoning_content.and_then(|r| r.reasoning_text) {
            reasoning.push_str(&r.text);
        }
    }
    let finish = finish_reason(resp.stop_reason.as_deref(), !calls.is_empty());
    let mut message = ChatMessage::new(
        "assistant",
        (!text.is_empty() || calls.is_empty()).then_some(ChatContent::Text(text)),
    );
    message.tool_calls = (!calls.is_empty()).then_some(calls);
    message.reasoning_content = (!reasoning.is_empty()).then_some(reasoning);
    ChatResponse {
        id: new_id("chatcmpl-"),
        object: "chat.completion".into(),
        created: now_secs(),
        model: model.to_string(),
        choices: vec![Choice {
            index: 0,
            message,
            finish_reason: Some(finish.into()),
            stop_reason: None,
        }],
        usage: resp.usage.as_ref().map(usage),
    }
}

/// ConverseStream events → `chat.completion.chunk`s, event by event: a
/// tool call opens with `contentBlockStart` and its arguments come as
/// `contentBlockDelta` pieces; `messageStop` has the stop reason and
/// `metadata` (after it) the usage.
#[derive(Debug)]
pub struct ChunkStream {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    started: bool,
    /// `contentBlockIndex` of each tool call, in order (the chat index).
    calls: Vec<usize>,
    finished: bool,
    usage: Option<TokenUsage>,
}

impl ChunkStream {
    pub fn new(model: &str, include_usage: bool) -> Self {
        Self {
            id: new_id("chatcmpl-"),
            created: now_secs(),
            model: model.to_string(),
            include_usage,
            started: false,
            calls: Vec::new(),
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

    fn start(&mut self, out: &mut Vec<ChatChunk>) {
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
    }

    /// The chunks for one event (`kind` its `:event-type`).
    pub fn event(&mut self, kind: &str, p: StreamPayload) -> Vec<ChatChunk> {
        let mut out = Vec::new();
        self.start(&mut out);
        let block = p.content_block_index.unwrap_or(0);
        match kind {
            "contentBlockStart" => {
                if let Some(t) = p.start.and_then(|s| s.tool_use) {
                    let index = self.calls.len();
                    self.calls.push(block);
                    out.push(self.chunk(
                        ChunkDelta {
                            tool_calls: Some(vec![ToolCallDelta {
                                index,
                                id: Some(t.tool_use_id),
                                kind: Some("function".into()),
                                function: Some(FunctionDelta {
                                    name: Some(t.name),
                                    arguments: Some(String::new()),
                                }),
                            }]),
                            ..ChunkDelta::default()
                        },
                        None,
                    ));
                }
            }
            "contentBlockDelta" => {
                let Some(d) = p.delta else { return out };
                let delta = if let Some(t) = d.text.filter(|t| !t.is_empty()) {
                    ChunkDelta {
                        content: Some(t),
                        ..ChunkDelta::default()
                    }
                } else if let Some(u) = d.tool_use {
                    let Some(index) = self.calls.iter().position(|b| *b == block) else {
                        return out;
                    };
                    ChunkDelta {
                        tool_calls: Some(vec![ToolCallDelta {
                            index,
                            id: None,
                            kind: None,
                            function: Some(FunctionDelta {
                                name: None,
                                arguments: Some(u.input),
                            }),
                        }]),
                        ..ChunkDelta::default()
                    }
                } else if let Some(t) = d
                    .reasoning_content
                    .and_then(|r| r.text)
                    .filter(|t| !t.is_empty())
                {
                    ChunkDelta {
                        reasoning_content: Some(t),
                        ..ChunkDelta::default()
                    }
                } else {
                    return out;
                };
                out.push(self.chunk(delta, None));
            }
            "messageStop" if !self.finished => {
                self.finished = true;
                let finish = finish_reason(p.stop_reason.as_deref(), !self.calls.is_empty());
                out.push(self.chunk(ChunkDelta::default(), Some(finish)));
            }
            "metadata" if p.usage.is_some() => self.usage = p.usage,
            _ => {}
        }
        out
    }

    /// After the last event: a finish if none came, and the usage chunk
    /// when the client asked for it.
    pub fn finish(&mut self) -> Vec<ChatChunk> {
        let mut out = Vec::new();
        if !self.finished {
            self.finished = true;
            let finish = finish_reason(None, !self.calls.is_empty());
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
#[path = "chat_via_converse_tests.rs"]
mod tests;
