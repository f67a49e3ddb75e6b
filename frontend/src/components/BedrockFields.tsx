// The Bedrock part of the provider form: the region (which also sets the
// default base URL) and the keychain entries of the AWS credentials. Only
// entry names are asked for here; the secrets go in with `aigw keys set`.
import type { AwsForm } from '../lib/presets';
import { bedrockUrl } from '../lib/presets';
import { t } from '../i18n';
import { Field } from './ui';

export function BedrockFields({ aws, baseUrl, error, onChange }: {
  aws: AwsForm;
  baseUrl: string;
  error?: string;
  onChange: (aws: AwsForm, baseUrl: string) => void;
}) {
  const set = (patch: Partial<AwsForm>) => {
    const next = { ...aws, ...patch };
    // Follow the region with the base URL while it is still the default one.
    const url = patch.region !== undefined && baseUrl === bedrockUrl(aws.region) ? bedrockUrl(next.region) : baseUrl;
    onChange(next, url);
  };
  return (
    <>
      <Field label={t('providers.aws_region')} htmlFor="pf-region" error={error}>
        <input id="pf-region" value={aws.region} onChange={(e) => set({ region: e.target.value.trim() })} placeholder="us-east-1" spellCheck={false} data-testid="pf-region" />
      </Field>
      <Field label={t('providers.aws_key_id_entry')} htmlFor="pf-aws-id">
        <input id="pf-aws-id" value={aws.key_id} onChange={(e) => set({ key_id: e.target.value })} spellCheck={false} data-testid="pf-aws-id" />
      </Field>
      <Field label={t('providers.aws_secret_entry')} htmlFor="pf-aws-secret">
        <input id="pf-aws-secret" value={aws.secret} onChange={(e) => set({ secret: e.target.value })} spellCheck={false} data-testid="pf-aws-secret" />
      </Field>
      <Field label={t('providers.aws_token_entry')} htmlFor="pf-aws-token" hint={t('providers.aws_keys_hint')}>
        <input id="pf-aws-token" value={aws.session} onChange={(e) => set({ session: e.target.value })} spellCheck={false} data-testid="pf-aws-token" />
      </Field>
    </>
  );
}
