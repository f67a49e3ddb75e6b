//! Chat Completions chunks → Responses API stream events:
//!
//! `response.created` + `response.in_progress` on the first chunk; reasoning
//! deltas open a `reasoning` item (`response.reasoning_text.delta`), content
//! deltas a `message` item (`response.content_part.added`,
//! `response.output_text.delta`), each new tool call index a
//! `function_call` item (`response.function_call_arguments.delta`). Items
//! are closed in order (`….done` events, then `response.output_item.done`
//! carrying the whole item). At the end: `response.completed` (or
//! `response.incomplete` when the upstream hit its token limit) with every
//! item and the usage; an upstream error ends with `response.failed`.

use std::collections::HashMap;

use super::new_id;
use super::responses_via_chat::{call_item_id, response_id, status, usage};
use super::wire::chat::{ChatChunk, ChatUsage, ErrorBody as ChatError};
use super::wire::responses::{
    Event, OutputContent, OutputItem, ReasoningContent, Response, ResponseError,
};
use super::{now_secs, streaming::ChatEvent};

#[derive(Debug)]
enum Open {
    Reasoning {
        index: usize,
        id: String,
        text: String,
    },
    Text {
        index: usize,
        id: String,
        text: String,
    },
    /// A function call, by its chat tool call index.
    Call(usize),
}

#[derive(Debug)]
struct Call {
    index: usize,
    call_id: String,
    name: String,
    arguments: String,
}

impl Call {
    fn item(&self, status: &'static str) -> OutputItem {
        OutputItem::FunctionCall {
            id: call_item_id(&self.call_id),
            call_id: self.call_id.clone(),
            name: self.name.clone(),
            arguments: self.arguments.clone(),
            status,
        }
    }
}

#[derive(Debug)]
pub struct ChatToResponses {
    response: Response,
    started: bool,
    done: bool,
    open: Option<Open>,
    /// Finished items by output index.
    items: Vec<OutputItem>,
    calls: HashMap<usize, Call>,
    finish: Option<String>,
    usage: Option<ChatUsage>,
}

impl ChatToResponses {
    pub fn new(model: &str) -> Self {
        Self {
            response: Response::new(new_id("resp_"), now_secs(), model.to_string()),
            started: false,
            done: false,
            open: None,
            items: Vec::new(),
            calls: HashMap::new(),
            finish: None,
            usage: None,
        }
    }

    fn start(&mut self, chunk: Option<&ChatChunk>, out: &mut Vec<Event>) {
        if self.started {
            return;
        }
        self.started = true;
        if let Some(c) = chunk {
            if !c.id.is_empty() {
                self.response.id = response_id(&c.id);
            }
            if !c.model.is_empty() {
                self.response.model = c.model.clone();
            }
        }
        out.push(Event::Created {
            response: self.response.clone(),
        });
        out.push(Event::InProgress {
            response: self.response.clone(),
        });
    }

    fn next_index(&self) -> usize {
        self.items.len()
    }

    /// Closes the open item, emitting its `….done` events.
    fn close(&mut self, out: &mut Vec<Event>) {
        let Some(open) = self.open.take() else {
            return;
        };
        let (index, item) = match open {
            Open::Reasoning { index, id, text } => {
                out.push(Event::ReasoningTextDone {
                    item_id: id.clone(),
                    output_index: index,
                    content_index: 0,
                    text: text.clone(),
                });
                let item = OutputItem::Reasoning {
                    id,
                    summary: Vec::new(),
                    content: vec![ReasoningContent::ReasoningText { text }],
                };
                (index, item)
            }
            Open::Text { index, id, text } => {
                let part = OutputContent::OutputText {
                    text: text.clone(),
                    annotations: Vec::new(),
                };
                out.push(Event::OutputTextDone {
                    item_id: id.clone(),
                    output_index: index,
                    content_index: 0,
                    text,
                    logprobs: Vec::new(),
                });
                out.push(Event::ContentPartDone {
                    item_id: id.clone(),
                    output_index: index,
                    content_index: 0,
                    part: part.clone(),
                });
                let item = OutputItem::Message {
                    id,
                    status: "completed",
                    role: "assistant",
                    content: vec![part],
                };
                (index, item)
            }
            Open::Call(n) => {
                let Some(call) = self.calls.get(&n) else {
                    return;
                };
                out.push(Event::FunctionCallArgumentsDone {
                    item_id: call_item_id(&call.call_id),
                    output_index: call.index,
                    name: call.name.clone(),
                    arguments: call.arguments.clone(),
                });
                (call.index, call.item("completed"))
            }
        };
        out.push(Event::OutputItemDone {
            output_index: index,
            item: item.clone(),
        });
        self.items.push(item);
    }

