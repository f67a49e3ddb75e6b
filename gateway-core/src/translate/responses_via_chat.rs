//! Responses API clients served by a Chat Completions upstream: the request
//! (Responses → Chat) and the answer (Chat → Responses).
//!
//! - `instructions` becomes the first `system` message; `input` text a user
//!   message; input items map one to one: messages (`developer` →
//!   `system`), `function_call` → an assistant `tool_calls` entry (calls in a
//!   row share one assistant message), `function_call_output` → a `tool`
//!   message. Reasoning and built-in tool items are dropped.
//! - Function tools map to chat tools; built-in tools are dropped.
//! - `previous_response_id` needs server-side state a chat upstream does not
//!   have: refused with a 400 naming the fix.
//! - The answer: reasoning → a `reasoning` item, text → a `message` item,
//!   each tool call → a `function_call` item; `length` → `incomplete`.

use serde_json::Value;

use super::wire::chat::{
    ChatContent, ChatMessage, ChatRequest, ChatResponse, ChatUsage, ContentPart, FunctionCall,
    FunctionDef, ImageUrl, StreamOptions, Tool, ToolCall, ToolChoice,
};
use super::wire::responses::{
    FunctionOutput, IncompleteDetails, Input, InputItem, InputMessage, InputPart, MessageContent,
    OutputContent, OutputItem, ReasoningContent, Response, ResponsesRequest, TypedItem, Usage,
};
use super::wire::responses::{InputDetails, OutputDetails, Tool as RTool};
use super::{TranslateError, new_id, now_secs, uses_max_completion_tokens};

/// Responses request → Chat request for `model`.
pub fn request(req: ResponsesRequest, model: &str) -> Result<ChatRequest, TranslateError> {
    if req.previous_response_id.is_some() {
        return Err(TranslateError::invalid(
            "previous_response_id needs a provider that serves the Responses API natively \
             (set responses = \"native\" on an OpenAI provider); send the whole conversation \
             in 'input' instead",
        ));
    }
    let mut messages = Vec::new();
    if let Some(i) = req.instructions.filter(|i| !i.is_empty()) {
        messages.push(ChatMessage::new("system", Some(ChatContent::Text(i))));
    }
    match req.input {
        None => {}
        Some(Input::Text(t)) => messages.push(ChatMessage::new("user", Some(ChatContent::Text(t)))),
        Some(Input::Items(items)) => {
            for item in items {
                push_item(item, &mut messages);
            }
        }
    }
    if messages.is_empty() {
        return Err(TranslateError::invalid(
            "input: at least one message is required",
        ));
    }
    let tools: Vec<Tool> = req
        .tools
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| match t {
            RTool::Function {
                name,
                description,
                parameters,
                strict,
            } => Some(Tool {
                kind: "function".into(),
                function: FunctionDef {
                    name,
                    description,
                    parameters: Some(parameters.unwrap_or_else(
                        || serde_json::json!({"type": "object", "properties": {}}),
                    )),
                    strict,
                },
            }),
            RTool::Other => None,
        })
        .collect();
    let has_tools = !tools.is_empty();
    let tool_choice = req.tool_choice.filter(|_| has_tools).and_then(|c| match c {
        Value::String(mode) => Some(ToolChoice::Mode(mode)),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("function") => o
            .get("name")
            .and_then(Value::as_str)
            .map(ToolChoice::function),
        _ => None,
    });
    let response_format = req.text.and_then(|t| t.format).and_then(text_format);
    let stream = req.stream == Some(true);
    let (max_tokens, max_completion_tokens) = if uses_max_completion_tokens(model) {
        (None, req.max_output_tokens)
    } else {
        (req.max_output_tokens, None)
    };
    Ok(ChatRequest {
        model: model.to_string(),
        messages,
        max_tokens,
        max_completion_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        stop: None,
        stream: stream.then_some(true),
        stream_options: stream.then_some(StreamOptions {
            include_usage: Some(true),
        }),
        tools: has_tools.then_some(tools),
        tool_choice,
        parallel_tool_calls: req.parallel_tool_calls.filter(|_| has_tools),
        user: req.user,
        prompt_cache_key: req.prompt_cache_key,
        reasoning_effort: req.reasoning.and_then(|r| r.effort),
        response_format,
    })
}

/// `text.format` → chat `response_format`.
fn text_format(format: Value) -> Option<Value> {
    match format.get("type").and_then(Value::as_str)? {
        "json_schema" => {
            let mut schema = serde_json::Map::new();
            for k in ["name", "schema", "strict", "description"] {
                if let Some(v) = format.get(k) {
                    schema.insert(k.into(), v.clone());
                }
            }
            Some(serde_json::json!({"type": "json_schema", "json_schema": schema}))
        }
        "json_object" => Some(serde_json::json!({"type": "json_object"})),
        _ => None,
    }
}

