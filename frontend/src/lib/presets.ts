// Provider presets: kind + base URL + a suggested key name, so adding a
// provider is a pick and (maybe) a pasted key.
import type { ProviderInfo, ProviderSpec } from '../api/types';
import { t } from '../i18n';
import { checkAzure, formatDeployments, parseDeployments } from './azure';

/** The provider kinds the form offers. */
export type FormKind = 'openai' | 'anthropic' | 'gemini' | 'vertex' | 'bedrock' | 'azure';

/** `kind = "gemini"`'s default `base_url` (the server's `GEMINI_BASE_URL`). */
export const GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com/v1beta';

export interface Preset {
  id: string;
  readonly label: string;
  kind: FormKind;
  base_url: string;
  /** Suggested keychain entry name; `null` = keyless (local servers). */
  key_name: string | null;
  local: boolean;
  /** A model to suggest in routes and snippets. */
  example_model: string;
  /** Where the key comes from, in the UI's language (a getter: read at render time). */
  readonly hint: string;
}

export const PRESETS: Preset[] = [
  { id: 'openai', label: 'OpenAI', kind: 'openai', base_url: 'https://api.openai.com/v1', key_name: 'openai', local: false, example_model: 'gpt-4o-mini', get hint() { return t('presets.key_at', { where: 'platform.openai.com → API keys' }); } },
  { id: 'anthropic', label: 'Anthropic', kind: 'anthropic', base_url: 'https://api.anthropic.com/v1', key_name: 'anthropic', local: false, example_model: 'claude-3-5-haiku-latest', get hint() { return t('presets.key_at', { where: 'console.anthropic.com → API keys' }); } },
  { id: 'azure', label: 'Azure OpenAI', kind: 'azure', base_url: 'https://RESOURCE.openai.azure.com/openai/v1', key_name: 'azure', local: false, example_model: 'gpt-4o', get hint() { return t('presets.hint_azure'); } },
  { id: 'gemini', label: 'Google Gemini', kind: 'gemini', base_url: GEMINI_BASE_URL, key_name: 'gemini', local: false, example_model: 'gemini-2.5-flash', get hint() { return t('presets.key_at', { where: 'aistudio.google.com → Get API key' }); } },
  { id: 'groq', label: 'Groq', kind: 'openai', base_url: 'https://api.groq.com/openai/v1', key_name: 'groq', local: false, example_model: 'llama-3.1-8b-instant', get hint() { return t('presets.key_at', { where: 'console.groq.com → API keys' }); } },
  { id: 'deepseek', label: 'DeepSeek', kind: 'openai', base_url: 'https://api.deepseek.com/v1', key_name: 'deepseek', local: false, example_model: 'deepseek-chat', get hint() { return t('presets.key_at', { where: 'platform.deepseek.com → API keys' }); } },
  { id: 'openrouter', label: 'OpenRouter', kind: 'openai', base_url: 'https://openrouter.ai/api/v1', key_name: 'openrouter', local: false, example_model: 'openai/gpt-4o-mini', get hint() { return t('presets.key_at', { where: 'openrouter.ai → Keys' }); } },
  { id: 'together', label: 'Together', kind: 'openai', base_url: 'https://api.together.xyz/v1', key_name: 'together', local: false, example_model: 'meta-llama/Llama-3.3-70B-Instruct-Turbo', get hint() { return t('presets.key_at', { where: 'api.together.ai → Settings → API keys' }); } },
  { id: 'mistral', label: 'Mistral', kind: 'openai', base_url: 'https://api.mistral.ai/v1', key_name: 'mistral', local: false, example_model: 'mistral-small-latest', get hint() { return t('presets.key_at', { where: 'console.mistral.ai → API keys' }); } },
  { id: 'bedrock', label: 'AWS Bedrock', kind: 'bedrock', base_url: 'https://bedrock-runtime.us-east-1.amazonaws.com', key_name: null, local: false, example_model: 'us.anthropic.claude-sonnet-4-20250514-v1:0', get hint() { return t('presets.hint_bedrock'); } },
  { id: 'ollama', label: 'Ollama', kind: 'openai', base_url: 'http://127.0.0.1:11434/v1', key_name: null, local: true, example_model: 'llama3.1:8b', get hint() { return t('presets.hint_ollama'); } },
  { id: 'lm-studio', label: 'LM Studio', kind: 'openai', base_url: 'http://127.0.0.1:1234/v1', key_name: null, local: true, example_model: 'local-model', get hint() { return t('presets.hint_lm_studio'); } },
  { id: 'vllm', label: 'vLLM', kind: 'openai', base_url: 'http://127.0.0.1:8000/v1', key_name: null, local: true, example_model: 'meta-llama/Llama-3.1-8B-Instruct', get hint() { return t('presets.hint_vllm'); } },
  // Vertex AI: no base URL to pick (the gateway derives it from the region); the key is the service account's JSON.
  { id: 'vertex', label: 'Google Vertex AI', kind: 'vertex', base_url: '', key_name: 'vertex-sa', local: false, example_model: 'gemini-2.5-flash', get hint() { return t('presets.hint_vertex'); } },
  { id: 'custom', get label() { return t('presets.custom_label'); }, kind: 'openai', base_url: '', key_name: null, local: false, example_model: '', get hint() { return t('presets.hint_custom'); } },
];

