//! Chat Completions clients served by an Anthropic upstream: the request
//! (Chat → Messages) and the answer (Messages → Chat).
//!
//! - `system`/`developer` messages join into the top-level `system` (a
//!   string; text blocks, each with its `cache_control`, when any part
//!   carries a cache breakpoint).
//! - `cache_control` on text and image parts (the Anthropic-style prompt
//!   cache breakpoint some chat clients send) stays on the block it becomes;
//!   on a `tool` message's parts it goes to the `tool_result` block.
//! - Text and image parts (data URLs → base64 source, other URLs → url
//!   source) become blocks; assistant `tool_calls` become `tool_use` blocks
//!   (arguments parsed into `input`); `tool` messages become `tool_result`
//!   blocks of the following user turn. Consecutive same-role turns merge.
//! - `max_tokens` is required upstream (default [`DEFAULT_MAX_TOKENS`]),
//!   `temperature` is clamped to Anthropic's 0–1, `reasoning_effort` turns
//!   extended thinking on with a matching budget.
//! - The answer: text blocks join into `content`, thinking into
//!   `reasoning_content`, `tool_use` into `tool_calls`.

use super::messages_via_chat::arguments_text;
use super::wire::anthropic::{
    self, Content, ContentBlock, ImageSource, Message, MessagesRequest, MessagesResponse, Metadata,
    Role, System, Thinking, ToolChoice as AToolChoice, ToolResultContent,
};
use super::wire::chat::{
    ChatContent, ChatMessage, ChatRequest, ChatResponse, ChatUsage, Choice, ContentPart,
    FunctionCall, PromptDetails, ToolCall, ToolChoice,
};
use super::{TranslateError, data_url, now_secs, parse_arguments};

/// Sent when a chat client sets no `max_tokens` (Anthropic requires one).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Chat request → Messages request for `model`.
pub fn request(req: ChatRequest, model: &str) -> Result<MessagesRequest, TranslateError> {
    let mut max_tokens = req.max_output().unwrap_or(DEFAULT_MAX_TOKENS);
    let mut system = Vec::new();
    let mut messages: Vec<Message> = Vec::new();
    for m in req.messages {
        let (role, blocks) = match m.role.as_str() {
            "system" | "developer" => {
                if let Some(c) = m.content {
                    system.push(c);
                }
                continue;
            }
            "assistant" => (Role::Assistant, assistant_blocks(m)),
            "tool" | "function" => {
                let cache_control = m.content.as_ref().and_then(last_cache_control);
                let text = m.content.map(|c| c.text()).unwrap_or_default();
                let block = ContentBlock::ToolResult {
                    tool_use_id: m.tool_call_id.or(m.name).unwrap_or_default(),
                    content: Some(ToolResultContent::Text(text)),
                    is_error: None,
                    cache_control,
                };
                (Role::User, vec![block])
            }
            _ => (Role::User, user_blocks(m.content)),
        };
        if blocks.is_empty() {
            continue;
        }
        match messages.last_mut() {
            Some(last) if last.role == role => {
                if let Content::Blocks(b) = &mut last.content {
                    b.extend(blocks);
                }
            }
            _ => messages.push(Message {
                role,
                content: Content::Blocks(blocks),
            }),
        }
    }
    if messages.is_empty() {
        return Err(TranslateError::invalid(
            "messages: at least one user or assistant message is required",
        ));
    }

    let tools: Vec<anthropic::Tool> = req
        .tools
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.kind == "function")
        .map(|t| anthropic::Tool {
            name: t.function.name,
            description: t.function.description,
            input_schema: Some(
                t.function
                    .parameters
                    .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
            ),
            kind: None,
        })
        .collect();
    let has_tools = !tools.is_empty();
    let no_parallel = (req.parallel_tool_calls == Some(false)).then_some(true);
    let mut tool_choice = req.tool_choice.and_then(|c| match c {
        ToolChoice::Mode(m) => match m.as_str() {
            "none" => Some(AToolChoice::None),
            "required" => Some(AToolChoice::Any {
                disable_parallel_tool_use: no_parallel,
            }),
            "auto" => Some(AToolChoice::Auto {
                disable_parallel_tool_use: no_parallel,
            }),
            _ => None,
        },
        ToolChoice::Named(n) => Some(AToolChoice::Tool {
            name: n.function.name,
            disable_parallel_tool_use: no_parallel,
        }),
    });
    if tool_choice.is_none() && no_parallel.is_some() {
        tool_choice = Some(AToolChoice::Auto {
            disable_parallel_tool_use: no_parallel,
        });
    }

    let mut temperature = req.temperature.map(|t| t.clamp(0.0, 1.0));
    let mut top_p = req.top_p;
    let thinking = match req.reasoning_effort.as_deref() {
        None | Some("none") => None,
        Some(effort) => {
            let budget = match effort {
                "minimal" | "low" => 1024,
                "high" => 16384,
                _ => 4096,
            };
            if max_tokens <= budget {
                max_tokens += budget;
            }
            // Extended thinking refuses sampling overrides.
            temperature = None;
            top_p = None;
            Some(Thinking {
                kind: "enabled".into(),
                budget_tokens: Some(budget),
            })
        }
    };
    Ok(MessagesRequest {
        model: model.to_string(),
        messages,
        system: system_of(system),
        max_tokens: Some(max_tokens),
        stop_sequences: req.stop.map(|s| s.into_vec()).filter(|s| !s.is_empty()),
        stream: (req.stream == Some(true)).then_some(true),
        temperature,
        top_p,
        top_k: None,
        tools: has_tools.then_some(tools),
        tool_choice: tool_choice.filter(|_| has_tools),
        metadata: req.user.map(|u| Metadata { user_id: Some(u) }),
        thinking,
    })
}

