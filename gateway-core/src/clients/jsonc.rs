//! Edits of JSON and JSONC files (comments, trailing commas) that keep
//! every byte we do not own: the text is parsed into the concrete syntax
//! tree of dprint's `jsonc-parser` crate (feature `cst`), members are
//! set, added or removed on that tree, and it is printed back — key
//! order, layout, comments and trailing commas as they were. New members
//! follow the file's own indentation and newline style (the crate works
//! them out). Only JSON plus comments and trailing commas is accepted
//! (no JSON5 extras such as single quotes or bare keys), the top level
//! must be an object, and nesting is capped by the crate (512 levels).
//! (serde_json would reorder keys without its `preserve_order` feature
//! and drops comments either way.)

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstNode, CstObject, CstObjectProp, CstRootNode};

/// A value to write, rendered in the file's indentation.
#[derive(Debug, Clone)]
pub enum J {
    Str(String),
    /// Members in this order.
    Obj(Vec<(String, J)>),
}

impl J {
    pub fn str(s: impl Into<String>) -> J {
        J::Str(s.into())
    }

    fn input(&self) -> CstInputValue {
        match self {
            J::Str(s) => CstInputValue::String(s.clone()),
            J::Obj(members) => CstInputValue::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.input()))
                    .collect(),
            ),
        }
    }
}

/// `s` as a JSON string literal.
/// Our members out of `doc` (a connected tool's file): each `touched`
/// path (`a.b`: at most two levels) back to its value in `original`, or
/// gone; `container` goes too when `original` had none and it is empty now.
pub fn restore(
    mut doc: Doc,
    original: Option<&str>,
    touched: &[String],
    container: &str,
) -> Result<String, String> {
    let orig = original.and_then(|o| Doc::parse(o).ok());
    for key in touched {
        let p: Vec<&str> = key.splitn(2, '.').collect();
        match orig.as_ref().and_then(|o| o.get_raw(&p)) {
            Some(raw) => doc.set_raw(&p, &raw)?,
            None => {
                doc.remove(&p)?;
            }
        }
    }
    let had = orig
        .as_ref()
        .is_some_and(|o| o.is_object(&[container]).is_some());
    if !had && doc.is_object(&[container]) == Some(true) && doc.len(&[container]) == 0 {
        doc.remove(&[container])?;
    }
    Ok(doc.into_text())
}

pub fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

const BOM: char = '\u{feff}';

