// The Azure OpenAI fields of the provider form (kind = "azure").
import { Field } from './ui';
import { t } from '../i18n';

export function AzureFields({
  apiVersion,
  deployments,
  errors,
  onChange,
}: {
  apiVersion: string;
  deployments: string;
  errors: { api_version?: string; deployments?: string };
  onChange: (patch: { api_version?: string; deployments?: string }) => void;
}) {
  return (
    <>
      <Field label={t('azure.api_version')} htmlFor="pf-azure-version" hint={t('azure.api_version_hint')} error={errors.api_version}>
        <input id="pf-azure-version" value={apiVersion} onChange={(e) => onChange({ api_version: e.target.value })} placeholder="v1" spellCheck={false} data-testid="pf-azure-version" />
      </Field>
      <Field label={t('azure.deployments')} htmlFor="pf-azure-deployments" hint={t('azure.deployments_hint')} error={errors.deployments}>
        <input id="pf-azure-deployments" value={deployments} onChange={(e) => onChange({ deployments: e.target.value })} placeholder="gpt-4o=prod-gpt4o" spellCheck={false} data-testid="pf-azure-deployments" />
      </Field>
    </>
  );
}
