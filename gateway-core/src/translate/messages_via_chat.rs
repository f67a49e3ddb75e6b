//! Anthropic Messages clients served by a Chat Completions upstream: the
//! request (Messages → Chat) and the answer (Chat → Messages).
//!
//! - `system` (string or blocks) becomes the first `system` message.
//! - User blocks: text and images (base64 → data URL, url → url) become
//!   content parts; `tool_result` blocks become `tool` messages placed before
//!   the rest of the turn (images in a result follow in a user message).
//! - Assistant blocks: text joins into `content`, `tool_use` becomes
//!   `tool_calls` (input serialised as the arguments); thinking is dropped
//!   (chat upstreams take no reasoning back).
//! - Upstream `reasoning_content` / `reasoning` comes back as a thinking
//!   block; `finish_reason` maps to `stop_reason`.

use serde_json::Value;

use super::wire::anthropic::{
    self, ContentBlock, ImageSource, MessagesRequest, MessagesResponse, Role, System,
    ToolChoice as AToolChoice, ToolResultContent,
};
use super::wire::chat::{
    ChatContent, ChatMessage, ChatRequest, ChatResponse, ChatUsage, ContentPart, FunctionCall,
    FunctionDef, ImageUrl, Stop, StreamOptions, Tool, ToolCall, ToolChoice,
};
use super::{TranslateError, new_id, parse_arguments, uses_max_completion_tokens};

/// Messages request → Chat request for `model`.
pub fn request(req: MessagesRequest, model: &str) -> Result<ChatRequest, TranslateError> {
    let mut messages = Vec::new();
    if let Some(system) = req.system {
        let text = system_text(system);
        if !text.is_empty() {
            messages.push(ChatMessage::new("system", Some(ChatContent::Text(text))));
        }
    }
    for m in req.messages {
        let blocks = m.content.into_blocks();
        match m.role {
            Role::User => user_turn(blocks, &mut messages),
            Role::Assistant => {
                if let Some(msg) = assistant_turn(blocks) {
                    messages.push(msg);
                }
            }
        }
    }
    if messages.is_empty() {
        return Err(TranslateError::invalid(
            "messages: at least one message is required",
        ));
    }

    let tools: Vec<Tool> =
        req.tools
            .unwrap_or_default()
            .into_iter()
            .filter(anthropic::Tool::is_client_tool)
            .map(|t| Tool {
                kind: "function".into(),
                function: FunctionDef {
                    name: t.name,
                    description: t.description,
                    parameters: Some(t.input_schema.unwrap_or_else(
                        || serde_json::json!({"type": "object", "properties": {}}),
                    )),
                    strict: None,
                },
            })
            .collect();
    let has_tools = !tools.is_empty();
    let parallel_off = req
        .tool_choice
        .as_ref()
        .is_some_and(AToolChoice::disables_parallel);
    let tool_choice = req.tool_choice.filter(|_| has_tools).map(|c| match c {
        AToolChoice::Auto { .. } => ToolChoice::Mode("auto".into()),
        AToolChoice::Any { .. } => ToolChoice::Mode("required".into()),
        AToolChoice::None => ToolChoice::Mode("none".into()),
        AToolChoice::Tool { name, .. } => ToolChoice::function(&name),
    });
    let stream = req.stream == Some(true);
    let (max_tokens, max_completion_tokens) = if uses_max_completion_tokens(model) {
        (None, req.max_tokens)
    } else {
        (req.max_tokens, None)
    };
    Ok(ChatRequest {
        model: model.to_string(),
        messages,
        max_tokens,
        max_completion_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        stop: req.stop_sequences.filter(|s| !s.is_empty()).map(Stop::Many),
        stream: stream.then_some(true),
        stream_options: stream.then_some(StreamOptions {
            include_usage: Some(true),
        }),
        tools: has_tools.then_some(tools),
        tool_choice,
        parallel_tool_calls: (has_tools && parallel_off).then_some(false),
        user: None,
        prompt_cache_key: None,
        reasoning_effort: None,
        response_format: None,
    })
}

