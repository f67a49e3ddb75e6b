// The provider form's Vertex AI fields: project and region (the service
// account's JSON key is the form's key, stored in the keychain).
import type { ProviderForm } from '../lib/presets';
import { t } from '../i18n';
import { Field } from './ui';

export function VertexFields({
  form,
  set,
  err,
  editing,
}: {
  form: ProviderForm;
  set: (patch: Partial<ProviderForm>) => void;
  err: (f: keyof ProviderForm) => string | undefined;
  editing: boolean;
}) {
  const keep = editing ? t('providers.vertex_keep_hint') : undefined;
  return (
    <>
      <Field label={t('providers.vertex_project')} htmlFor="pf-project" hint={keep} error={err('project')}>
        <input id="pf-project" value={form.project} onChange={(e) => set({ project: e.target.value })} placeholder="my-project" spellCheck={false} data-testid="pf-project" />
      </Field>
      <Field label={t('providers.vertex_region')} htmlFor="pf-region" hint={keep ?? t('providers.vertex_region_hint')} error={err('region')}>
        <input id="pf-region" value={form.region} onChange={(e) => set({ region: e.target.value })} placeholder="us-central1" spellCheck={false} data-testid="pf-region" />
      </Field>
    </>
  );
}
