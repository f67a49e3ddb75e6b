// A small TOML tokenizer for the raw editor's highlighting: it splits the text
// into tokens whose concatenation is exactly the input (so the highlighted
// <pre> lines up with the <textarea> over it). It colours; it does not
// validate — the gateway does that (POST /config/diff).
export type TokenKind = 'comment' | 'table' | 'key' | 'string' | 'number' | 'bool' | 'date' | 'punct' | 'text';
export interface Token {
  kind: TokenKind;
  text: string;
}

const DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?/;
const NUMBER = /^[+-]?(?:0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+|inf|nan|(?:\d[\d_]*)(?:\.\d[\d_]*)?(?:[eE][+-]?\d[\d_]*)?)(?![\w-])/;
const BARE_KEY = /^[A-Za-z0-9_-]+/;

/** Tokens of `src`; `tokens.map(t => t.text).join('') === src` always holds. */
export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  const push = (kind: TokenKind, text: string) => {
    if (!text) return;
    const last = out[out.length - 1];
    if (last && last.kind === kind && (kind === 'text' || kind === 'punct')) last.text += text;
    else out.push({ kind, text });
  };
  let i = 0;
  // true at the start of a line (or after only whitespace): keys and tables live here
  let lineStart = true;
  // inside a table header `[...]` or an inline table `{...}` we also expect keys
  let inlineDepth = 0;
  let expectKey = true;
  while (i < src.length) {
    const rest = src.slice(i);
    const c = src[i];
    if (c === '\n') {
      push('text', c);
      i++;
      lineStart = true;
      if (inlineDepth === 0) expectKey = true;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      push('text', c);
      i++;
      continue;
    }
    if (c === '#') {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      push('comment', src.slice(i, stop));
      i = stop;
      continue;
    }
    if (lineStart && c === '[') {
      const end = src.indexOf('\n', i);
      const line = src.slice(i, end < 0 ? src.length : end);
      const close = line.lastIndexOf(']');
      const hdr = close >= 0 ? line.slice(0, close + 1) : line;
      push('table', hdr);
      i += hdr.length;
      lineStart = false;
      continue;
    }
    lineStart = false;
    if (c === '"' || c === "'") {
      const s = readString(src, i);
      push(expectKey ? 'key' : 'string', s);
      i += s.length;
      continue;
    }
    if (c === '=') {
      push('punct', c);
      i++;
      expectKey = false;
      continue;
    }
    if (c === '{') {
      inlineDepth++;
      expectKey = true;
      push('punct', c);
      i++;
      continue;
    }
    if (c === '}') {
      inlineDepth = Math.max(0, inlineDepth - 1);
      expectKey = false;
      push('punct', c);
      i++;
      continue;
    }
    if (c === ',') {
      if (inlineDepth > 0) expectKey = true;
      push('punct', c);
      i++;
      continue;
    }
    if (c === '[' || c === ']' || c === '.') {
      push('punct', c);
      i++;
      continue;
    }
    if (expectKey) {
      const m = BARE_KEY.exec(rest);
      if (m) {
        push('key', m[0]);
        i += m[0].length;
        continue;
      }
    } else {
      const d = DATE.exec(rest);
      if (d) {
        push('date', d[0]);
        i += d[0].length;
        continue;
      }
      const n = NUMBER.exec(rest);
      if (n && n[0]) {
        push('number', n[0]);
        i += n[0].length;
        continue;
      }
      const b = /^(?:true|false)(?![\w-])/.exec(rest);
      if (b) {
        push('bool', b[0]);
        i += b[0].length;
        continue;
      }
    }
    push('text', c);
    i++;
  }
  return out;
}

/** The string literal starting at `i` (basic, literal, or multi-line), up to its end or the input's. */
function readString(src: string, i: number): string {
  const q = src[i];
  const triple = src.startsWith(q.repeat(3), i);
  if (triple) {
    const end = src.indexOf(q.repeat(3), i + 3);
    if (end < 0) return src.slice(i);
    let stop = end + 3;
    while (src[stop] === q && stop < end + 5) stop++; // up to two quotes may close the content
    return src.slice(i, stop);
  }
  let j = i + 1;
  while (j < src.length && src[j] !== '\n') {
    if (q === '"' && src[j] === '\\') {
      j += 2;
      continue;
    }
    if (src[j] === q) return src.slice(i, j + 1);
    j++;
  }
  return src.slice(i, j);
}
