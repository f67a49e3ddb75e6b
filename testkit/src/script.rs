//! [`Script`]: answers chosen by what the request asks, for probe suites
//! (the gateway's verification runs) that send several fixed prompts and
//! check the answers and the reported token counts.

use serde_json::Value;

use crate::behavior::Reply;

/// A scripted model for [`crate::Behavior::Scripted`]: the first rule whose
/// `contains` occurs in the request's text (system and message contents,
/// joined) gives the reply; no match answers `"I don't know."`.
///
/// Usage reported on non-streamed answers: `prompt_tokens` = the request
/// text's characters / `chars_per_token`, rounded up (a stand-in tokenizer:
/// two fakes with different values look like different models), and
/// `completion_tokens` = the rule's, or the [`Reply`]'s default. Streamed
/// answers report the standard usage (prompt_tokens 10).
#[derive(Clone, Debug, PartialEq)]
pub struct Script {
    pub rules: Vec<ScriptRule>,
    pub chars_per_token: u32,
}

/// One rule of a [`Script`].
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptRule {
    pub contains: String,
    pub reply: Reply,
    pub completion_tokens: Option<u64>,
}

impl Script {
    /// No rules yet; prompt tokens counted at `chars_per_token` (at least 1).
    pub fn new(chars_per_token: u32) -> Script {
        Script {
            rules: Vec::new(),
            chars_per_token: chars_per_token.max(1),
        }
    }

    /// Adds a rule: a request whose text contains `contains` gets `reply`.
    pub fn on(mut self, contains: &str, reply: Reply) -> Script {
        self.rules.push(ScriptRule {
            contains: contains.to_owned(),
            reply,
            completion_tokens: None,
        });
        self
    }

    /// Like [`Script::on`], reporting `completion_tokens` output tokens.
    pub fn on_with_tokens(
        mut self,
        contains: &str,
        reply: Reply,
        completion_tokens: u64,
    ) -> Script {
        self.rules.push(ScriptRule {
            contains: contains.to_owned(),
            reply,
            completion_tokens: Some(completion_tokens),
        });
        self
    }

    /// The reply, prompt tokens and completion tokens for a request body
    /// (chat completions or Anthropic messages).
    pub(crate) fn answer(&self, req: &Value) -> (Reply, u64, u64) {
        let text = request_text(req);
        let prompt = (text.chars().count() as u64).div_ceil(u64::from(self.chars_per_token.max(1)));
        match self.rules.iter().find(|r| text.contains(&r.contains)) {
            Some(r) => {
                let out = r
                    .completion_tokens
                    .unwrap_or_else(|| r.reply.output_tokens());
                (r.reply.clone(), prompt.max(1), out)
            }
            None => {
                let r = Reply::text("I don't know.");
                let out = r.output_tokens();
                (r, prompt.max(1), out)
            }
        }
    }
}

/// A scripted model for the gateway's verification probe suite (`aigw
/// verify`, suite v1). `honest`: every probe answered right, prompt tokens
/// at 4 characters a token. Otherwise a "smaller substitute": 3 characters a
/// token, wrong arithmetic and reversal, the system prompt ignored.
pub fn probe_model(honest: bool) -> Script {
    let weather = Reply::default().tool_call(
        "call_1",
        "get_weather",
        &serde_json::json!({"city": "Paris"}),
    );
    let (cpt, product, reversed, pirate) = if honest {
        (4, "7006652", "x7-yawetag", "Ahoy there, ARR!")
    } else {
        (3, "7006662", "x7-yawateg", "Hello there!")
    };
    Script::new(cpt)
        .on("1234 * 5678", Reply::text(product))
        .on("gateway-7x", Reply::text(reversed))
        .on(
            "JSON object only",
            Reply::text("{\"city\": \"Paris\", \"country\": \"France\"}"),
        )
        .on("get_weather tool", weather)
        .on("Lighthouses were once", Reply::text("OK"))
        .on_with_tokens(
            "long story about a lighthouse keeper",
            Reply::text("Once upon a"),
            5,
        )
        .on("the word ARR", Reply::text(pirate))
        .on("Count from 1 to 5", Reply::text("1 2 3 4 5"))
}

/// System prompt and every message's text, joined by newlines.
fn request_text(req: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(s) = req.get("system") {
        content_text(s, &mut parts);
    }
    for m in req
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(c) = m.get("content") {
            content_text(c, &mut parts);
        }
    }
    parts.join("\n")
}

/// A string, or an array of blocks with `text`.
fn content_text(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(blocks) => out.extend(
            blocks
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .map(str::to_owned),
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn first_matching_rule_and_counted_prompt() {
        let s = Script::new(4)
            .on("reverse", Reply::text("olleh"))
            .on_with_tokens("story", Reply::text("Once"), 5);
        let req = json!({"messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "reverse hello"}]}
        ]});
        let (r, p, o) = s.answer(&req);
        assert_eq!(r.text.as_deref(), Some("olleh"));
        // "be brief\nreverse hello" = 22 chars → 6 tokens at 4 chars/token
        assert_eq!((p, o), (6, 3));
        let (r, _, o) = s.answer(&json!({"messages": [{"role": "user", "content": "a story"}]}));
        assert_eq!((r.text.as_deref(), o), (Some("Once"), 5));
        let (r, _, _) = s.answer(&json!({"messages": []}));
        assert_eq!(r.text.as_deref(), Some("I don't know."));
    }
}
