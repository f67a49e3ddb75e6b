import { describe, expect, it } from 'vitest';
import { tokenize, type TokenKind } from './toml';

const kinds = (src: string) => tokenize(src).filter((t) => t.kind !== 'text' && t.kind !== 'punct').map((t) => [t.kind, t.text] as [TokenKind, string]);

describe('TOML tokenizer', () => {
  it('gives back exactly the input, whatever it is', () => {
    const samples = [
      '',
      '[server]\nlisten = "127.0.0.1:4000" # local\n',
      '[[routes]]\nmodel = "gpt-*"\ntargets = [{ provider = "openai", weight = 2 }]\n',
      'a = """multi\nline "" still\n"""\nb = \'\'\'raw\\n\'\'\'\n',
      'broken = "no end\nx = [1, 2,\n',
      '= = [[ ]] "" \'\' \\ {',
    ];
    for (const s of samples) expect(tokenize(s).map((t) => t.text).join('')).toBe(s);
  });

  it('tables, keys, strings, numbers, booleans, dates, comments', () => {
    const src = [
      '# the gateway',
      '[server]',
      'listen = "127.0.0.1:4000"',
      'timeout_s = 30',
      'ratio = -1.5e3',
      'on = true',
      'since = 2026-01-02T03:04:05Z',
      "path = 'C:\\dir'",
      '[[routes]]',
      '"quoted key" = 0x1F',
    ].join('\n');
    expect(kinds(src)).toEqual([
      ['comment', '# the gateway'],
      ['table', '[server]'],
      ['key', 'listen'],
      ['string', '"127.0.0.1:4000"'],
      ['key', 'timeout_s'],
      ['number', '30'],
      ['key', 'ratio'],
      ['number', '-1.5e3'],
      ['key', 'on'],
      ['bool', 'true'],
      ['key', 'since'],
      ['date', '2026-01-02T03:04:05Z'],
      ['key', 'path'],
      ['string', "'C:\\dir'"],
      ['table', '[[routes]]'],
      ['key', '"quoted key"'],
      ['number', '0x1F'],
    ]);
  });

  it('keys inside inline tables, values in arrays, escaped quotes', () => {
    expect(kinds('t = [{ provider = "a\\"b", weight = 2 }, 3]\n# c')).toEqual([
      ['key', 't'],
      ['key', 'provider'],
      ['string', '"a\\"b"'],
      ['key', 'weight'],
      ['number', '2'],
      ['number', '3'],
      ['comment', '# c'],
    ]);
  });

  it('a multi-line string spans lines and hides what looks like TOML in it', () => {
    expect(kinds('s = """\n[not_a_table]\nx = 1\n"""\ny = 2')).toEqual([
      ['key', 's'],
      ['string', '"""\n[not_a_table]\nx = 1\n"""'],
      ['key', 'y'],
      ['number', '2'],
    ]);
  });
});