export function presetById(id: string): Preset | undefined {
  return PRESETS.find((p) => p.id === id);
}

/** Guesses the preset a configured provider came from (by base URL host and port). */
export function presetFor(base_url: string, kind?: string): Preset {
  if (kind === 'vertex') return PRESETS.find((p) => p.id === 'vertex') as Preset;
  const norm = (u: string) => u.replace(/\/+$/, '').toLowerCase();
  const exact = PRESETS.find((p) => p.base_url && norm(p.base_url) === norm(base_url) && (!kind || p.kind === kind));
  return exact ?? (PRESETS.find((p) => p.id === 'custom') as Preset);
}

/** `client`: no stored key, the client's own credential is forwarded (`api_key = "client"`, subscriptions). */
export type KeyMode = 'keyring' | 'env' | 'none' | 'client';

/** What the provider form holds. */
export interface ProviderForm {
  name: string;
  kind: FormKind;
  base_url: string;
  key_mode: KeyMode;
  /** keychain entry name or env variable, per `key_mode`. */
  key_ref: string;
  /** A new secret to store (never shown again); empty = keep the stored one. */
  secret: string;
  timeout_s: string;
  rpm: string;
  tpm: string;
  models: string;
  /** `kind = "vertex"`: project id and region (empty on edit = keep what the config has). */
  project: string;
  region: string;
  /** kind azure: `api_version` (empty: the v1 API). */
  api_version: string;
  /** kind azure: "model=deployment, …". */
  deployments: string;
  /** kind bedrock: the region and the keychain entries of the AWS credentials (`session` may be empty). */
  aws?: AwsForm;
}

/** The Bedrock part of the provider form: keychain entry names, never values. */
export interface AwsForm {
  region: string;
  key_id: string;
  secret: string;
  session: string;
}

export const REGION_RE = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** The Bedrock Runtime endpoint of `region`. */
export function bedrockUrl(region: string): string {
  return `https://bedrock-runtime.${region}.amazonaws.com`;
}

export const NAME_RE = /^[a-z0-9_-]+$/;

/** A provider name from a label: lowercase, `[a-z0-9_-]`, unique among `taken`. */
export function suggestName(base: string, taken: string[]): string {
  const slug = base.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'provider';
  if (!taken.includes(slug)) return slug;
  for (let i = 2; ; i++) {
    const n = `${slug}-${i}`;
    if (!taken.includes(n)) return n;
  }
}