/// JSON with comments and trailing commas; nothing of JSON5.
fn options() -> ParseOptions {
    ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

/// A JSON(C) document whose root is an object.
#[derive(Debug)]
pub struct Doc {
    root: CstRootNode,
    /// The object at the top (kept here: the tree holds only weak links
    /// upwards, `root` must live as long as any node of it is used).
    obj: CstObject,
    /// A UTF-8 byte order mark before the text (the crate does not take
    /// one), put back on output.
    bom: bool,
}

impl Doc {
    pub fn parse(text: &str) -> Result<Doc, String> {
        let (bom, body) = match text.strip_prefix(BOM) {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let root = CstRootNode::parse(body, &options()).map_err(|e| e.to_string())?;
        let obj = root
            .value()
            .and_then(|v| v.as_object())
            .ok_or("the top level is not a JSON object")?;
        Ok(Doc { root, obj, bom })
    }

    fn to_text(&self) -> String {
        let body = self.root.to_string();
        if self.bom {
            format!("{BOM}{body}")
        } else {
            body
        }
    }

    #[cfg(test)]
    pub fn text(&self) -> String {
        self.to_text()
    }

    pub fn into_text(self) -> String {
        self.to_text()
    }

    /// The member at `path` (the last one of a repeated key, as JSON
    /// readers take it).
    fn find(&self, path: &[&str]) -> Option<CstObjectProp> {
        let (last, parents) = path.split_last()?;
        member(&self.object(parents)?, last)
    }

    /// The object at `path` (the root for an empty path).
    fn object(&self, path: &[&str]) -> Option<CstObject> {
        let mut obj = self.obj.clone();
        for seg in path {
            obj = member(&obj, seg)?.value()?.as_object()?;
        }
        Some(obj)
    }

    /// The raw text of the value at `path`.
    pub fn get_raw(&self, path: &[&str]) -> Option<String> {
        Some(self.find(path)?.value()?.to_string())
    }

    /// The string at `path`, if it is one.
    pub fn get_str(&self, path: &[&str]) -> Option<String> {
        self.find(path)?
            .value()?
            .as_string_lit()?
            .decoded_value()
            .ok()
    }

    /// Whether `path` holds an object (`Some(true)`), something else
    /// (`Some(false)`) or nothing.
    pub fn is_object(&self, path: &[&str]) -> Option<bool> {
        if path.is_empty() {
            return Some(true);
        }
        Some(self.find(path)?.value()?.as_object().is_some())
    }

    /// Members of the object at `path` (0 when it is not one).
    pub fn len(&self, path: &[&str]) -> usize {
        self.object(path).map_or(0, |o| o.properties().len())
    }

    pub fn set(&mut self, path: &[&str], value: &J) -> Result<(), String> {
        self.put(path, value.input()).map(|_| ())
    }

    /// Sets the value at `path` to `raw` (JSON text, such as
    /// [`get_raw`](Self::get_raw) gives), creating the objects on the
    /// way. Strings and numbers keep their exact spelling.
    pub fn set_raw(&mut self, path: &[&str], raw: &str) -> Result<(), String> {
        // a value alone is not a document: wrap it in one
        let src = CstRootNode::parse(&format!("{{\"v\": {raw}\n}}"), &options())
            .map_err(|e| format!("not a JSON value: {e}"))?;
        let v = src
            .object_value()
            .map(|o| o.properties())
            .filter(|p| p.len() == 1)
            .and_then(|p| p.first()?.value())
            .ok_or("not one JSON value")?;
        let prop = self.put(path, input(&v)?)?;
        if let Some(new) = prop.value() {
            respell(&v, &new);
        }
        Ok(())
    }

    /// Sets `path` to `value`: in place when the member is there, else
    /// appended to its object, the missing objects on the way with it.
    fn put(&mut self, path: &[&str], value: CstInputValue) -> Result<CstObjectProp, String> {
        let (last, parents) = path.split_last().ok_or("empty path")?;
        let mut obj = self.obj.clone();
        for (i, seg) in parents.iter().enumerate() {
            let Some(m) = member(&obj, seg) else {
                // the rest as one nested value
                let nested = path[i + 1..].iter().rev().fold(value, |v, k| {
                    CstInputValue::Object(vec![(k.to_string(), v)])
                });
                let mut prop = obj.append(seg, nested);
                for k in &path[i + 1..] {
                    prop = prop
                        .object_value()
                        .and_then(|o| member(&o, k))
                        .ok_or("the inserted value is not where it was put")?;
                }
                return Ok(prop);
            };
            obj = m
                .value()
                .and_then(|v| v.as_object())
                .ok_or_else(|| format!("{} is not an object", parents[..=i].join(".")))?;
        }
        Ok(match member(&obj, last) {
            Some(m) => {
                m.set_value(value);
                m
            }
            None => obj.append(last, value),
        })
    }

    /// Removes the member at `path`; false when there was none.
    pub fn remove(&mut self, path: &[&str]) -> Result<bool, String> {
        if path.is_empty() {
            return Err("empty path".into());
        }
        match self.find(path) {
            Some(m) => {
                m.remove();
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

fn member(obj: &CstObject, name: &str) -> Option<CstObjectProp> {
    obj.properties()
        .into_iter()
        .rev()
        .find(|p| p.name().and_then(|n| n.decoded_value().ok()).as_deref() == Some(name))
}

/// The value of a parsed node, to insert elsewhere.
fn input(v: &CstNode) -> Result<CstInputValue, String> {
    if let Some(o) = v.as_object() {
        let mut members = Vec::new();
        for p in o.properties() {
            let name = p
                .name()
                .and_then(|n| n.decoded_value().ok())
                .ok_or("a member without a name")?;
            let value = p.value().ok_or("a member without a value")?;
            members.push((name, input(&value)?));
        }
        return Ok(CstInputValue::Object(members));
    }
    if let Some(a) = v.as_array() {
        return a
            .elements()
            .iter()
            .map(input)
            .collect::<Result<_, _>>()
            .map(CstInputValue::Array);
    }
    if let Some(s) = v.as_string_lit() {
        return s
            .decoded_value()
            .map(CstInputValue::String)
            .map_err(|e| format!("{e:?}"));
    }
    if let Some(n) = v.as_number_lit() {
        return Ok(CstInputValue::Number(n.to_string()));
    }
    if let Some(b) = v.as_boolean_lit() {
        return Ok(CstInputValue::Bool(b.value()));
    }
    if v.as_null_keyword().is_some() {
        return Ok(CstInputValue::Null);
    }
    Err(format!("unexpected {}", v))
}

/// Gives the strings of `new` (built from `src` by [`input`]) the exact
/// spelling they had in `src` (escapes such as `\u00e9`).
fn respell(src: &CstNode, new: &CstNode) {
    if let (Some(a), Some(b)) = (src.as_string_lit(), new.as_string_lit()) {
        b.set_raw_value(a.raw_value());
    } else if let (Some(a), Some(b)) = (src.as_object(), new.as_object()) {
        for (pa, pb) in a.properties().iter().zip(b.properties().iter()) {
            if let (Some(sa), Some(sb)) = (
                pa.name().and_then(|n| n.as_string_lit()),
                pb.name().and_then(|n| n.as_string_lit()),
            ) {
                sb.set_raw_value(sa.raw_value());
            }
            if let (Some(va), Some(vb)) = (pa.value(), pb.value()) {
                respell(&va, &vb);
            }
        }
    } else if let (Some(a), Some(b)) = (src.as_array(), new.as_array()) {
        for (ea, eb) in a.elements().iter().zip(b.elements().iter()) {
            respell(ea, eb);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn set_keeps_everything_else_and_appends_in_the_files_style() {
        let src = "{\n    // mine\n    \"b\": 1,\n    \"a\": [1, 2] /* keep */\n}\n";
        let mut d = Doc::parse(src).unwrap();
        d.set(&["env", "X"], &J::str("y")).unwrap();
        let want = "{\n    // mine\n    \"b\": 1,\n    \"a\": [1, 2], /* keep */\n    \"env\": {\n        \"X\": \"y\"\n    }\n}\n";
        assert_eq!(d.text(), want);
        d.set(&["env", "Z"], &J::str("w")).unwrap();
        assert!(
            d.text()
                .contains("\"X\": \"y\",\n        \"Z\": \"w\"\n    }"),
            "{}",
            d.text()
        );
        assert!(d.remove(&["env", "Z"]).unwrap());
        assert_eq!(d.text(), want);
        assert!(d.remove(&["env"]).unwrap());
        assert_eq!(
            d.text(),
            "{\n    // mine\n    \"b\": 1,\n    \"a\": [1, 2] /* keep */\n}\n"
        );
    }

    #[test]
    fn trailing_commas_one_line_objects_and_empty_roots() {
        let mut d = Doc::parse("{\n  \"a\": 1,\n}").unwrap();
        d.set(&["b"], &J::str("x")).unwrap();
        assert_eq!(d.text(), "{\n  \"a\": 1,\n  \"b\": \"x\",\n}");
        assert!(d.remove(&["b"]).unwrap());
        assert_eq!(d.text(), "{\n  \"a\": 1,\n}");
        // a one-line object that gets a member is spread over lines (the
        // crate's way); what was in it stays
        let mut d = Doc::parse("{\"a\": 1}").unwrap();
        d.set(&["b"], &J::str("x")).unwrap();
        assert_eq!(d.text(), "{\n  \"a\": 1,\n  \"b\": \"x\"\n}");
        assert!(d.remove(&["b"]).unwrap());
        assert_eq!(d.text(), "{\n  \"a\": 1\n}");
        // replacing a value in one does not
        let mut d = Doc::parse("{\"a\": 1, \"b\": \"x\"}").unwrap();
        d.set(&["b"], &J::str("y")).unwrap();
        assert_eq!(d.text(), "{\"a\": 1, \"b\": \"y\"}");
        let mut d = Doc::parse("{}\n").unwrap();
        d.set(&["env", "K"], &J::str("v")).unwrap();
        assert_eq!(d.text(), "{\n  \"env\": {\n    \"K\": \"v\"\n  }\n}\n");
        // replacing keeps the place
        d.set(&["env", "K"], &J::str("w")).unwrap();
        assert_eq!(d.get_str(&["env", "K"]).as_deref(), Some("w"));
        // first member removed: its comma goes with it
        let mut d = Doc::parse("{\n  \"a\": 1,\n  \"b\": 2\n}").unwrap();
        d.remove(&["a"]).unwrap();
        assert_eq!(d.text(), "{\n  \"b\": 2\n}");
        d.remove(&["b"]).unwrap();
        assert_eq!(d.text(), "{}");
    }

    #[test]
    fn bad_documents_are_refused() {
        for bad in [
            "",
            "[]",
            "\"x\"",
            "{",
            "{\"a\" 1}",
            "{\"a\": tru}",
            "{} x",
            "{/* x",
            // JSON5, not JSONC
            "{'a': 1}",
            "{a: 1}",
            "{\"a\": 0x10}",
            "{\"a\": +1}",
            "{\"a\": .5}",
            "{\"a\": NaN}",
            "{\"a\": 1 \"b\": 2}",
        ] {
            assert!(Doc::parse(bad).is_err(), "{bad}");
        }
        let err = Doc::parse("{\n  \"a\": 1,\n  \"b\" 2\n}").unwrap_err();
        assert!(err.contains("line 3"), "{err}");
        assert!(Doc::parse("[1]").unwrap_err().contains("not a JSON object"));
        // a // inside a string is text, not a comment
        let d = Doc::parse("{\"a\": \"//x\" // c\n}").unwrap();
        assert_eq!(d.get_str(&["a"]).as_deref(), Some("//x"));
        // nesting is capped (the crate's limit: 512), no stack overflow
        let deep = "{\"a\":".repeat(600) + "1" + &"}".repeat(600);
        assert!(Doc::parse(&deep).is_err());
        let deep = "{\"a\":".repeat(100) + "1" + &"}".repeat(100);
        assert!(Doc::parse(&deep).is_ok());
    }

    #[test]
    fn line_comments_after_and_below_the_last_member_stay_comments() {
        let src = "{\n  \"a\": 1 // about a\n  // the end\n}\n";
        let mut d = Doc::parse(src).unwrap();
        d.set(&["b"], &J::str("x")).unwrap();
        let text = d.text();
        // still valid, b is really there (not swallowed by a comment)
        let again = Doc::parse(&text).unwrap();
        assert_eq!(again.get_str(&["b"]).as_deref(), Some("x"), "{text}");
        assert!(
            text.contains("// about a") && text.contains("// the end"),
            "{text}"
        );
        assert!(d.remove(&["b"]).unwrap());
        assert_eq!(d.text(), src);
        // one-line Claude settings: the key goes in, the file stays JSON
        let mut d = Doc::parse("{\"env\": {\"ANTHROPIC_API_KEY\": \"sk-ant-mine\"}}\n").unwrap();
        d.set(
            &["env", "ANTHROPIC_BASE_URL"],
            &J::str("http://127.0.0.1:4000"),
        )
        .unwrap();
        let text = d.text();
        assert!(
            serde_json::from_str::<serde_json::Value>(&text).is_ok(),
            "{text}"
        );
        assert_eq!(
            Doc::parse(&text)
                .unwrap()
                .get_str(&["env", "ANTHROPIC_API_KEY"])
                .as_deref(),
            Some("sk-ant-mine")
        );
    }

    #[test]
    fn crlf_tabs_and_a_byte_order_mark_are_the_files_style() {
        let mut d = Doc::parse("\u{feff}{\r\n\t\"a\": 1\r\n}\r\n").unwrap();
        d.set(&["env", "K"], &J::str("v")).unwrap();
        assert_eq!(
            d.text(),
            "\u{feff}{\r\n\t\"a\": 1,\r\n\t\"env\": {\r\n\t\t\"K\": \"v\"\r\n\t}\r\n}\r\n"
        );
        assert!(d.remove(&["env"]).unwrap());
        assert_eq!(d.into_text(), "\u{feff}{\r\n\t\"a\": 1\r\n}\r\n");
    }

    #[test]
    fn raw_values_come_back_as_they_were_spelled() {
        let orig = Doc::parse(
            "{\"k\": \"caf\\u00e9\", \"n\": 1.50, \"o\": {\"x\": [true, null, \"\\/\"]}}",
        )
        .unwrap();
        let mut d = Doc::parse("{\n  \"k\": \"ours\"\n}\n").unwrap();
        for key in ["k", "n", "o"] {
            let raw = orig.get_raw(&[key]).unwrap();
            d.set_raw(&[key], &raw).unwrap();
        }
        assert_eq!(
            d.text(),
            "{\n  \"k\": \"caf\\u00e9\",\n  \"n\": 1.50,\n  \"o\": {\n    \"x\": [true, null, \"\\/\"]\n  }\n}\n"
        );
        assert_eq!(d.get_str(&["k"]).as_deref(), Some("caf\u{e9}"));
        assert!(d.set_raw(&["k"], "nope").is_err());
        assert!(d.set_raw(&["k"], "1} {").is_err());
        assert!(d.set_raw(&["k"], "1, \"x\": 2").is_err());
        // a repeated key: the last one counts, as for JSON readers
        let d = Doc::parse("{\"a\": \"1\", \"a\": \"2\"}").unwrap();
        assert_eq!(d.get_str(&["a"]).as_deref(), Some("2"));
        // a path through a non-object is refused, nothing changes
        let mut d = Doc::parse("{\"env\": \"x\"}").unwrap();
        assert!(d.set(&["env", "K"], &J::str("v")).is_err());
        assert_eq!(d.text(), "{\"env\": \"x\"}");
        assert_eq!(d.is_object(&["env"]), Some(false));
        assert_eq!(d.len(&["env"]), 0);
        assert!(!d.remove(&["env", "K"]).unwrap());
    }
}
