//! Upstream stream events read in one pass, for translated streams: each
//! event's JSON is parsed once into a type that holds both what the
//! translator reads (the chat chunk or the Anthropic event) and what routing
//! reads to classify it (`routing/frames.rs`: content or preamble, usage,
//! the end, generated text).
//!
//! The two readers this replaces accept slightly different inputs (the
//! chat wire types are lenient about vendor quirks, routing's frames are
//! strict about other fields). Every field here is at least as strict as
//! the stricter of the two, so whatever one pass reads, both old readers
//! would have read, and the two views built from it are theirs. Anything
//! else — error events, malformed or odd data — is left to the old readers
//! (`None` from [`ChunkFrame::read`] and [`EventFrame::read`]), which
//! parse it again: rare, and the same answer as before by construction.

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

use super::wire::anthropic::{self, BlockDelta, ContentBlock, MessageDelta, StreamEvent};
use super::wire::chat::{
    self, ChatChunk, ChatUsage, ChunkChoice, ChunkDelta, CompletionDetails, PromptDetails,
    ToolCallDelta,
};
use crate::sse::SseEvent;
use crate::vocab::Usage;

/// A JSON object field: absent, `null`, or a value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Field<T> {
    #[default]
    Absent,
    Null,
    Is(T),
}

impl<T: Copy> Field<T> {
    fn present(&self) -> bool {
        !matches!(self, Self::Absent)
    }
    fn get(&self) -> Option<T> {
        match self {
            Self::Is(v) => Some(*v),
            _ => None,
        }
    }
}

fn field<'de, D, T>(d: D) -> Result<Field<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.map_or(Field::Null, Field::Is))
}

/// `Option<IgnoredAny>`'s answer: present and not `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<IgnoredAny>::deserialize(d)?.is_some())
}

/// The event's data could be a JSON object: the only data read in one pass
/// (the old readers also take arrays as structs; left to them).
fn object_data(ev: &SseEvent) -> bool {
    ev.data.trim_start().starts_with('{') && ev.event.as_deref() != Some("error")
}

/// Token counts in any of the shapes (chat, Anthropic, routing's aliases).
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct UsageFrame {
    #[serde(default, deserialize_with = "field")]
    prompt_tokens: Field<u64>,
    #[serde(default, deserialize_with = "field")]
    input_tokens: Field<u64>,
    #[serde(default, deserialize_with = "field")]
    completion_tokens: Field<u64>,
    #[serde(default, deserialize_with = "field")]
    output_tokens: Field<u64>,
    #[serde(default)]
    total_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    /// Read as routing's [`Usage`] reads it (leniently).
    #[serde(default, deserialize_with = "crate::vocab::cached_of")]
    input_tokens_details: Option<u64>,
}

impl UsageFrame {
    /// Routing's [`Usage`] reads `input_tokens` as an alias of
    /// `prompt_tokens` (and `output_tokens` of `completion_tokens`): both
    /// in one object fail it as a duplicate field.
    fn fits_routing(&self) -> bool {
        let both = |a: Field<u64>, b: Field<u64>| a.present() && b.present();
        !(both(self.prompt_tokens, self.input_tokens)
            || both(self.completion_tokens, self.output_tokens))
    }

    /// Routing's view.
    pub(crate) fn routing(&self) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens.get().or(self.input_tokens.get()),
            completion_tokens: self.completion_tokens.get().or(self.output_tokens.get()),
            prompt_tokens_details: self.prompt_tokens_details.and_then(|d| d.cached_tokens),
            input_tokens_details: self.input_tokens_details,
            cache_read_input_tokens: self.cache_read_input_tokens,
            cache_creation_input_tokens: self.cache_creation_input_tokens,
            excludes_cache: false,
        }
    }

    /// The chat view; `None` where [`ChatUsage`] fails (`null` counts).
    fn chat(&self) -> Option<ChatUsage> {
        let n = |f: Field<u64>| match f {
            Field::Null => None,
            f => Some(f.get().unwrap_or(0)),
        };
        Some(ChatUsage {
            prompt_tokens: n(self.prompt_tokens)?,
            completion_tokens: n(self.completion_tokens)?,
            total_tokens: self.total_tokens,
            prompt_tokens_details: self.prompt_tokens_details,
            completion_tokens_details: self.completion_tokens_details,
        })
    }

    fn anthropic(&self) -> Option<anthropic::Usage> {
        let n = |f: Field<u64>| match f {
            Field::Null => None,
            f => Some(f.get().unwrap_or(0)),
        };
        Some(anthropic::Usage {
            input_tokens: n(self.input_tokens)?,
            output_tokens: n(self.output_tokens)?,
            cache_creation_input_tokens: self.cache_creation_input_tokens,
            cache_read_input_tokens: self.cache_read_input_tokens,
        })
    }

    fn delta(&self) -> Option<anthropic::DeltaUsage> {
        Some(anthropic::DeltaUsage {
            input_tokens: self.input_tokens.get(),
            output_tokens: match self.output_tokens {
                Field::Null => return None,
                f => f.get().unwrap_or(0),
            },
            cache_creation_input_tokens: self.cache_creation_input_tokens,
            cache_read_input_tokens: self.cache_read_input_tokens,
        })
    }
}

