//! Gemini clients (the `/v1beta/models/{model}:generateContent` ingress)
//! served by a Chat Completions upstream: the request (`generateContent`
//! body → Chat), the answer (Chat → Gemini) and errors. Anthropic
//! upstreams are reached by chaining with `chat_via_messages*`; any other
//! upstream that speaks chat (or is reached through chat) can be chained
//! the same way.
//!
//! - `systemInstruction` → the first `system` message; `contents` turns
//!   with role `model` → `assistant`, anything else → `user`.
//! - Parts: `text` stays text (a model turn's `thought` parts are dropped:
//!   chat upstreams take no reasoning back); `inlineData` / `fileData`
//!   images → `image_url` (a data URL for inline bytes), other media are
//!   refused (the target is skipped); `functionCall` → `tool_calls`
//!   (`args` serialised, its `id` kept, else `call_N` by position);
//!   `functionResponse` → a `tool` message answering the call with its
//!   `id`, else the earliest unanswered call of that name.
//! - `tools[].functionDeclarations` → chat tools: `parametersJsonSchema`
//!   as is, `parameters` (Gemini's OpenAPI subset, upper-case types from
//!   the Python SDK: `"OBJECT"`, `"STRING"`) → JSON Schema with lower-case
//!   types (`nullable: true` → a `["…","null"]` type). Other tools
//!   (`googleSearch`, `codeExecution`…) are not translated.
//! - `toolConfig.functionCallingConfig.mode`: `AUTO`/`VALIDATED` → `auto`,
//!   `ANY` → `required` (one allowed name → that function), `NONE` → `none`.
//! - `generationConfig`: `temperature`, `topP`, `maxOutputTokens`,
//!   `stopSequences`, `responseMimeType: application/json` (with
//!   `responseJsonSchema` / `responseSchema`) → `response_format`.
//!   `thinkingConfig` is not translated (a chat model that does not reason
//!   refuses `reasoning_effort`).
//! - The answer: reasoning → a `thought: true` part, text → a text part,
//!   tool calls → `functionCall` parts with their ids; `finish_reason` →
//!   `finishReason` (`stop`/`tool_calls` STOP, `length` MAX_TOKENS,
//!   `content_filter` SAFETY); usage → `usageMetadata` (reasoning tokens as
//!   `thoughtsTokenCount`, outside `candidatesTokenCount`).

use serde_json::Value;

use super::messages_via_chat::arguments_text;
use super::wire::chat::{
    ChatChunk, ChatContent, ChatMessage, ChatRequest, ChatResponse, ChatUsage, ContentPart,
    FunctionCall, FunctionDef, ImageUrl, NamedToolChoice, Stop, StreamOptions, Tool, ToolCall,
    ToolChoice,
};
use super::wire::gemini::{
    self, Candidate, Content, GenerateRequest, GenerateResponse, Part, UsageMetadata,
};
use super::{TranslateError, new_id, parse_arguments, uses_max_completion_tokens};

/// `generateContent` body → Chat request for `model`, streamed or not
/// (for Gemini both are in the path).
pub fn request(
    req: GenerateRequest,
    model: &str,
    stream: bool,
) -> Result<ChatRequest, TranslateError> {
    let mut messages = Vec::new();
    if let Some(system) = req.system_instruction {
        let text: String = system
            .parts
            .iter()
            .filter_map(|p| p.text.as_deref())
            .collect::<Vec<_>>()
            .join("\n\n");
        if !text.is_empty() {
            messages.push(ChatMessage::new("system", Some(ChatContent::Text(text))));
        }
    }
    // Calls made so far: (id, name, answered).
    let mut calls: Vec<(String, String, bool)> = Vec::new();
    for c in req.contents {
        if c.role.as_deref() == Some("model") {
            if let Some(m) = model_turn(c.parts, &mut calls) {
                messages.push(m);
            }
        } else {
            user_turn(c.parts, &mut calls, &mut messages)?;
        }
    }
    if messages.iter().all(|m| m.role == "system") {
        return Err(TranslateError::invalid(
            "contents: at least one user or model turn with content is required",
        ));
    }

    let tools: Vec<Tool> = req
        .tools
        .into_iter()
        .flat_map(|t| t.function_declarations)
        .map(|d| Tool {
            kind: "function".into(),
            function: FunctionDef {
                name: d.name,
                description: d.description,
                parameters: d
                    .parameters_json_schema
                    .or_else(|| d.parameters.map(openapi_to_json_schema)),
                strict: None,
            },
        })
        .collect();
    let has_tools = !tools.is_empty();
    let tool_choice = req
        .tool_config
        .filter(|_| has_tools)
        .map(|c| c.function_calling_config)
        .map(|c| match c.mode.to_ascii_uppercase().as_str() {
            "ANY" => match c.allowed_function_names.as_deref() {
                Some([one]) => ToolChoice::Named(NamedToolChoice {
                    kind: "function".into(),
                    function: super::wire::chat::NamedFunction { name: one.clone() },
                }),
                _ => ToolChoice::Mode("required".into()),
            },
            "NONE" => ToolChoice::Mode("none".into()),
            _ => ToolChoice::Mode("auto".into()),
        });
    let g = req.generation_config.unwrap_or_default();
    let (max_tokens, max_completion_tokens) = if uses_max_completion_tokens(model) {
        (None, g.max_output_tokens)
    } else {
        (g.max_output_tokens, None)
    };
    let json = g.response_mime_type.as_deref() == Some("application/json");
    let schema = g
        .response_json_schema
        .or_else(|| g.response_schema.map(openapi_to_json_schema));
    let response_format = match (json, schema) {
        (false, _) => None,
        (true, None) => Some(serde_json::json!({"type": "json_object"})),
        (true, Some(s)) => Some(serde_json::json!({
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": s}
        })),
    };
    Ok(ChatRequest {
        model: model.to_string(),
        messages,
        max_tokens,
        max_completion_tokens,
        temperature: g.temperature,
        top_p: g.top_p,
        stop: (!g.stop_sequences.is_empty()).then_some(Stop::Many(g.stop_sequences)),
        stream: stream.then_some(true),
        stream_options: stream.then_some(StreamOptions {
            include_usage: Some(true),
        }),
        tools: has_tools.then_some(tools),
        tool_choice,
        parallel_tool_calls: None,
        user: None,
        prompt_cache_key: None,
        reasoning_effort: None,
        response_format,
    })
}