/// `system` as one string (blocks joined by a blank line).
pub fn system_text(system: System) -> String {
    match system {
        System::Text(s) => s,
        System::Blocks(blocks) => blocks
            .into_iter()
            .filter_map(|b| match b {
                ContentBlock::Text { text, .. } => Some(text),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n\n"),
    }
}

fn image_part(source: ImageSource) -> Option<ContentPart> {
    let url = match source {
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        ImageSource::Url { url } => url,
        ImageSource::Other => return None,
    };
    Some(ContentPart::ImageUrl {
        image_url: ImageUrl { url, detail: None },
        cache_control: None,
    })
}

/// Content parts as chat content: a lone text part becomes a plain string
/// (what every OpenAI-compatible server accepts).
fn chat_content(mut parts: Vec<ContentPart>) -> ChatContent {
    if parts.len() == 1
        && let Some(ContentPart::Text { text, .. }) = parts.first_mut()
    {
        return ChatContent::Text(std::mem::take(text));
    }
    ChatContent::Parts(parts)
}

fn user_turn(blocks: Vec<ContentBlock>, out: &mut Vec<ChatMessage>) {
    let mut parts = Vec::new();
    for b in blocks {
        match b {
            ContentBlock::Text { text, .. } => parts.push(ContentPart::Text {
                text,
                cache_control: None,
            }),
            ContentBlock::Image { source, .. } => parts.extend(image_part(source)),
            ContentBlock::ToolResult {
                tool_use_id,
                content,
                ..
            } => {
                let (text, images) = tool_result_parts(content);
                let mut msg = ChatMessage::new("tool", Some(ChatContent::Text(text)));
                msg.tool_call_id = Some(tool_use_id);
                out.push(msg);
                parts.extend(images);
            }
            // A user turn carries no reasoning or tool calls.
            _ => {}
        }
    }
    if !parts.is_empty() {
        out.push(ChatMessage::new("user", Some(chat_content(parts))));
    }
}

/// A tool result's text (text blocks joined by newlines) and its images.
fn tool_result_parts(content: Option<ToolResultContent>) -> (String, Vec<ContentPart>) {
    match content {
        None => (String::new(), Vec::new()),
        Some(ToolResultContent::Text(s)) => (s, Vec::new()),
        Some(ToolResultContent::Blocks(blocks)) => {
            let mut texts = Vec::new();
            let mut images = Vec::new();
            for b in blocks {
                match b {
                    ContentBlock::Text { text, .. } => texts.push(text),
                    ContentBlock::Image { source, .. } => images.extend(image_part(source)),
                    _ => {}
                }
            }
            (texts.join("\n"), images)
        }
    }
}

fn assistant_turn(blocks: Vec<ContentBlock>) -> Option<ChatMessage> {
    let mut text = String::new();
    let mut calls = Vec::new();
    for b in blocks {
        match b {
            ContentBlock::Text { text: t, .. } => text.push_str(&t),
            ContentBlock::ToolUse { id, name, input } => calls.push(ToolCall {
                id,
                kind: "function".into(),
                function: FunctionCall {
                    name,
                    arguments: arguments_text(&input),
                },
            }),
            _ => {}
        }
    }
    if text.is_empty() && calls.is_empty() {
        return None;
    }
    let mut msg = ChatMessage::new(
        "assistant",
        (!text.is_empty() || calls.is_empty()).then_some(ChatContent::Text(text)),
    );
    msg.tool_calls = (!calls.is_empty()).then_some(calls);
    Some(msg)
}

/// Tool input as chat `arguments` text (`{}` for a missing input).
pub fn arguments_text(input: &Value) -> String {
    match input {
        Value::Null => "{}".into(),
        v => v.to_string(),
    }
}

/// Chat `finish_reason` (and vLLM's `stop_reason`) → Anthropic
/// `(stop_reason, stop_sequence)`.
pub fn stop_reason(
    finish: Option<&str>,
    matched_stop: Option<&Value>,
    has_tool_calls: bool,
) -> (String, Option<String>) {
    let r = match finish {
        Some("length") => "max_tokens",
        Some("content_filter") => "refusal",
        // Some servers report "stop" even when the turn ends in tool calls.
        _ if has_tool_calls => "tool_use",
        Some("tool_calls" | "function_call") => "tool_use",
        Some("stop") => {
            if let Some(Value::String(s)) = matched_stop {
                return ("stop_sequence".into(), Some(s.clone()));
            }
            "end_turn"
        }
        _ => "end_turn",
    };
    (r.into(), None)
}

/// Chat usage → Anthropic usage (cached prompt tokens reported apart).
pub fn usage(u: Option<&ChatUsage>) -> anthropic::Usage {
    let Some(u) = u else {
        return anthropic::Usage::default();
    };
    let cached = u.cached().filter(|c| *c > 0);
    anthropic::Usage {
        input_tokens: u.prompt_tokens.saturating_sub(cached.unwrap_or(0)),
        output_tokens: u.completion_tokens,
        cache_creation_input_tokens: None,
        cache_read_input_tokens: cached,
    }
}

/// Chat response → Messages response. `model` is used when the upstream
/// did not name one.
pub fn response(resp: ChatResponse, model: &str) -> MessagesResponse {
    let choice = resp.choices.into_iter().next().unwrap_or_default();
    let msg = choice.message;
    let mut content = Vec::new();
    if let Some(r) = msg.reasoning_text() {
        content.push(ContentBlock::Thinking {
            thinking: r.to_string(),
            signature: Some(String::new()),
        });
    }
    let text = msg
        .content
        .as_ref()
        .map(ChatContent::text)
        .unwrap_or_default();
    if !text.is_empty() {
        content.push(ContentBlock::text(text));
    }
    if let Some(refusal) = msg.refusal.filter(|r| !r.is_empty()) {
        content.push(ContentBlock::text(refusal));
    }
    let calls = msg.tool_calls.unwrap_or_default();
    let has_calls = !calls.is_empty();
    for c in calls {
        content.push(ContentBlock::ToolUse {
            id: if c.id.is_empty() {
                new_id("toolu_")
            } else {
                c.id
            },
            name: c.function.name,
            input: parse_arguments(&c.function.arguments),
        });
    }
    let (stop_reason, stop_sequence) = stop_reason(
        choice.finish_reason.as_deref(),
        choice.stop_reason.as_ref(),
        has_calls,
    );
    MessagesResponse {
        id: message_id(&resp.id),
        kind: "message".into(),
        role: "assistant".into(),
        model: if resp.model.is_empty() {
            model.to_string()
        } else {
            resp.model
        },
        content,
        stop_reason: Some(stop_reason),
        stop_sequence,
        usage: usage(resp.usage.as_ref()),
    }
}

/// An Anthropic-looking message id derived from the upstream's id.
pub fn message_id(upstream: &str) -> String {
    if upstream.is_empty() {
        new_id("msg_")
    } else if upstream.starts_with("msg_") {
        upstream.to_string()
    } else {
        format!("msg_{upstream}")
    }
}
