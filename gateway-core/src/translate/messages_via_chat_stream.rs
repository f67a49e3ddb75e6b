//! Chat Completions chunks → Anthropic Messages stream events, one upstream
//! chunk at a time:
//!
//! `message_start` + `ping` on the first chunk (its usage is the first
//! chunk's when that chunk carries one, e.g. vLLM's continuous usage stats;
//! OpenAI reports usage only in the last chunk, so there it is 0, as
//! Anthropic clients expect a number); reasoning deltas open a
//! `thinking` block (`thinking_delta`), content deltas a `text` block
//! (`text_delta`), each new tool call index a `tool_use` block
//! (`input_json_delta` for its arguments); a block is stopped before the
//! next one starts. At the end (`[DONE]`, or the upstream closing after its
//! finish chunk) the open block is stopped, then `message_delta` (stop
//! reason, usage) and `message_stop`. An upstream error becomes an
//! Anthropic `error` event.

use std::collections::HashMap;

use serde_json::Value;

use super::errors::anthropic_type_of_openai;
use super::messages_via_chat::{message_id, stop_reason, usage};
use super::new_id;
use super::wire::anthropic::{
    BlockDelta, ContentBlock, DeltaUsage, ErrorBody, MessageDelta, MessagesResponse, StreamEvent,
};
use super::wire::chat::{ChatChunk, ChatUsage, ErrorBody as ChatError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text(usize),
    Thinking(usize),
    Tool(usize),
}

impl Block {
    fn index(self) -> usize {
        match self {
            Self::Text(i) | Self::Thinking(i) | Self::Tool(i) => i,
        }
    }
}

#[derive(Debug, Default)]
pub struct ChatToMessages {
    model: String,
    started: bool,
    done: bool,
    open: Option<Block>,
    next_index: usize,
    /// Chat tool call index → Anthropic block index.
    tools: HashMap<usize, usize>,
    finish: Option<String>,
    matched_stop: Option<Value>,
    usage: Option<ChatUsage>,
}

impl ChatToMessages {
    /// `model` is reported when the upstream names none.
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_string(),
            ..Self::default()
        }
    }

    fn start(&mut self, chunk: Option<&ChatChunk>, out: &mut Vec<StreamEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        let model = chunk
            .map(|c| c.model.clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| self.model.clone());
        let message = MessagesResponse {
            id: message_id(chunk.map_or("", |c| c.id.as_str())),
            kind: "message".into(),
            role: "assistant".into(),
            model,
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage: usage(chunk.and_then(|c| c.usage.as_ref())),
        };
        out.push(StreamEvent::MessageStart { message });
        out.push(StreamEvent::Ping);
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(b) = self.open.take() {
            out.push(StreamEvent::ContentBlockStop { index: b.index() });
        }
    }

    /// Makes `want` (a text or thinking block) the open block.
    fn open_plain(&mut self, thinking: bool, out: &mut Vec<StreamEvent>) -> usize {
        match self.open {
            Some(Block::Thinking(i)) if thinking => return i,
            Some(Block::Text(i)) if !thinking => return i,
            _ => {}
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        let (block, content_block) = if thinking {
            (
                Block::Thinking(index),
                ContentBlock::Thinking {
                    thinking: String::new(),
                    signature: None,
                },
            )
        } else {
            (Block::Text(index), ContentBlock::text(String::new()))
        };
        self.open = Some(block);
        out.push(StreamEvent::ContentBlockStart {
            index,
            content_block,
        });
        index
    }

    pub fn on_chunk(&mut self, chunk: ChatChunk, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        // A chunk with neither choices nor usage carries nothing to say
        // (Azure OpenAI's first one holds only `prompt_filter_results`,
        // with an empty id and model): the start waits for a real one.
        if chunk.choices.is_empty() && chunk.usage.is_none() {
            return;
        }
        self.start(Some(&chunk), out);
        if let Some(u) = chunk.usage {
            self.usage = Some(u);
        }
        let Some(choice) = chunk.choices.into_iter().find(|c| c.index == 0) else {
            return;
        };
        let d = choice.delta;
        if let Some(r) = d.reasoning_text() {
            let index = self.open_plain(true, out);
            out.push(StreamEvent::ContentBlockDelta {
                index,
                delta: BlockDelta::ThinkingDelta {
                    thinking: r.to_string(),
                },
            });
        }
        for text in [d.content, d.refusal].into_iter().flatten() {
            if text.is_empty() {
                continue;
            }
            let index = self.open_plain(false, out);
            out.push(StreamEvent::ContentBlockDelta {
                index,
                delta: BlockDelta::TextDelta { text },
            });
        }
        for tc in d.tool_calls.unwrap_or_default() {
            let f = tc.function.unwrap_or_default();
            let index = match self.tools.get(&tc.index) {
                Some(&i) => i,
                None => {
                    self.close(out);
                    let index = self.next_index;
                    self.next_index += 1;
                    self.tools.insert(tc.index, index);
                    self.open = Some(Block::Tool(index));
                    out.push(StreamEvent::ContentBlockStart {
                        index,
                        content_block: ContentBlock::ToolUse {
                            id: tc
                                .id
                                .filter(|s| !s.is_empty())
                                .unwrap_or_else(|| new_id("toolu_")),
                            name: f.name.unwrap_or_default(),
                            input: Value::Object(serde_json::Map::new()),
                        },
                    });
                    index
                }
            };
            if let Some(args) = f.arguments.filter(|a| !a.is_empty()) {
                out.push(StreamEvent::ContentBlockDelta {
                    index,
                    delta: BlockDelta::InputJsonDelta { partial_json: args },
                });
            }
        }
        if let Some(f) = choice.finish_reason {
            self.finish = Some(f);
            self.matched_stop = choice.stop_reason;
        }
    }

    /// An upstream error event: the Anthropic `error` event, and nothing after.
    pub fn on_error(&mut self, err: ChatError, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        self.done = true;
        out.push(StreamEvent::Error {
            error: ErrorBody {
                kind: anthropic_type_of_openai(err.kind.as_deref()).into(),
                message: err.message,
            },
        });
    }

    /// The upstream finished: close the message.
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        self.done = true;
        self.start(None, out);
        self.close(out);
        let (stop_reason, stop_sequence) = stop_reason(
            self.finish.as_deref(),
            self.matched_stop.as_ref(),
            !self.tools.is_empty(),
        );
        let u = usage(self.usage.as_ref());
        out.push(StreamEvent::MessageDelta {
            delta: MessageDelta {
                stop_reason: Some(stop_reason),
                stop_sequence,
            },
            usage: Some(DeltaUsage {
                input_tokens: self.usage.map(|_| u.input_tokens),
                output_tokens: u.output_tokens,
                cache_creation_input_tokens: None,
                cache_read_input_tokens: u.cache_read_input_tokens,
            }),
        });
        out.push(StreamEvent::MessageStop);
    }
}
