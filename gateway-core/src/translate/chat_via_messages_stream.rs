//! Anthropic Messages stream events → Chat Completions chunks:
//!
//! `message_start` → the role chunk; `text_delta` → `content`,
//! `thinking_delta` → `reasoning_content`; a `tool_use` block start → a
//! tool call header (`id`, `name`, empty arguments) with its own index,
//! `input_json_delta` → that call's `arguments`; `message_delta` records the
//! stop reason and usage; `message_stop` → the finish chunk, a usage chunk
//! when the client asked for `stream_options.include_usage`, and `[DONE]`.
//! An upstream `error` event becomes an OpenAI error frame.

use std::collections::HashMap;

use super::chat_via_messages::{completion_id, finish_reason, usage};
use super::now_secs;
use super::streaming::ChatEvent;
use super::wire::anthropic::{self, BlockDelta, ContentBlock, StreamEvent};
use super::wire::chat::{
    ChatChunk, ChunkChoice, ChunkDelta, ErrorResponse, FunctionDelta, ToolCallDelta,
};

#[derive(Debug, Default)]
pub struct MessagesToChat {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    /// Anthropic block index → chat tool call index.
    tools: HashMap<usize, usize>,
    usage: anthropic::Usage,
    stop_reason: Option<String>,
    done: bool,
}

impl MessagesToChat {
    pub fn new(model: &str, include_usage: bool) -> Self {
        Self {
            id: completion_id("stream"),
            model: model.to_string(),
            created: now_secs(),
            include_usage,
            ..Self::default()
        }
    }

    fn chunk(&self, delta: ChunkDelta, finish: Option<String>) -> ChatEvent {
        ChatEvent::Chunk(ChatChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish,
                stop_reason: None,
            }],
            usage: None,
        })
    }

    fn tool_delta(&self, call: ToolCallDelta) -> ChatEvent {
        self.chunk(
            ChunkDelta {
                tool_calls: Some(vec![call]),
                ..ChunkDelta::default()
            },
            None,
        )
    }

    pub fn on_event(&mut self, ev: StreamEvent, out: &mut Vec<ChatEvent>) {
        if self.done {
            return;
        }
        match ev {
            StreamEvent::MessageStart { message } => {
                if !message.id.is_empty() {
                    self.id = completion_id(&message.id);
                }
                if !message.model.is_empty() {
                    self.model = message.model;
                }
                self.usage = message.usage;
                let role = ChunkDelta {
                    role: Some("assistant".into()),
                    content: Some(String::new()),
                    ..ChunkDelta::default()
                };
                out.push(self.chunk(role, None));
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => match content_block {
                ContentBlock::ToolUse { id, name, .. } => {
                    let n = self.tools.len();
                    self.tools.insert(index, n);
                    out.push(self.tool_delta(ToolCallDelta {
                        index: n,
                        id: Some(id),
                        kind: Some("function".into()),
                        function: Some(FunctionDelta {
                            name: Some(name),
                            arguments: Some(String::new()),
                        }),
                    }));
                }
                ContentBlock::Text { text, .. } if !text.is_empty() => {
                    out.push(self.chunk(content(text), None));
                }
                _ => {}
            },
            StreamEvent::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } if !text.is_empty() => {
                    out.push(self.chunk(content(text), None));
                }
                BlockDelta::ThinkingDelta { thinking } if !thinking.is_empty() => {
                    let d = ChunkDelta {
                        reasoning_content: Some(thinking),
                        ..ChunkDelta::default()
                    };
                    out.push(self.chunk(d, None));
                }
                BlockDelta::InputJsonDelta { partial_json } if !partial_json.is_empty() => {
                    if let Some(&n) = self.tools.get(&index) {
                        out.push(self.tool_delta(ToolCallDelta {
                            index: n,
                            id: None,
                            kind: None,
                            function: Some(FunctionDelta {
                                name: None,
                                arguments: Some(partial_json),
                            }),
                        }));
                    }
                }
                _ => {}
            },
            StreamEvent::MessageDelta { delta, usage } => {
                if delta.stop_reason.is_some() {
                    self.stop_reason = delta.stop_reason;
                }
                if let Some(u) = usage {
                    self.usage.output_tokens = u.output_tokens;
                    if let Some(i) = u.input_tokens {
                        self.usage.input_tokens = i;
                    }
                    if u.cache_read_input_tokens.is_some() {
                        self.usage.cache_read_input_tokens = u.cache_read_input_tokens;
                    }
                    if u.cache_creation_input_tokens.is_some() {
                        self.usage.cache_creation_input_tokens = u.cache_creation_input_tokens;
                    }
                }
            }
            StreamEvent::MessageStop => self.finish(out),
            StreamEvent::Error { error } => {
                self.done = true;
                out.push(ChatEvent::Error(ErrorResponse::new(
                    &error.kind,
                    &error.kind,
                    error.message,
                )));
            }
            StreamEvent::ContentBlockStop { .. } | StreamEvent::Ping | StreamEvent::Other => {}
        }
    }

    /// The finish chunk, the usage chunk if asked for, `[DONE]`.
    pub fn finish(&mut self, out: &mut Vec<ChatEvent>) {
        if self.done {
            return;
        }
        self.done = true;
        let reason = finish_reason(self.stop_reason.as_deref());
        out.push(self.chunk(ChunkDelta::default(), Some(reason.into())));
        if self.include_usage {
            out.push(ChatEvent::Chunk(ChatChunk {
                id: self.id.clone(),
                object: "chat.completion.chunk".into(),
                created: self.created,
                model: self.model.clone(),
                choices: Vec::new(),
                usage: Some(usage(&self.usage)),
            }));
        }
        out.push(ChatEvent::Done);
    }
}

fn content(text: String) -> ChunkDelta {
    ChunkDelta {
        content: Some(text),
        ..ChunkDelta::default()
    }
}