/** The form for a new provider from a preset. */
export function formFromPreset(p: Preset, taken: string[] = []): ProviderForm {
  const name = suggestName(p.id === 'custom' ? 'custom' : p.id, taken);
  return {
    name,
    kind: p.kind,
    base_url: p.base_url,
    key_mode: p.key_name ? 'keyring' : 'none',
    key_ref: p.key_name ? (name === p.id ? p.key_name : name) : '',
    secret: '',
    timeout_s: '',
    rpm: '',
    tpm: '',
    models: '',
    project: '',
    region: p.kind === 'vertex' ? 'us-central1' : '',
    ...(p.kind === 'bedrock' ? { key_mode: 'none' as const, key_ref: '', aws: { region: 'us-east-1', key_id: 'aws-access-key-id', secret: 'aws-secret-access-key', session: '' } } : {}),
    api_version: '',
    deployments: '',
  };
}

/** The form for editing a configured provider. */
export function formFromProvider(p: ProviderInfo): ProviderForm {
  const ref = p.api_key_ref ?? '';
  const [mode, rest] = ref.startsWith('keyring:')
    ? (['keyring', ref.slice(8)] as const)
    : ref.startsWith('env:')
      ? (['env', ref.slice(4)] as const)
      : ref === 'client'
        ? (['client', ''] as const)
        : (['none', ''] as const);
  return {
    name: p.name,
    kind: p.kind === 'anthropic' || p.kind === 'gemini' || p.kind === 'vertex' || p.kind === 'bedrock' || p.kind === 'azure' ? p.kind : 'openai',
    base_url: p.base_url,
    key_mode: mode,
    key_ref: rest,
    secret: '',
    timeout_s: p.timeout_s && p.timeout_s !== 60 ? String(p.timeout_s) : '',
    rpm: p.rpm ? String(p.rpm) : '',
    tpm: p.tpm ? String(p.tpm) : '',
    models: (p.models ?? []).join(', '),
    project: '',
    region: '',
    // Edits leave the region and credentials as the config has them unless filled in.
    ...(p.kind === 'bedrock' ? { aws: { region: '', key_id: '', secret: '', session: '' } } : {}),
    api_version: p.api_version ?? '',
    deployments: formatDeployments(p.deployments),
  };
}

export interface FormIssue {
  field: keyof ProviderForm;
  message: string;
}

function intField(v: string): number | undefined | null {
  if (!v.trim()) return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : null;
}

/** Checks a provider form locally (the server validates again on draft). */
export function checkProviderForm(f: ProviderForm, taken: string[], editing?: string): FormIssue[] {
  const out: FormIssue[] = [];
  if (!f.name) out.push({ field: 'name', message: t('presets.err_name_missing') });
  else if (!NAME_RE.test(f.name)) out.push({ field: 'name', message: t('presets.err_name_chars') });
  else if (f.name !== editing && taken.includes(f.name)) out.push({ field: 'name', message: t('presets.err_name_taken', { name: f.name }) });
  const vertex = f.kind === 'vertex';
  if (vertex) {
    // Required when adding; on edit an empty field keeps the configured value.
    if ((!editing || f.project.trim()) && !/^[a-z0-9][a-z0-9.:-]*$/.test(f.project.trim())) out.push({ field: 'project', message: t('presets.err_project') });
    if ((!editing || f.region.trim()) && !/^[a-z0-9-]+$/.test(f.region.trim())) out.push({ field: 'region', message: t('presets.err_region') });
    if (f.key_mode !== 'keyring' && f.key_mode !== 'env') out.push({ field: 'key_mode', message: t('presets.err_vertex_key') });
  }
  if (!f.base_url.trim()) {
    // kind gemini has a default base URL (used when the field is left empty); vertex derives one.
    if (!vertex && f.kind !== 'gemini') out.push({ field: 'base_url', message: t('presets.err_url_missing') });
  } else if (!/^https?:\/\/[^\s/]+/i.test(f.base_url.trim())) out.push({ field: 'base_url', message: t('presets.err_url_scheme') });
  if (f.key_mode === 'keyring' && !NAME_RE.test(f.key_ref)) out.push({ field: 'key_ref', message: t('presets.err_key_chars') });
  if (f.key_mode === 'env' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(f.key_ref)) out.push({ field: 'key_ref', message: t('presets.err_env_name') });
  for (const k of ['timeout_s', 'rpm', 'tpm'] as const) {
    if (intField(f[k]) === null) out.push({ field: k, message: t('presets.err_whole_number') });
  }
  if (intField(f.timeout_s) === 0) out.push({ field: 'timeout_s', message: t('presets.err_timeout_min') });
  if (f.kind === 'bedrock' && f.aws) {
    const { region, key_id, secret, session } = f.aws;
    if (region && !REGION_RE.test(region)) out.push({ field: 'aws', message: t('presets.err_aws_region') });
    else if (!key_id !== !secret || [key_id, secret, session].some((n) => n && !NAME_RE.test(n))) out.push({ field: 'aws', message: t('presets.err_key_chars') });
  }
  if (f.kind === 'azure') {
    const az = checkAzure(f.api_version, f.deployments);
    if (az.api_version) out.push({ field: 'api_version', message: az.api_version });
    if (az.deployments) out.push({ field: 'deployments', message: az.deployments });
  }
  return out;
}

