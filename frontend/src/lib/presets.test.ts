import { describe, expect, it } from 'vitest';
import {
  checkProviderForm,
  formFromPreset,
  formFromProvider,
  keyRefOf,
  presetById,
  presetFor,
  PRESETS,
  providerSpecOf,
  suggestName,
} from './presets';
import type { ProviderInfo } from '../api/types';

describe('presets', () => {
  it('cover the providers the product names', () => {
    const ids = PRESETS.map((p) => p.id);
    for (const id of ['openai', 'anthropic', 'groq', 'deepseek', 'openrouter', 'together', 'mistral', 'ollama', 'lm-studio', 'vllm', 'custom']) {
      expect(ids).toContain(id);
    }
    for (const p of PRESETS) if (p.id !== 'custom' && p.id !== 'vertex' && p.kind !== 'bedrock') expect(p.base_url).toMatch(/^https?:\/\/.+\/v1(beta)?$/);
  });

  it('Bedrock preset → region and credential references, no api_key', () => {
    const f = formFromPreset(presetById('bedrock')!);
    expect(checkProviderForm(f, [])).toEqual([]);
    expect(providerSpecOf(f)).toEqual({
      name: 'bedrock', kind: 'bedrock', base_url: 'https://bedrock-runtime.us-east-1.amazonaws.com', api_key: null,
      region: 'us-east-1', access_key_id: 'keyring:aws-access-key-id', secret_access_key: 'keyring:aws-secret-access-key', session_token: '',
    });
    const bad = { ...f, aws: { ...f.aws!, region: 'US East' } };
    expect(checkProviderForm(bad, []).map((i) => i.field)).toEqual(['aws']);
    const half = { ...f, aws: { ...f.aws!, secret: '' } };
    expect(checkProviderForm(half, []).map((i) => i.field)).toEqual(['aws']);
    const token = { ...f, aws: { ...f.aws!, session: 'aws-token' } };
    expect(providerSpecOf(token).session_token).toBe('keyring:aws-token');
  });

  it('Gemini preset → kind gemini, its key hint, and no base URL needed', () => {
    const p = presetById('gemini')!;
    expect(p.kind).toBe('gemini');
    expect(p.hint).toContain('aistudio.google.com');
    const f = formFromPreset(p);
    expect(checkProviderForm(f, [])).toEqual([]);
    expect(providerSpecOf(f)).toEqual({ name: 'gemini', kind: 'gemini', base_url: 'https://generativelanguage.googleapis.com/v1beta', api_key: 'keyring:gemini' });
    // An empty base URL is fine for gemini (its default), not for the others.
    const empty = { ...f, base_url: '' };
    expect(checkProviderForm(empty, [])).toEqual([]);
    expect(providerSpecOf(empty).base_url).toBe('https://generativelanguage.googleapis.com/v1beta');
    expect(checkProviderForm({ ...empty, kind: 'openai' }, []).map((i) => i.field)).toEqual(['base_url']);
    expect(presetFor('https://generativelanguage.googleapis.com/v1beta/', 'gemini').id).toBe('gemini');
    const info = { name: 'g', kind: 'gemini', base_url: 'https://generativelanguage.googleapis.com/v1beta', api_key_ref: 'keyring:g' } as unknown as ProviderInfo;
    expect(formFromProvider(info).kind).toBe('gemini');
  });

  it('OpenAI preset → keychain reference and the right kind', () => {
    const p = presetById('openai')!;
    const f = { ...formFromPreset(p), secret: 'sk-123' };
    expect(checkProviderForm(f, [])).toEqual([]);
    expect(providerSpecOf(f)).toEqual({ name: 'openai', kind: 'openai', base_url: 'https://api.openai.com/v1', api_key: 'keyring:openai' });
  });

  it('Anthropic preset keeps its kind', () => {
    expect(providerSpecOf(formFromPreset(presetById('anthropic')!)).kind).toBe('anthropic');
  });

  it('local presets are keyless', () => {
    const spec = providerSpecOf(formFromPreset(presetById('ollama')!));
    expect(spec).toEqual({ name: 'ollama', kind: 'openai', base_url: 'http://127.0.0.1:11434/v1', api_key: null });
  });

  it('picks a free name and matching key name', () => {
    expect(suggestName('openai', ['openai', 'openai-2'])).toBe('openai-3');
    expect(suggestName('My Server!', [])).toBe('my-server');
    const f = formFromPreset(presetById('groq')!, ['groq']);
    expect(f.name).toBe('groq-2');
    expect(f.key_ref).toBe('groq-2');
  });

  it('maps optional limits and models, trimming the URL', () => {
    const f = { ...formFromPreset(presetById('custom')!), name: 'mine', base_url: ' http://10.0.0.5:8000/v1/ ', timeout_s: '30', rpm: '60', tpm: '', models: 'a, b  c' };
    expect(providerSpecOf(f)).toEqual({ name: 'mine', kind: 'openai', base_url: 'http://10.0.0.5:8000/v1', api_key: null, timeout_s: 30, rpm: 60, models: ['a', 'b', 'c'] });
  });

  it('explains what is wrong with a form', () => {
    const f = { ...formFromPreset(presetById('custom')!), name: 'Bad Name', base_url: 'ftp://x', rpm: '-1', key_mode: 'env' as const, key_ref: '1X' };
    const fields = checkProviderForm(f, []).map((i) => i.field);
    expect(fields).toEqual(expect.arrayContaining(['name', 'base_url', 'rpm', 'key_ref']));
    expect(checkProviderForm({ ...formFromPreset(presetById('openai')!) }, ['openai'])[0].message).toMatch(/exists already/);
    expect(checkProviderForm({ ...formFromPreset(presetById('openai')!), name: 'openai' }, ['openai'], 'openai')).toEqual([]);
  });

  it('round-trips a configured provider into the form', () => {
    const info: ProviderInfo = {
      name: 'backup', kind: 'openai', base_url: 'https://api.groq.com/openai/v1', api_key_ref: 'env:GROQ_KEY', key: 'present', key_error: null,
      enabled: true, key_rotation: 'round_robin', keys: [], timeout_s: 20, rpm: 0, tpm: 1000, targets: [],
    };
    const f = formFromProvider(info);
    expect(f).toMatchObject({ key_mode: 'env', key_ref: 'GROQ_KEY', timeout_s: '20', rpm: '', tpm: '1000' });
    expect(providerSpecOf(f, f)).toEqual({ name: 'backup', kind: 'openai', base_url: 'https://api.groq.com/openai/v1', api_key: 'env:GROQ_KEY' });
    // an edit sends what changed; a cleared field goes back to its default
    expect(providerSpecOf({ ...f, tpm: '', rpm: '5', key_mode: 'none' }, f)).toEqual({ name: 'backup', kind: 'openai', base_url: 'https://api.groq.com/openai/v1', api_key: null, rpm: 5, tpm: 0 });
    // api_key = "client": the client's own credential, no reference to edit
    const sub = formFromProvider({ ...info, kind: 'anthropic', api_key_ref: 'client', key: 'none' });
    expect(sub).toMatchObject({ key_mode: 'client', key_ref: '' });
    expect(keyRefOf(sub)).toBe('client');
    expect(checkProviderForm(sub, [])).toEqual([]);
    expect(providerSpecOf({ ...f, key_mode: 'client', key_ref: '' }, f)).toMatchObject({ api_key: 'client' });
    expect(presetFor(info.base_url).id).toBe('groq');
    expect(presetFor('http://example.com/v1').id).toBe('custom');
  });

  it('Vertex preset: the keychain entry is the service account, project and region go along', () => {
    const p = presetById('vertex')!;
    expect(p.kind).toBe('vertex');
    const f = formFromPreset(p);
    expect(f.region).toBe('us-central1');
    expect(checkProviderForm(f, []).map((i) => i.field)).toEqual(['project']);
    const ok = { ...f, project: 'my-project', secret: '{"type":"service_account"}' };
    expect(checkProviderForm(ok, [])).toEqual([]);
    expect(providerSpecOf(ok)).toEqual({ name: 'vertex', kind: 'vertex', base_url: '', api_key: null, service_account: 'keyring:vertex-sa', project: 'my-project', region: 'us-central1' });
    expect(checkProviderForm({ ...ok, key_mode: 'none' }, []).map((i) => i.field)).toEqual(['key_mode']);
    expect(checkProviderForm({ ...ok, region: 'US Central' }, []).map((i) => i.field)).toEqual(['region']);
    expect(presetFor('', 'vertex').id).toBe('vertex');
  });
});