    fn reasoning(&mut self, delta: &str, out: &mut Vec<Event>) {
        if !matches!(self.open, Some(Open::Reasoning { .. })) {
            self.close(out);
            let index = self.next_index();
            let id = new_id("rs_");
            out.push(Event::OutputItemAdded {
                output_index: index,
                item: OutputItem::Reasoning {
                    id: id.clone(),
                    summary: Vec::new(),
                    content: Vec::new(),
                },
            });
            self.open = Some(Open::Reasoning {
                index,
                id,
                text: String::new(),
            });
        }
        if let Some(Open::Reasoning { index, id, text }) = &mut self.open {
            text.push_str(delta);
            out.push(Event::ReasoningTextDelta {
                item_id: id.clone(),
                output_index: *index,
                content_index: 0,
                delta: delta.to_string(),
            });
        }
    }

    fn text(&mut self, delta: &str, out: &mut Vec<Event>) {
        if !matches!(self.open, Some(Open::Text { .. })) {
            self.close(out);
            let index = self.next_index();
            let id = new_id("msg_");
            out.push(Event::OutputItemAdded {
                output_index: index,
                item: OutputItem::Message {
                    id: id.clone(),
                    status: "in_progress",
                    role: "assistant",
                    content: Vec::new(),
                },
            });
            out.push(Event::ContentPartAdded {
                item_id: id.clone(),
                output_index: index,
                content_index: 0,
                part: OutputContent::OutputText {
                    text: String::new(),
                    annotations: Vec::new(),
                },
            });
            self.open = Some(Open::Text {
                index,
                id,
                text: String::new(),
            });
        }
        if let Some(Open::Text { index, id, text }) = &mut self.open {
            text.push_str(delta);
            out.push(Event::OutputTextDelta {
                item_id: id.clone(),
                output_index: *index,
                content_index: 0,
                delta: delta.to_string(),
                logprobs: Vec::new(),
            });
        }
    }

    pub fn on_chunk(&mut self, chunk: ChatChunk, out: &mut Vec<Event>) {
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
            self.reasoning(r, out);
        }
        for t in [d.content, d.refusal].into_iter().flatten() {
            if !t.is_empty() {
                self.text(&t, out);
            }
        }
        for tc in d.tool_calls.unwrap_or_default() {
            let f = tc.function.unwrap_or_default();
            if !self.calls.contains_key(&tc.index) {
                self.close(out);
                let call = Call {
                    index: self.next_index(),
                    call_id: tc
                        .id
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| new_id("call_")),
                    name: f.name.clone().unwrap_or_default(),
                    arguments: String::new(),
                };
                out.push(Event::OutputItemAdded {
                    output_index: call.index,
                    item: call.item("in_progress"),
                });
                self.calls.insert(tc.index, call);
                self.open = Some(Open::Call(tc.index));
            }
            if let (Some(args), Some(call)) = (
                f.arguments.filter(|a| !a.is_empty()),
                self.calls.get_mut(&tc.index),
            ) {
                call.arguments.push_str(&args);
                out.push(Event::FunctionCallArgumentsDelta {
                    item_id: call_item_id(&call.call_id),
                    output_index: call.index,
                    delta: args,
                });
            }
        }
        if let Some(f) = choice.finish_reason {
            self.finish = Some(f);
        }
    }

    fn final_response(&mut self, status: &'static str) -> Response {
        let mut r = self.response.clone();
        r.status = status;
        r.output = std::mem::take(&mut self.items);
        r.usage = self.usage.as_ref().map(usage);
        r
    }

    /// An upstream error: `response.failed`, and nothing after.
    pub fn on_error(&mut self, err: ChatError, out: &mut Vec<Event>) {
        if self.done {
            return;
        }
        self.start(None, out);
        self.done = true;
        let mut r = self.final_response("failed");
        let code = err
            .code
            .as_ref()
            .and_then(|c| c.as_str())
            .or(err.kind.as_deref())
            .unwrap_or("upstream_error")
            .to_string();
        r.error = Some(ResponseError {
            code,
            message: err.message,
        });
        out.push(Event::Failed { response: r });
    }

    /// The upstream finished: close the open item and the response.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        if self.done {
            return;
        }
        self.start(None, out);
        self.done = true;
        self.close(out);
        let (status, incomplete) = status(self.finish.as_deref());
        let mut r = self.final_response(status);
        r.incomplete_details = incomplete;
        out.push(if status == "completed" {
            Event::Completed { response: r }
        } else {
            Event::Incomplete { response: r }
        });
    }

    /// Feeds one chat stream item.
    pub fn on_chat(&mut self, ev: ChatEvent, out: &mut Vec<Event>) {
        match ev {
            ChatEvent::Chunk(c) => self.on_chunk(c, out),
            ChatEvent::Done => self.finish(out),
            ChatEvent::Error(e) => self.on_error(e.error, out),
        }
    }
}