/// A system message's text as blocks: one per text part (a string is one),
/// each with its cache breakpoint.
fn system_blocks(c: ChatContent) -> Vec<ContentBlock> {
    match c {
        ChatContent::Text(text) => vec![ContentBlock::text(text)],
        ChatContent::Parts(parts) => parts
            .into_iter()
            .filter_map(|p| match p {
                ContentPart::Text {
                    text,
                    cache_control,
                } => Some(ContentBlock::Text {
                    text,
                    cache_control,
                }),
                _ => None,
            })
            .collect(),
    }
}

/// `system`: the messages' texts joined as one string, unless a part
/// carries a cache breakpoint: then one text block per part, breakpoints
/// kept (a string has nowhere to keep them).
fn system_of(messages: Vec<ChatContent>) -> Option<System> {
    if messages.iter().any(|c| last_cache_control(c).is_some()) {
        let blocks: Vec<ContentBlock> = messages
            .into_iter()
            .flat_map(system_blocks)
            .filter(|b| !matches!(b, ContentBlock::Text { text, .. } if text.is_empty()))
            .collect();
        return (!blocks.is_empty()).then_some(System::Blocks(blocks));
    }
    let text = messages
        .iter()
        .map(ChatContent::text)
        .collect::<Vec<_>>()
        .join("\n\n");
    (!text.is_empty()).then_some(System::Text(text))
}

/// The breakpoint of a message's last part that has one.
fn last_cache_control(c: &ChatContent) -> Option<serde_json::Value> {
    match c {
        ChatContent::Text(_) => None,
        ChatContent::Parts(parts) => parts.iter().rev().find_map(|p| match p {
            ContentPart::Text { cache_control, .. }
            | ContentPart::ImageUrl { cache_control, .. } => cache_control.clone(),
            ContentPart::Other => None,
        }),
    }
}

fn image_block(url: String, cache_control: Option<serde_json::Value>) -> ContentBlock {
    let source = match data_url(&url) {
        Some((media_type, data)) => ImageSource::Base64 {
            media_type: media_type.to_string(),
            data: data.to_string(),
        },
        None => ImageSource::Url { url },
    };
    ContentBlock::Image {
        source,
        cache_control,
    }
}

fn user_blocks(content: Option<ChatContent>) -> Vec<ContentBlock> {
    match content {
        None => Vec::new(),
        Some(ChatContent::Text(text)) if text.is_empty() => Vec::new(),
        Some(ChatContent::Text(text)) => vec![ContentBlock::text(text)],
        Some(ChatContent::Parts(parts)) => parts
            .into_iter()
            .filter_map(|p| match p {
                ContentPart::Text {
                    text,
                    cache_control,
                } if !text.is_empty() => Some(ContentBlock::Text {
                    text,
                    cache_control,
                }),
                ContentPart::ImageUrl {
                    image_url,
                    cache_control,
                } => Some(image_block(image_url.url, cache_control)),
                _ => None,
            })
            .collect(),
    }
}

fn assistant_blocks(m: ChatMessage) -> Vec<ContentBlock> {
    let mut blocks = Vec::new();
    let text = m.content.map(|c| c.text()).unwrap_or_default();
    if !text.is_empty() {
        blocks.push(ContentBlock::text(text));
    }
    for c in m.tool_calls.unwrap_or_default() {
        blocks.push(ContentBlock::ToolUse {
            id: c.id,
            name: c.function.name,
            input: parse_arguments(&c.function.arguments),
        });
    }
    blocks
}

/// Anthropic `stop_reason` → chat `finish_reason`.
pub fn finish_reason(stop: Option<&str>) -> &'static str {
    match stop {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
}

/// Anthropic usage → chat usage (cached tokens count as prompt tokens).
pub fn usage(u: &anthropic::Usage) -> ChatUsage {
    let prompt = u.prompt_total();
    ChatUsage {
        prompt_tokens: prompt,
        completion_tokens: u.output_tokens,
        total_tokens: prompt + u.output_tokens,
        prompt_tokens_details: u.cache_read_input_tokens.map(|c| PromptDetails {
            cached_tokens: Some(c),
        }),
        completion_tokens_details: None,
    }
}

/// A chat-looking completion id derived from the upstream's message id.
pub fn completion_id(upstream: &str) -> String {
    format!("chatcmpl-{upstream}")
}

/// Messages response → Chat response.
pub fn response(resp: MessagesResponse, model: &str) -> ChatResponse {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for b in resp.content {
        match b {
            ContentBlock::Text { text: t, .. } => text.push_str(&t),
            ContentBlock::Thinking { thinking, .. } => reasoning.push_str(&thinking),
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
    let mut message = ChatMessage::new(
        "assistant",
        (!text.is_empty() || calls.is_empty()).then_some(ChatContent::Text(text)),
    );
    message.tool_calls = (!calls.is_empty()).then_some(calls);
    message.reasoning_content = (!reasoning.is_empty()).then_some(reasoning);
    ChatResponse {
        id: completion_id(&resp.id),
        object: "chat.completion".into(),
        created: now_secs(),
        model: if resp.model.is_empty() {
            model.to_string()
        } else {
            resp.model
        },
        choices: vec![Choice {
            index: 0,
            message,
            finish_reason: Some(finish_reason(resp.stop_reason.as_deref()).into()),
            stop_reason: None,
        }],
        usage: Some(usage(&resp.usage)),
    }
}
