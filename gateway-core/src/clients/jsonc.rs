//! Text-preserving edits of JSON and JSONC (comments, trailing commas):
//! a small parser finds the byte spans of members; an edit splices new
//! text in or cuts a member out, so every byte we do not own stays as it
//! was — key order, layout, comments. (serde_json would reorder keys
//! without its `preserve_order` feature and drops comments either way.)

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

    /// Multi-line for non-empty objects, `unit` per level, `nl` newlines.
    fn render(&self, unit: &str, nl: &str) -> String {
        match self {
            J::Str(s) => quote(s),
            J::Obj(members) if members.is_empty() => "{}".into(),
            J::Obj(members) => {
                let mut out = String::from("{");
                for (i, (k, v)) in members.iter().enumerate() {
                    out.push_str(if i == 0 { "" } else { "," });
                    out.push_str(nl);
                    out.push_str(unit);
                    out.push_str(&quote(k));
                    out.push_str(": ");
                    out.push_str(&indent_lines(&v.render(unit, nl), unit, nl));
                }
                out.push_str(nl);
                out.push('}');
                out
            }
        }
    }
}

pub fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn indent_lines(text: &str, indent: &str, nl: &str) -> String {
    text.replace(nl, &format!("{nl}{indent}"))
}

#[derive(Debug)]
enum Node {
    Object(Object),
    Other,
}

#[derive(Debug)]
struct Object {
    /// The `{`.
    start: usize,
    /// Just past the `}`.
    end: usize,
    members: Vec<Member>,
}

#[derive(Debug)]
struct Member {
    key: String,
    key_start: usize,
    value_start: usize,
    value_end: usize,
    value: Node,
}

/// A JSON(C) document whose root is an object.
#[derive(Debug, Clone)]
pub struct Doc {
    text: String,
}

const MAX_DEPTH: usize = 64;

impl Doc {
    pub fn parse(text: &str) -> Result<Doc, String> {
        let d = Doc { text: text.into() };
        d.root()?;
        Ok(d)
    }

    #[cfg(test)]
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn into_text(self) -> String {
        self.text
    }

    fn root(&self) -> Result<Object, String> {
        Parser::new(&self.text).document()
    }