/** The `api_key` reference the form stands for. */
export function keyRefOf(f: ProviderForm): string | null {
  if (f.key_mode === 'keyring') return `keyring:${f.key_ref}`;
  if (f.key_mode === 'env') return `env:${f.key_ref}`;
  if (f.key_mode === 'client') return 'client';
  return null;
}

/**
 * The `upsert_provider` payload for a (checked) form. The server merges it
 * into the provider's table, so optional fields are sent only when set (new
 * provider) or changed against `original` (edit); a cleared field goes back
 * to its default.
 */
export function providerSpecOf(f: ProviderForm, original?: ProviderForm): ProviderSpec {
  const spec: ProviderSpec = {
    name: f.name.trim(),
    kind: f.kind,
    base_url: f.base_url.trim().replace(/\/+$/, '') || (f.kind === 'gemini' ? GEMINI_BASE_URL : ''),
    api_key: keyRefOf(f),
  };
  if (f.kind === 'vertex') {
    // The service account is Vertex's key; project and region when given.
    spec.api_key = null;
    const sa = keyRefOf(f);
    if (sa) spec.service_account = sa;
    if (f.project.trim()) spec.project = f.project.trim();
    if (f.region.trim()) spec.region = f.region.trim();
  }
  const ints = [
    ['timeout_s', 60],
    ['rpm', 0],
    ['tpm', 0],
  ] as const;
  for (const [k, dflt] of ints) {
    const v = intField(f[k]);
    if (original) {
      if (f[k].trim() !== original[k].trim()) spec[k] = typeof v === 'number' ? v : dflt;
    } else if (typeof v === 'number') {
      spec[k] = v;
    }
  }
  if (f.kind === 'bedrock' && f.aws) {
    // A new provider, or an edit that filled the credentials in (an edit
    // leaving them empty keeps what the config has).
    spec.api_key = null;
    if (f.aws.region) spec.region = f.aws.region;
    if (f.aws.key_id && f.aws.secret) {
      spec.access_key_id = `keyring:${f.aws.key_id}`;
      spec.secret_access_key = `keyring:${f.aws.secret}`;
      spec.session_token = f.aws.session ? `keyring:${f.aws.session}` : '';
    }
  }
  const models = f.models.split(/[\s,]+/).map((m) => m.trim()).filter(Boolean);
  if (original ? f.models.trim() !== original.models.trim() : models.length) spec.models = models;
  if (f.kind === 'azure') {
    const version = f.api_version.trim();
    if (original ? version !== original.api_version.trim() : version) spec.api_version = version;
    const deployments = parseDeployments(f.deployments) ?? {};
    if (original ? f.deployments.trim() !== original.deployments.trim() : Object.keys(deployments).length) spec.deployments = deployments;
  }
  return spec;
}