/// A `model` turn → one assistant message (`None` when it has nothing a
/// chat upstream takes).
fn model_turn(parts: Vec<Part>, calls: &mut Vec<(String, String, bool)>) -> Option<ChatMessage> {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for p in parts {
        if let Some(f) = p.function_call {
            let id =
                f.id.filter(|id| !id.is_empty())
                    .unwrap_or_else(|| format!("call_{}", calls.len()));
            calls.push((id.clone(), f.name.clone(), false));
            tool_calls.push(ToolCall {
                id,
                kind: "function".into(),
                function: FunctionCall {
                    name: f.name,
                    arguments: arguments_text(&f.args),
                },
            });
        } else if let Some(t) = p.text
            && p.thought != Some(true)
        {
            text.push_str(&t);
        }
    }
    if text.is_empty() && tool_calls.is_empty() {
        return None;
    }
    let mut m = ChatMessage::new(
        "assistant",
        (!text.is_empty()).then_some(ChatContent::Text(text)),
    );
    m.tool_calls = (!tool_calls.is_empty()).then_some(tool_calls);
    Some(m)
}

/// A `user` turn → its `tool` messages (function responses) first, then
/// one user message with the rest.
fn user_turn(
    parts: Vec<Part>,
    calls: &mut [(String, String, bool)],
    out: &mut Vec<ChatMessage>,
) -> Result<(), TranslateError> {
    let mut content: Vec<ContentPart> = Vec::new();
    for p in parts {
        if let Some(r) = p.function_response {
            let slot = match r.id.as_deref().filter(|id| !id.is_empty()) {
                Some(id) => calls.iter_mut().find(|(c, _, _)| c == id),
                None => calls
                    .iter_mut()
                    .find(|(_, name, answered)| *name == r.name && !answered),
            };
            let id = match slot {
                Some(s) => {
                    s.2 = true;
                    s.0.clone()
                }
                None => r.id.clone().ok_or_else(|| {
                    TranslateError::invalid(format!(
                        "contents: functionResponse {:?} answers no earlier functionCall",
                        r.name
                    ))
                })?,
            };
            let mut m = ChatMessage::new("tool", Some(ChatContent::Text(result_text(&r.response))));
            m.tool_call_id = Some(id);
            out.push(m);
        } else if let Some(t) = p.text {
            if !t.is_empty() {
                content.push(ContentPart::Text {
                    text: t,
                    cache_control: None,
                });
            }
        } else if let Some(b) = p.inline_data {
            if !b.mime_type.starts_with("image/") {
                return Err(media_refused(&b.mime_type));
            }
            content.push(image(format!("data:{};base64,{}", b.mime_type, b.data)));
        } else if let Some(f) = p.file_data {
            match f.mime_type.as_deref() {
                Some(m) if !m.starts_with("image/") => return Err(media_refused(m)),
                _ => content.push(image(f.file_uri)),
            }
        } else if p.function_call.is_some() {
            return Err(TranslateError::invalid(
                "contents: a functionCall part belongs in a model turn",
            ));
        }
    }
    if content.is_empty() {
        return Ok(());
    }
    let content = match content.as_slice() {
        [ContentPart::Text { text, .. }] => ChatContent::Text(text.clone()),
        _ => ChatContent::Parts(content),
    };
    out.push(ChatMessage::new("user", Some(content)));
    Ok(())
}