    fn nl(&self) -> &'static str {
        if self.text.contains("\r\n") {
            "\r\n"
        } else {
            "\n"
        }
    }

    /// The indentation unit: the first indented member line's.
    fn unit(&self) -> String {
        for line in self.text.lines() {
            let ws: String = line
                .chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect();
            if !ws.is_empty() && line[ws.len()..].starts_with('"') {
                return ws;
            }
        }
        "  ".into()
    }

    /// The raw text of the value at `path`.
    pub fn get_raw(&self, path: &[&str]) -> Option<String> {
        let root = self.root().ok()?;
        let m = find(&root, path)?;
        Some(self.text[m.value_start..m.value_end].to_string())
    }

    /// The string at `path`, if it is one.
    pub fn get_str(&self, path: &[&str]) -> Option<String> {
        serde_json::from_str(&self.get_raw(path)?).ok()
    }

    /// Whether `path` holds an object (`Some(true)`), something else
    /// (`Some(false)`) or nothing.
    pub fn is_object(&self, path: &[&str]) -> Option<bool> {
        let root = self.root().ok()?;
        if path.is_empty() {
            return Some(true);
        }
        find(&root, path).map(|m| matches!(m.value, Node::Object(_)))
    }

    /// Members of the object at `path` (0 when it is not one).
    pub fn len(&self, path: &[&str]) -> usize {
        let Ok(root) = self.root() else { return 0 };
        let obj = if path.is_empty() {
            Some(&root)
        } else {
            match find(&root, path).map(|m| &m.value) {
                Some(Node::Object(o)) => Some(o),
                _ => None,
            }
        };
        obj.map_or(0, |o| o.members.len())
    }

    pub fn set(&mut self, path: &[&str], value: &J) -> Result<(), String> {
        let raw = value.render(&self.unit(), self.nl());
        self.set_raw(path, &raw)
    }

    /// Sets the value at `path` to `raw` (JSON text), creating the objects
    /// on the way.
    pub fn set_raw(&mut self, path: &[&str], raw: &str) -> Result<(), String> {
        let (last, parents) = path.split_last().ok_or("empty path")?;
        let root = self.root()?;
        let mut obj = &root;
        for (i, seg) in parents.iter().enumerate() {
            match obj.members.iter().rev().find(|m| m.key == *seg) {
                Some(m) => match &m.value {
                    Node::Object(o) => obj = o,
                    Node::Other => {
                        return Err(format!("{} is not an object", parents[..=i].join(".")));
                    }
                },
                None => {
                    // build the rest as one nested value
                    let raw_rest = nest(&path[i + 1..], raw, &self.unit(), self.nl());
                    let text = self.insert_member(obj, seg, &raw_rest);
                    Parser::new(&text).document()?;
                    self.text = text;
                    return Ok(());
                }
            }
        }
        let text = match obj.members.iter().rev().find(|m| m.key == *last) {
            Some(m) => {
                let indent = line_indent(&self.text, m.key_start);
                let mut t = self.text.clone();
                t.replace_range(
                    m.value_start..m.value_end,
                    &indent_lines(raw, &indent, self.nl()),
                );
                t
            }
            None => self.insert_member(obj, last, raw),
        };
        Parser::new(&text).document()?;
        self.text = text;
        Ok(())
    }

    /// The text with `key: raw` added at the end of `obj`.
    fn insert_member(&self, obj: &Object, key: &str, raw: &str) -> String {
        let nl = self.nl();
        let unit = self.unit();
        let t = &self.text;
        let mut out = t.clone();
        let Some(last) = obj.members.last() else {
            let obj_indent = line_indent(t, obj.start);
            let mi = format!("{obj_indent}{unit}");
            let mut ins = format!("{nl}{mi}{}: {}", quote(key), indent_lines(raw, &mi, nl));
            let inner = &t[obj.start + 1..obj.end - 1];
            if !inner.contains('\n') {
                ins.push_str(nl);
                ins.push_str(&obj_indent);
                // what was between the braces (spaces) goes
                out.replace_range(obj.start + 1..obj.end - 1, &ins);
            } else {
                out.insert_str(obj.start + 1, &ins);
            }
            return out;
        };
        let single_line = !t[obj.start..obj.end].contains('\n');
        let pos = last.value_end;
        let after = skip_blank(t, pos);
        if single_line {
            let compact = raw.replace(nl, " ");
            if t.as_bytes().get(after) == Some(&b',') {
                out.insert_str(after + 1, &format!(" {}: {compact},", quote(key)));
            } else {
                out.insert_str(pos, &format!(", {}: {compact}", quote(key)));
            }
            return out;
        }
        let mi = if line_starts_with_key(t, last.key_start) {
            line_indent(t, last.key_start)
        } else {
            format!("{}{unit}", line_indent(t, obj.start))
        };
        let member = format!("{}: {}", quote(key), indent_lines(raw, &mi, nl));
        if t.as_bytes().get(after) == Some(&b',') {
            // a trailing comma: keep the style
            let eol = end_of_line_if_only_comment(t, after + 1).unwrap_or(after + 1);
            out.insert_str(eol, &format!("{nl}{mi}{member},"));
        } else {
            match end_of_line_if_only_comment(t, pos) {
                Some(eol) => {
                    out.insert_str(eol, &format!("{nl}{mi}{member}"));
                    out.insert(pos, ',');
                }
                None => out.insert_str(pos, &format!(", {member}")),
            }
        }
        out
    }

    /// Removes the member at `path`; false when there was none.
    pub fn remove(&mut self, path: &[&str]) -> Result<bool, String> {
        let (last, parents) = path.split_last().ok_or("empty path")?;
        let root = self.root()?;
        let obj = if parents.is_empty() {
            &root
        } else {
            match find(&root, parents).map(|m| &m.value) {
                Some(Node::Object(o)) => o,
                _ => return Ok(false),
            }
        };
        let Some(i) = obj.members.iter().rposition(|m| m.key == *last) else {
            return Ok(false);
        };
        let t = &self.text;
        let m = &obj.members[i];
        let mut cuts: Vec<(usize, usize)> = Vec::new();
        let mut end = m.value_end;
        let after = skip_blank(t, end);
        let own_comma = t.as_bytes().get(after) == Some(&b',');
        if own_comma {
            end = after + 1;
        } else if i > 0 {
            // the last member: the comma before it goes instead
            let prev = &obj.members[i - 1];
            if let Some(c) = comma_after(t, prev.value_end) {
                cuts.push((c, c + 1));
            }
        }
        let line_start = t[..m.key_start].rfind('\n').map_or(0, |p| p + 1);
        let whole_line = t[line_start..m.key_start].trim().is_empty();
        let rest_blank = {
            let e = skip_spaces(t, end);
            matches!(t.as_bytes().get(e), Some(b'\n' | b'\r') | None)
        };
        let mut start = m.key_start;
        if whole_line && rest_blank {
            start = line_start;
            end = skip_spaces(t, end);
            if t[end..].starts_with("\r\n") {
                end += 2;
            } else if t[end..].starts_with('\n') {
                end += 1;
            }
        } else {
            end = skip_spaces(t, end);
            if !own_comma && i > 0 {
                // `, "k": v }` on one line: also the space before
                start = t[..start].trim_end_matches([' ', '\t']).len();
            }
        }
        cuts.push((start, end));
        cuts.sort_by_key(|c| std::cmp::Reverse(c.0));
        let mut out = t.clone();
        for (s, e) in cuts {
            out.replace_range(s..e, "");
        }
        Parser::new(&out).document()?;
        self.text = out;
        Ok(true)
    }
}