/// `response` in routing's frame (a Responses event field): read only so
/// that what routing would fail on fails here too.
#[derive(Deserialize)]
struct ResponseFrame {
    #[serde(rename = "usage")]
    _usage: Option<Usage>,
}

/// A `chat.completion.chunk`, with what routing reads besides.
#[derive(Deserialize)]
pub(crate) struct ChunkFrame {
    #[serde(default, deserialize_with = "chat::lenient")]
    id: String,
    #[serde(default = "chat::chunk_object")]
    object: String,
    #[serde(default, deserialize_with = "chat::lenient")]
    created: u64,
    #[serde(default, deserialize_with = "chat::lenient")]
    model: String,
    #[serde(default)]
    pub(crate) choices: Vec<ChoiceFrame>,
    #[serde(default)]
    pub(crate) usage: Option<UsageFrame>,
    #[serde(default, deserialize_with = "present")]
    error: bool,
    #[serde(rename = "type", default)]
    _kind: Option<String>,
    #[serde(rename = "response", default)]
    _response: Option<ResponseFrame>,
    #[serde(rename = "delta", default)]
    _delta: Option<IgnoredAny>,
}

#[derive(Deserialize)]
pub(crate) struct ChoiceFrame {
    #[serde(default, deserialize_with = "chat::lenient")]
    index: u32,
    #[serde(default)]
    pub(crate) delta: DeltaFrame,
    /// Completions' text: routing counts it, chat chunks have none.
    #[serde(default)]
    pub(crate) text: Option<String>,
    #[serde(default)]
    pub(crate) finish_reason: Option<String>,
    #[serde(default)]
    stop_reason: Option<Value>,
}

/// A chunk's delta. The reasoning and refusal strings are strict here
/// (routing's are; the chat wire type reads anything else as `None`).
#[derive(Default, Deserialize)]
pub(crate) struct DeltaFrame {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    pub(crate) content: Option<String>,
    #[serde(default)]
    pub(crate) reasoning_content: Option<String>,
    #[serde(default)]
    pub(crate) reasoning: Option<String>,
    #[serde(default)]
    pub(crate) tool_calls: Option<Vec<ToolCallDelta>>,
    #[serde(default)]
    pub(crate) refusal: Option<String>,
    /// Legacy function calls and audio: routing's content, not translated.
    #[serde(default, deserialize_with = "present")]
    pub(crate) function_call: bool,
    #[serde(default, deserialize_with = "present")]
    pub(crate) audio: bool,
}

impl ChunkFrame {
    /// A plain chunk (not `[DONE]`, not an error) read in one pass; `None`
    /// leaves the event to the old readers.
    pub(crate) fn read(ev: &SseEvent) -> Option<Self> {
        if !object_data(ev) {
            return None;
        }
        let f: Self = serde_json::from_str(&ev.data).ok()?;
        let usage_fits = f
            .usage
            .as_ref()
            .is_none_or(|u| u.fits_routing() && u.chat().is_some());
        (!f.error && usage_fits).then_some(f)
    }

    /// The translator's view.
    pub(crate) fn into_chunk(self) -> ChatChunk {
        ChatChunk {
            id: self.id,
            object: self.object,
            created: self.created,
            model: self.model,
            choices: self
                .choices
                .into_iter()
                .map(|c| ChunkChoice {
                    index: c.index,
                    delta: ChunkDelta {
                        role: c.delta.role,
                        content: c.delta.content,
                        reasoning_content: c.delta.reasoning_content,
                        reasoning: c.delta.reasoning,
                        tool_calls: c.delta.tool_calls,
                        refusal: c.delta.refusal,
                    },
                    finish_reason: c.finish_reason,
                    stop_reason: c.stop_reason,
                })
                .collect(),
            usage: self.usage.and_then(|u| u.chat()),
        }
    }
}

