// Azure OpenAI provider settings in the provider form: `api_version` and
// the `deployments` map (model → deployment), written as
// "gpt-4o=prod-gpt4o, text-embedding-3-small=emb".
import { t } from '../i18n';

/** Most entries one `deployments` map may hold (the server's bound). */
export const MAX_DEPLOYMENTS = 256;

const VERSION_RE = /^(v1|preview|\d{4}-\d{2}-\d{2}(-preview)?)$/;
const DEPLOYMENT_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** The map a "model=deployment, …" text stands for; `null` when an entry is malformed. */
export function parseDeployments(text: string): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const entry of text.split(/[\s,]+/).filter(Boolean)) {
    const at = entry.indexOf('=');
    if (at <= 0) return null;
    const model = entry.slice(0, at);
    const dep = entry.slice(at + 1);
    if (!DEPLOYMENT_RE.test(dep)) return null;
    out[model] = dep;
  }
  return out;
}

/** A deployments map as the form writes it. */
export function formatDeployments(map: Record<string, string> | null | undefined): string {
  return Object.entries(map ?? {})
    .map(([m, d]) => `${m}=${d}`)
    .join(', ');
}

/** What is wrong with the form's Azure fields, per field. */
export function checkAzure(apiVersion: string, deployments: string): { api_version?: string; deployments?: string } {
  const out: { api_version?: string; deployments?: string } = {};
  if (apiVersion.trim() && !VERSION_RE.test(apiVersion.trim())) out.api_version = t('azure.err_api_version');
  const map = parseDeployments(deployments);
  if (map === null) out.deployments = t('azure.err_deployments');
  else if (Object.keys(map).length > MAX_DEPLOYMENTS) out.deployments = t('azure.err_too_many', { max: MAX_DEPLOYMENTS });
  return out;
}