/// `{"rest0": {"rest1": raw}}` (or `raw` when `rest` is empty).
fn nest(rest: &[&str], raw: &str, unit: &str, nl: &str) -> String {
    match rest.split_first() {
        None => raw.to_string(),
        Some((k, tail)) => {
            let inner = nest(tail, raw, unit, nl);
            format!(
                "{{{nl}{unit}{}: {}{nl}}}",
                quote(k),
                indent_lines(&inner, unit, nl)
            )
        }
    }
}

fn find<'a>(root: &'a Object, path: &[&str]) -> Option<&'a Member> {
    let (first, rest) = path.split_first()?;
    let m = root.members.iter().rev().find(|m| m.key == *first)?;
    if rest.is_empty() {
        return Some(m);
    }
    match &m.value {
        Node::Object(o) => find(o, rest),
        Node::Other => None,
    }
}

fn line_indent(t: &str, pos: usize) -> String {
    let start = t[..pos].rfind('\n').map_or(0, |p| p + 1);
    t[start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

fn line_starts_with_key(t: &str, key_start: usize) -> bool {
    let start = t[..key_start].rfind('\n').map_or(0, |p| p + 1);
    t[start..key_start].trim().is_empty()
}

fn skip_spaces(t: &str, mut pos: usize) -> usize {
    let b = t.as_bytes();
    while matches!(b.get(pos), Some(b' ' | b'\t')) {
        pos += 1;
    }
    pos
}

/// Past spaces, newlines and comments.
fn skip_blank(t: &str, pos: usize) -> usize {
    let mut p = Parser::new(t);
    p.pos = pos;
    let _ = p.ws();
    p.pos
}

fn comma_after(t: &str, pos: usize) -> Option<usize> {
    let p = skip_blank(t, pos);
    (t.as_bytes().get(p) == Some(&b',')).then_some(p)
}

/// Where the line ends (before `\r\n`/`\n`) when only spaces and a `//`
/// comment follow `pos` on it.
fn end_of_line_if_only_comment(t: &str, pos: usize) -> Option<usize> {
    let p = skip_spaces(t, pos);
    let rest = &t[p..];
    let eol = rest.find('\n').map_or(t.len(), |i| p + i);
    let eol = if eol > 0 && t.as_bytes().get(eol - 1) == Some(&b'\r') {
        eol - 1
    } else {
        eol
    };
    let between = &t[p..eol];
    let block = between.starts_with("/*")
        && between.ends_with("*/")
        && between.len() >= 4
        && !between[2..between.len() - 2].contains("*/");
    (between.is_empty() || between.starts_with("//") || block).then_some(eol)
}

struct Parser<'a> {
    t: &'a str,
    b: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(t: &'a str) -> Self {
        Self {
            t,
            b: t.as_bytes(),
            pos: 0,
            depth: 0,
        }
    }

    fn err(&self, what: &str) -> String {
        let line = self.t[..self.pos.min(self.t.len())].matches('\n').count() + 1;
        format!("line {line}: {what}")
    }

    fn ws(&mut self) -> Result<(), String> {
        loop {
            match self.b.get(self.pos) {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') if self.b.get(self.pos + 1) == Some(&b'/') => {
                    while !matches!(self.b.get(self.pos), Some(b'\n') | None) {
                        self.pos += 1;
                    }
                }
                Some(b'/') if self.b.get(self.pos + 1) == Some(&b'*') => {
                    let close = self.t[self.pos + 2..]
                        .find("*/")
                        .ok_or_else(|| self.err("unterminated /* comment"))?;
                    self.pos += 2 + close + 2;
                }
                // a UTF-8 byte order mark at the start
                Some(0xEF) if self.pos == 0 && self.t.starts_with('\u{feff}') => self.pos += 3,
                _ => return Ok(()),
            }
        }
    }

    fn document(&mut self) -> Result<Object, String> {
        self.ws()?;
        if self.b.get(self.pos) != Some(&b'{') {
            return Err(self.err("the top level is not a JSON object"));
        }
        let root = self.object()?;
        self.ws()?;
        if self.pos != self.b.len() {
            return Err(self.err("text after the top-level object"));
        }
        Ok(root)
    }

    fn value(&mut self) -> Result<Node, String> {
        match self.b.get(self.pos) {
            Some(b'{') => self.object().map(Node::Object),
            Some(b'[') => self.array().map(|()| Node::Other),
            Some(b'"') => self.string().map(|_| Node::Other),
            Some(_) => self.literal().map(|()| Node::Other),
            None => Err(self.err("unexpected end")),
        }
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Object, String> {
        self.enter()?;
        let start = self.pos;
        self.pos += 1;
        let mut members = Vec::new();
        loop {
            self.ws()?;
            match self.b.get(self.pos) {
                Some(b'}') => break,
                Some(b'"') => {}
                _ => return Err(self.err("expected a \"key\" or }")),
            }
            let key_start = self.pos;
            let key = self.string()?;
            self.ws()?;
            if self.b.get(self.pos) != Some(&b':') {
                return Err(self.err("expected :"));
            }
            self.pos += 1;
            self.ws()?;
            let value_start = self.pos;
            let value = self.value()?;
            let value_end = self.pos;
            members.push(Member {
                key,
                key_start,
                value_start,
                value_end,
                value,
            });
            self.ws()?;
            match self.b.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => break,
                _ => return Err(self.err("expected , or }")),
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(Object {
            start,
            end: self.pos,
            members,
        })
    }

    fn array(&mut self) -> Result<(), String> {
        self.enter()?;
        self.pos += 1;
        loop {
            self.ws()?;
            if self.b.get(self.pos) == Some(&b']') {
                break;
            }
            self.value()?;
            self.ws()?;
            match self.b.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => break,
                _ => return Err(self.err("expected , or ]")),
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(())
    }

    fn string(&mut self) -> Result<String, String> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.b.get(self.pos) {
                Some(b'"') => break,
                Some(b'\\') => self.pos += 2,
                Some(_) => self.pos += 1,
                None => return Err(self.err("unterminated string")),
            }
        }
        self.pos += 1;
        serde_json::from_str(&self.t[start..self.pos]).map_err(|e| self.err(&format!("{e}")))
    }

    fn literal(&mut self) -> Result<(), String> {
        let start = self.pos;
        while matches!(self.b.get(self.pos), Some(c) if c.is_ascii_alphanumeric() || b"+-.".contains(c))
        {
            self.pos += 1;
        }
        let lit = &self.t[start..self.pos];
        if matches!(lit, "true" | "false" | "null")
            || serde_json::from_str::<serde_json::Number>(lit).is_ok()
        {
            Ok(())
        } else {
            Err(self.err(&format!("unexpected {lit:?}")))
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
        let mut d = Doc::parse("{\"a\": 1}").unwrap();
        d.set(&["b"], &J::str("x")).unwrap();
        assert_eq!(d.text(), "{\"a\": 1, \"b\": \"x\"}");
        assert!(d.remove(&["b"]).unwrap());
        assert_eq!(d.text(), "{\"a\": 1}");
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
        assert_eq!(d.text(), "{\n}");
    }

    #[test]
    fn bad_documents_are_refused() {
        for bad in ["[]", "{", "{\"a\" 1}", "{\"a\": tru}", "{} x", "{/* x"] {
            assert!(Doc::parse(bad).is_err(), "{bad}");
        }
        // a // inside a string is text, not a comment
        let d = Doc::parse("{\"a\": \"//x\" // c\n}").unwrap();
        assert_eq!(d.get_str(&["a"]).as_deref(), Some("//x"));
        let deep = "{\"a\":".repeat(100) + "1" + &"}".repeat(100);
        assert!(Doc::parse(&deep).is_err());
    }
}
