//! `POST /v1/messages/count_tokens`, answered locally with an estimate: the
//! gateway does not know every upstream's tokenizer, and agents only use
//! the number to budget their context. About four characters per token for
//! text, tool definitions and tool inputs, a flat cost per image, a few
//! tokens of framing per message. The Gemini ingress's `:countTokens`
//! estimates a Gemini body the same way ([`estimate_gemini_tokens`]).

use super::wire::anthropic::{Content, ContentBlock, MessagesRequest, System, ToolResultContent};
use super::wire::gemini;

/// What one image costs (a ~1100×1100 picture under Anthropic's rule of
/// width × height / 750).
const IMAGE_TOKENS: u64 = 1600;
/// Role markers and separators around each message.
const PER_MESSAGE: u64 = 4;

fn text_tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

fn block_tokens(b: &ContentBlock) -> u64 {
    match b {
        ContentBlock::Text { text, .. } => text_tokens(text.chars().count()),
        ContentBlock::Thinking { thinking, .. } => text_tokens(thinking.chars().count()),
        ContentBlock::Image { .. } => IMAGE_TOKENS,
        ContentBlock::ToolUse { name, input, .. } => {
            text_tokens(name.len() + input.to_string().chars().count())
        }
        ContentBlock::ToolResult { content, .. } => match content {
            None => 0,
            Some(ToolResultContent::Text(s)) => text_tokens(s.chars().count()),
            Some(ToolResultContent::Blocks(bs)) => bs.iter().map(block_tokens).sum(),
        },
        ContentBlock::RedactedThinking { data } => text_tokens(data.len()),
        ContentBlock::Other => 0,
    }
}

/// Estimated input tokens of a Messages request.
pub fn estimate_input_tokens(req: &MessagesRequest) -> u64 {
    let mut n = 0;
    match &req.system {
        None => {}
        Some(System::Text(s)) => n += text_tokens(s.chars().count()),
        Some(System::Blocks(bs)) => n += bs.iter().map(block_tokens).sum::<u64>(),
    }
    for m in &req.messages {
        n += PER_MESSAGE;
        n += match &m.content {
            Content::Text(s) => text_tokens(s.chars().count()),
            Content::Blocks(bs) => bs.iter().map(block_tokens).sum(),
        };
    }
    for t in req.tools.iter().flatten() {
        let schema = t.input_schema.as_ref().map_or(0, |s| s.to_string().len());
        let desc = t.description.as_ref().map_or(0, |d| d.chars().count());
        n += PER_MESSAGE + text_tokens(t.name.len() + desc + schema);
    }
    n.max(1)
}

fn gemini_part_tokens(p: &gemini::Part) -> u64 {
    let mut n = p
        .text
        .as_ref()
        .map_or(0, |t| text_tokens(t.chars().count()));
    if p.inline_data.is_some() || p.file_data.is_some() {
        n += IMAGE_TOKENS;
    }
    if let Some(f) = &p.function_call {
        n += text_tokens(f.name.len() + f.args.to_string().chars().count());
    }
    if let Some(r) = &p.function_response {
        n += text_tokens(r.name.len() + r.response.to_string().chars().count());
    }
    n
}

/// Estimated input tokens of a Gemini `generateContent` body (its
/// `contents`, `systemInstruction` and function declarations).
pub fn estimate_gemini_tokens(
    contents: &[gemini::Content],
    system: Option<&gemini::Content>,
    tools: &[gemini::Tool],
) -> u64 {
    let mut n = 0;
    for c in contents.iter().chain(system) {
        n += PER_MESSAGE + c.parts.iter().map(gemini_part_tokens).sum::<u64>();
    }
    for d in tools.iter().flat_map(|t| &t.function_declarations) {
        let schema = d
            .parameters_json_schema
            .as_ref()
            .or(d.parameters.as_ref())
            .map_or(0, |s| s.to_string().len());
        let desc = d.description.as_ref().map_or(0, |d| d.chars().count());
        n += PER_MESSAGE + text_tokens(d.name.len() + desc + schema);
    }
    n.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_the_prompt() {
        let small: MessagesRequest = serde_json::from_value(serde_json::json!({
            "model": "m", "messages": [{"role": "user", "content": "hi"}]
        }))
        .unwrap();
        let big: MessagesRequest = serde_json::from_value(serde_json::json!({
            "model": "m", "system": "You are terse.",
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "x".repeat(4000)},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
            ]}],
            "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}]
        }))
        .unwrap();
        let (s, b) = (estimate_input_tokens(&small), estimate_input_tokens(&big));
        assert!((1..10).contains(&s), "{s}");
        assert!(b > 1000 + IMAGE_TOKENS, "{b}");
    }
}
