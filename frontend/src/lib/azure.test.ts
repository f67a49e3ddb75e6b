import { describe, expect, it } from 'vitest';
import { checkAzure, formatDeployments, parseDeployments } from './azure';
import { checkProviderForm, formFromPreset, formFromProvider, presetById, providerSpecOf } from './presets';
import type { ProviderInfo } from '../api/types';

describe('Azure OpenAI provider fields', () => {
  it('reads and writes the deployments map', () => {
    expect(parseDeployments('gpt-4o=prod-gpt4o, text-embedding-3-small=emb')).toEqual({ 'gpt-4o': 'prod-gpt4o', 'text-embedding-3-small': 'emb' });
    expect(parseDeployments('')).toEqual({});
    expect(parseDeployments('gpt-4o')).toBeNull();
    expect(parseDeployments('=x')).toBeNull();
    expect(parseDeployments('m=a/b')).toBeNull();
    expect(formatDeployments({ a: 'b', c: 'd' })).toBe('a=b, c=d');
    expect(formatDeployments(undefined)).toBe('');
  });

  it('checks the API version and the deployments', () => {
    expect(checkAzure('', '')).toEqual({});
    for (const ok of ['v1', 'preview', '2024-10-21', '2025-04-01-preview']) expect(checkAzure(ok, '')).toEqual({});
    expect(checkAzure('latest', '').api_version).toBeTruthy();
    expect(checkAzure('', 'gpt-4o').deployments).toBeTruthy();
    const many = Array.from({ length: 257 }, (_, i) => `m${i}=d${i}`).join(',');
    expect(checkAzure('', many).deployments).toBeTruthy();
  });

  it('the preset makes a kind = "azure" provider with its api_version and deployments', () => {
    const p = presetById('azure')!;
    expect(p.kind).toBe('azure');
    const f = { ...formFromPreset(p), base_url: 'https://res.openai.azure.com', api_version: '2024-10-21', deployments: 'gpt-4o=prod-gpt4o' };
    expect(checkProviderForm(f, [])).toEqual([]);
    expect(providerSpecOf(f)).toEqual({
      name: 'azure',
      kind: 'azure',
      base_url: 'https://res.openai.azure.com',
      api_key: 'keyring:azure',
      api_version: '2024-10-21',
      deployments: { 'gpt-4o': 'prod-gpt4o' },
    });
    expect(checkProviderForm({ ...f, deployments: 'nope' }, []).map((i) => i.field)).toEqual(['deployments']);
    // Other kinds never send the Azure fields.
    expect(providerSpecOf({ ...f, kind: 'openai' })).not.toHaveProperty('deployments');
  });

  it('editing keeps what was configured and clears what was emptied', () => {
    const info = {
      name: 'az', kind: 'azure', base_url: 'https://res.openai.azure.com', api_key_ref: 'keyring:az',
      timeout_s: 60, rpm: 0, tpm: 0, api_version: '2024-10-21', deployments: { 'gpt-4o': 'prod-gpt4o' },
    } as unknown as ProviderInfo;
    const f = formFromProvider(info);
    expect(f.kind).toBe('azure');
    expect(f.deployments).toBe('gpt-4o=prod-gpt4o');
    expect(providerSpecOf(f, f)).not.toHaveProperty('api_version');
    const cleared = providerSpecOf({ ...f, api_version: '', deployments: '' }, f);
    expect(cleared.api_version).toBe('');
    expect(cleared.deployments).toEqual({});
  });
});