fn image(url: String) -> ContentPart {
    ContentPart::ImageUrl {
        image_url: ImageUrl { url, detail: None },
        cache_control: None,
    }
}

fn media_refused(mime: &str) -> TranslateError {
    TranslateError::invalid(format!(
        "contents: {mime} data cannot be sent to a chat upstream (only images)"
    ))
}

/// A function's result as the tool message's text: Gemini's
/// `{"output": …}` / `{"content": …}` wrapper unwrapped when it holds a
/// string, else the object as JSON.
fn result_text(response: &Value) -> String {
    if let Value::Object(o) = response
        && o.len() == 1
        && let Some(Value::String(s)) = o.get("output").or_else(|| o.get("content"))
    {
        return s.clone();
    }
    match response {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// Gemini's OpenAPI-subset schema (`parameters`, `responseSchema`) as JSON
/// Schema: upper-case type names lower-cased, `nullable: true` folded into
/// the type; everything else kept.
pub fn openapi_to_json_schema(v: Value) -> Value {
    match v {
        Value::Object(o) => {
            let nullable = o.get("nullable") == Some(&Value::Bool(true));
            let mut out = serde_json::Map::with_capacity(o.len());
            for (k, v) in o {
                match (k.as_str(), v) {
                    ("nullable", _) => {}
                    ("type", Value::String(t)) => {
                        let t = Value::String(t.to_ascii_lowercase());
                        let t = if nullable {
                            Value::Array(vec![t, Value::String("null".into())])
                        } else {
                            t
                        };
                        out.insert(k, t);
                    }
                    ("properties" | "$defs" | "definitions", Value::Object(props)) => {
                        let props = props
                            .into_iter()
                            .map(|(name, s)| (name, openapi_to_json_schema(s)))
                            .collect();
                        out.insert(k, Value::Object(props));
                    }
                    ("items" | "additionalProperties" | "not", v) => {
                        out.insert(k, openapi_to_json_schema(v));
                    }
                    ("anyOf" | "oneOf" | "allOf" | "prefixItems", Value::Array(items)) => {
                        let items = items.into_iter().map(openapi_to_json_schema).collect();
                        out.insert(k, Value::Array(items));
                    }
                    // `propertyOrdering` is Gemini's own; JSON Schema has no such key.
                    ("propertyOrdering", _) => {}
                    (_, v) => {
                        out.insert(k, v);
                    }
                }
            }
            Value::Object(out)
        }
        other => other,
    }
}

/// Chat `finish_reason` → Gemini `finishReason`.
pub fn finish_reason(reason: Option<&str>) -> &'static str {
    match reason {
        Some("length") => "MAX_TOKENS",
        Some("content_filter") => "SAFETY",
        _ => "STOP",
    }
}

/// Chat usage → `usageMetadata`.
pub fn usage(u: &ChatUsage) -> UsageMetadata {
    let thoughts = u.reasoning().filter(|t| *t > 0);
    let candidates = u.completion_tokens.saturating_sub(thoughts.unwrap_or(0));
    UsageMetadata {
        prompt_token_count: u.prompt_tokens,
        candidates_token_count: candidates,
        total_token_count: u
            .total_tokens
            .max(u.prompt_tokens.saturating_add(u.completion_tokens)),
        cached_content_token_count: u.cached().filter(|c| *c > 0),
        thoughts_token_count: thoughts,
    }
}

fn call_part(id: String, name: String, arguments: &str) -> Part {
    Part {
        function_call: Some(gemini::FunctionCall {
            id: (!id.is_empty()).then_some(id),
            name,
            args: parse_arguments(arguments),
        }),
        ..Part::default()
    }
}

fn thought_part(text: String) -> Part {
    Part {
        text: Some(text),
        thought: Some(true),
        ..Part::default()
    }
}

fn candidate(parts: Vec<Part>, finish: Option<&str>) -> Candidate {
    Candidate {
        content: Some(Content {
            role: Some("model".into()),
            parts,
        }),
        finish_reason: finish.map(str::to_string),
        index: 0,
    }
}

/// Chat answer → `generateContent` answer (`model` reported when the
/// upstream names none).
pub fn response(resp: ChatResponse, model: &str) -> GenerateResponse {
    let model_version = if resp.model.is_empty() {
        model.to_string()
    } else {
        resp.model
    };
    let choice = resp.choices.into_iter().next().unwrap_or_default();
    let mut parts = Vec::new();
    if let Some(r) = choice.message.reasoning_text() {
        parts.push(thought_part(r.to_string()));
    }
    let text = choice.message.content.map(|c| c.text()).unwrap_or_default();
    let calls = choice.message.tool_calls.unwrap_or_default();
    if !text.is_empty() || calls.is_empty() {
        parts.push(Part::text(text));
    }
    for c in calls {
        parts.push(call_part(c.id, c.function.name, &c.function.arguments));
    }
    GenerateResponse {
        candidates: vec![candidate(
            parts,
            Some(finish_reason(choice.finish_reason.as_deref())),
        )],
        prompt_feedback: None,
        usage_metadata: resp.usage.as_ref().map(usage),
        model_version,
        response_id: resp.id,
    }
}

/// A tool call being streamed: its id and name come first, arguments in
/// pieces.
#[derive(Debug, Default)]
struct PendingCall {
    id: String,
    name: String,
    arguments: String,
}

/// A chat stream → `streamGenerateContent?alt=sse` events, chunk by
/// chunk. Text and reasoning go out as they come; a tool call is sent
/// whole (Gemini has no partial calls) in the last event, which also
/// carries `finishReason` and `usageMetadata` (chat sends usage after its
/// finish chunk).
#[derive(Debug)]
pub struct GeminiStream {
    model: String,
    id: String,
    calls: Vec<PendingCall>,
    finish: Option<String>,
    usage: Option<ChatUsage>,
    done: bool,
}

/// Most tool calls one streamed answer may carry; later ones are dropped.
const MAX_STREAM_CALLS: usize = 128;

impl GeminiStream {
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_string(),
            id: String::new(),
            calls: Vec::new(),
            finish: None,
            usage: None,
            done: false,
        }
    }

    fn event(
        &mut self,
        candidates: Vec<Candidate>,
        usage: Option<UsageMetadata>,
    ) -> GenerateResponse {
        if self.id.is_empty() {
            self.id = new_id("");
        }
        GenerateResponse {
            candidates,
            prompt_feedback: None,
            usage_metadata: usage,
            model_version: self.model.clone(),
            response_id: self.id.clone(),
        }
    }

    /// The events for one chat chunk (none when it only carries tool call
    /// pieces, a finish or usage).
    pub fn on_chunk(&mut self, c: ChatChunk, out: &mut Vec<GenerateResponse>) {
        if self.done {
            return;
        }
        if !c.model.is_empty() {
            self.model = c.model;
        }
        if self.id.is_empty() && !c.id.is_empty() {
            self.id = c.id;
        }
        if c.usage.is_some() {
            self.usage = c.usage;
        }
        let mut parts = Vec::new();
        for choice in c.choices.into_iter().filter(|ch| ch.index == 0) {
            let d = choice.delta;
            if let Some(r) = d.reasoning_text() {
                parts.push(thought_part(r.to_string()));
            }
            if let Some(t) = d.content.filter(|t| !t.is_empty()) {
                parts.push(Part::text(t));
            }
            for tc in d.tool_calls.unwrap_or_default() {
                if tc.index >= MAX_STREAM_CALLS {
                    continue;
                }
                if self.calls.len() <= tc.index {
                    self.calls.resize_with(tc.index + 1, PendingCall::default);
                }
                let call = &mut self.calls[tc.index];
                if let Some(id) = tc.id.filter(|id| !id.is_empty()) {
                    call.id = id;
                }
                if let Some(f) = tc.function {
                    if let Some(n) = f.name.filter(|n| !n.is_empty()) {
                        call.name = n;
                    }
                    if let Some(a) = f.arguments {
                        call.arguments.push_str(&a);
                    }
                }
            }
            if let Some(r) = choice.finish_reason {
                self.finish = Some(r);
            }
        }
        if !parts.is_empty() {
            let ev = self.event(vec![candidate(parts, None)], None);
            out.push(ev);
        }
    }

    /// The last event: the tool calls, `finishReason`, `usageMetadata`.
    pub fn finish(&mut self, out: &mut Vec<GenerateResponse>) {
        if self.done {
            return;
        }
        self.done = true;
        let calls = std::mem::take(&mut self.calls);
        let mut parts: Vec<Part> = calls
            .into_iter()
            .filter(|c| !c.name.is_empty())
            .map(|c| {
                let id = if c.id.is_empty() {
                    new_id("call_")
                } else {
                    c.id
                };
                call_part(id, c.name, &c.arguments)
            })
            .collect();
        if parts.is_empty() {
            parts.push(Part::text(""));
        }
        let finish = finish_reason(self.finish.as_deref());
        let usage = self.usage.as_ref().map(usage);
        let ev = self.event(vec![candidate(parts, Some(finish))], usage);
        out.push(ev);
    }
}