/// An Anthropic stream event, flat: every field any event type has, each as
/// strict as the Anthropic wire type or routing's frame is.
#[derive(Deserialize)]
pub(crate) struct EventFrame {
    #[serde(rename = "type", default)]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<MessageFrame>,
    #[serde(default)]
    pub(crate) usage: Option<UsageFrame>,
    #[serde(default)]
    index: Option<usize>,
    /// Kept raw: routing reads its `type` as a string, the wire type as a
    /// tag (small, once per block).
    #[serde(default)]
    pub(crate) content_block: Option<Box<RawValue>>,
    #[serde(default)]
    pub(crate) delta: Option<EventDelta>,
}

/// `message_start`'s message.
#[derive(Deserialize)]
pub(crate) struct MessageFrame {
    #[serde(default)]
    id: String,
    #[serde(rename = "type", default = "anthropic::message_type")]
    kind: String,
    #[serde(default = "anthropic::assistant_role")]
    role: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    content: Vec<ContentBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    stop_sequence: Option<String>,
    #[serde(default, deserialize_with = "field")]
    pub(crate) usage: Field<UsageFrame>,
}

/// A block delta or a message delta.
#[derive(Deserialize)]
pub(crate) struct EventDelta {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    pub(crate) text: Option<String>,
    #[serde(default)]
    pub(crate) thinking: Option<String>,
    #[serde(default)]
    pub(crate) partial_json: Option<String>,
    #[serde(default)]
    pub(crate) signature: Option<String>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    stop_sequence: Option<String>,
}

/// A content block's type, as routing reads it.
#[derive(Deserialize)]
struct BlockKind {
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl EventFrame {
    /// An event read in one pass; `None` leaves it to the old readers.
    pub(crate) fn read(ev: &SseEvent) -> Option<Self> {
        if !object_data(ev) {
            return None;
        }
        let f: Self = serde_json::from_str(&ev.data).ok()?;
        let fits = |u: &UsageFrame| u.fits_routing();
        if !f.usage.as_ref().is_none_or(fits) {
            return None;
        }
        if let Some(m) = &f.message
            && let Field::Is(u) = &m.usage
            && !fits(u)
        {
            return None;
        }
        Some(f)
    }

    /// The block's `type` as routing reads it; `Err` where routing's frame
    /// would fail.
    pub(crate) fn block_kind(&self) -> Result<Option<String>, ()> {
        match &self.content_block {
            None => Ok(None),
            Some(raw) => serde_json::from_str::<BlockKind>(raw.get())
                .map(|b| b.kind)
                .map_err(|_| ()),
        }
    }

    /// The wire event; `None` where this cannot tell it (error events, and
    /// whatever the wire type would fail on), for the old reader to parse.
    pub(crate) fn into_event(self) -> Option<StreamEvent> {
        Some(match self.kind.as_deref()? {
            "message_start" => {
                let m = self.message?;
                let usage = match m.usage {
                    Field::Absent => anthropic::Usage::default(),
                    Field::Null => return None,
                    Field::Is(u) => u.anthropic()?,
                };
                StreamEvent::MessageStart {
                    message: anthropic::MessagesResponse {
                        id: m.id,
                        kind: m.kind,
                        role: m.role,
                        model: m.model,
                        content: m.content,
                        stop_reason: m.stop_reason,
                        stop_sequence: m.stop_sequence,
                        usage,
                    },
                }
            }
            "content_block_start" => StreamEvent::ContentBlockStart {
                index: self.index?,
                content_block: serde_json::from_str::<ContentBlock>(self.content_block?.get())
                    .ok()?,
            },
            "content_block_delta" => {
                let d = self.delta?;
                let delta = match d.kind.as_deref()? {
                    "text_delta" => BlockDelta::TextDelta { text: d.text? },
                    "thinking_delta" => BlockDelta::ThinkingDelta {
                        thinking: d.thinking?,
                    },
                    "input_json_delta" => BlockDelta::InputJsonDelta {
                        partial_json: d.partial_json?,
                    },
                    "signature_delta" => BlockDelta::SignatureDelta {
                        signature: d.signature?,
                    },
                    _ => BlockDelta::Other,
                };
                StreamEvent::ContentBlockDelta {
                    index: self.index?,
                    delta,
                }
            }
            "content_block_stop" => StreamEvent::ContentBlockStop { index: self.index? },
            "message_delta" => {
                let d = self.delta?;
                StreamEvent::MessageDelta {
                    delta: MessageDelta {
                        stop_reason: d.stop_reason,
                        stop_sequence: d.stop_sequence,
                    },
                    usage: match self.usage {
                        None => None,
                        Some(u) => Some(u.delta()?),
                    },
                }
            }
            "message_stop" => StreamEvent::MessageStop,
            "ping" => StreamEvent::Ping,
            // Error events go the old way (rare).
            "error" => return None,
            _ => StreamEvent::Other,
        })
    }
}