fn push_item(item: InputItem, out: &mut Vec<ChatMessage>) {
    let item = match item {
        InputItem::Bare(m) => TypedItem::Message(m),
        InputItem::Typed(t) => t,
    };
    match item {
        TypedItem::Message(m) => out.push(message(m)),
        TypedItem::FunctionCall {
            call_id,
            name,
            arguments,
        } => {
            let call = ToolCall {
                id: call_id,
                kind: "function".into(),
                function: FunctionCall { name, arguments },
            };
            // Calls in a row (and right after the assistant's text) share
            // one assistant message, as chat upstreams expect.
            match out.last_mut() {
                Some(last) if last.role == "assistant" => {
                    last.tool_calls.get_or_insert_with(Vec::new).push(call);
                }
                _ => {
                    let mut m = ChatMessage::new("assistant", None);
                    m.tool_calls = Some(vec![call]);
                    out.push(m);
                }
            }
        }
        TypedItem::FunctionCallOutput { call_id, output } => {
            let text = match output {
                FunctionOutput::Text(s) => s,
                FunctionOutput::Parts(parts) => parts_text(&parts),
            };
            let mut m = ChatMessage::new("tool", Some(ChatContent::Text(text)));
            m.tool_call_id = Some(call_id);
            out.push(m);
        }
        TypedItem::Other => {}
    }
}

fn parts_text(parts: &[InputPart]) -> String {
    parts
        .iter()
        .filter_map(|p| match p {
            InputPart::InputText { text } | InputPart::OutputText { text } => Some(text.as_str()),
            InputPart::Refusal { refusal } => Some(refusal.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("")
}

fn message(m: InputMessage) -> ChatMessage {
    let role = match m.role.as_str() {
        "developer" | "system" => "system",
        "assistant" => "assistant",
        _ => "user",
    };
    let content = match m.content {
        MessageContent::Text(t) => ChatContent::Text(t),
        MessageContent::Parts(parts) if role != "user" => ChatContent::Text(parts_text(&parts)),
        MessageContent::Parts(parts) => {
            let mut out: Vec<ContentPart> = parts
                .into_iter()
                .filter_map(|p| match p {
                    InputPart::InputText { text } | InputPart::OutputText { text } => {
                        Some(ContentPart::Text {
                            text,
                            cache_control: None,
                        })
                    }
                    InputPart::InputImage {
                        image_url: Some(url),
                        detail,
                    } => Some(ContentPart::ImageUrl {
                        image_url: ImageUrl { url, detail },
                        cache_control: None,
                    }),
                    _ => None,
                })
                .collect();
            match out.as_mut_slice() {
                [ContentPart::Text { text, .. }] => ChatContent::Text(std::mem::take(text)),
                _ => ChatContent::Parts(out),
            }
        }
    };
    ChatMessage::new(role, Some(content))
}

/// Chat usage → Responses usage.
pub fn usage(u: &ChatUsage) -> Usage {
    Usage {
        input_tokens: u.prompt_tokens,
        output_tokens: u.completion_tokens,
        total_tokens: u.prompt_tokens + u.completion_tokens,
        input_tokens_details: InputDetails {
            cached_tokens: u.cached().unwrap_or(0),
        },
        output_tokens_details: OutputDetails {
            reasoning_tokens: u.reasoning().unwrap_or(0),
        },
    }
}

/// Final `status` (and why it is incomplete) from a chat `finish_reason`.
pub fn status(finish: Option<&str>) -> (&'static str, Option<IncompleteDetails>) {
    match finish {
        Some("length") => (
            "incomplete",
            Some(IncompleteDetails {
                reason: "max_output_tokens",
            }),
        ),
        Some("content_filter") => (
            "incomplete",
            Some(IncompleteDetails {
                reason: "content_filter",
            }),
        ),
        _ => ("completed", None),
    }
}

/// A Responses-looking id derived from the upstream's id.
pub fn response_id(upstream: &str) -> String {
    if upstream.is_empty() {
        new_id("resp_")
    } else {
        format!("resp_{upstream}")
    }
}

/// A `function_call` item's id from its call id.
pub fn call_item_id(call_id: &str) -> String {
    format!("fc_{call_id}")
}

/// Chat response → Responses response object.
pub fn response(resp: ChatResponse, model: &str) -> Response {
    let created = if resp.created == 0 {
        now_secs()
    } else {
        resp.created
    };
    let mut out = Response::new(
        response_id(&resp.id),
        created,
        if resp.model.is_empty() {
            model.to_string()
        } else {
            resp.model
        },
    );
    let choice = resp.choices.into_iter().next().unwrap_or_default();
    let msg = choice.message;
    if let Some(r) = msg.reasoning_text() {
        out.output.push(OutputItem::Reasoning {
            id: new_id("rs_"),
            summary: Vec::new(),
            content: vec![ReasoningContent::ReasoningText {
                text: r.to_string(),
            }],
        });
    }
    let text = msg
        .content
        .as_ref()
        .map(ChatContent::text)
        .unwrap_or_default();
    let mut content = Vec::new();
    if !text.is_empty() {
        content.push(OutputContent::OutputText {
            text,
            annotations: Vec::new(),
        });
    }
    if let Some(r) = msg.refusal.filter(|r| !r.is_empty()) {
        content.push(OutputContent::Refusal { refusal: r });
    }
    if !content.is_empty() {
        out.output.push(OutputItem::Message {
            id: new_id("msg_"),
            status: "completed",
            role: "assistant",
            content,
        });
    }
    for c in msg.tool_calls.unwrap_or_default() {
        let call_id = if c.id.is_empty() {
            new_id("call_")
        } else {
            c.id
        };
        out.output.push(OutputItem::FunctionCall {
            id: call_item_id(&call_id),
            call_id,
            name: c.function.name,
            arguments: c.function.arguments,
            status: "completed",
        });
    }
    let (status, incomplete) = status(choice.finish_reason.as_deref());
    out.status = status;
    out.incomplete_details = incomplete;
    out.usage = resp.usage.as_ref().map(usage);
    out
}
