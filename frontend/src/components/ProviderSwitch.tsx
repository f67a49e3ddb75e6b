// A provider's on/off switch and its key pool. The switch publishes a new
// config version through the normal lifecycle (draft → review → publish,
// audited); keys are shown by their reference, never by value.
import type { KeySnapshot, Published } from '../api/types';
import { t } from '../i18n';
import { fmtMs } from '../lib/format';
import { Review } from './Review';
import { Badge, Dialog } from './ui';

/** The switch's button: "Disable" on an enabled provider, "Enable" on a disabled one. */
export function EnabledToggle({ name, enabled, onToggle }: { name: string; enabled: boolean; onToggle: () => void }) {
  return (
    <button
      className="btn btn-small"
      role="switch"
      aria-checked={enabled}
      onClick={onToggle}
      data-testid={`toggle-${name}`}
      title={enabled ? t('providerSwitch.stop_routing') : t('providerSwitch.route_again')}
    >
      {enabled ? t('providerSwitch.disable') : t('providerSwitch.enable')}
    </button>
  );
}

/** Review and publish `enabled` for provider `name`. */
export function ToggleDialog({
  name,
  enabled,
  onClose,
  onPublished,
}: {
  name: string;
  enabled: boolean;
  onClose: () => void;
  onPublished: (p: Published) => void;
}) {
  return (
    <Dialog open title={t(enabled ? 'providerSwitch.enable_title' : 'providerSwitch.disable_title', { name })} onClose={onClose} wide>
      <p>
        {enabled ? t('providerSwitch.enable_explain', { name }) : t('providerSwitch.disable_explain', { name })}
      </p>
      <Review
        ops={[{ op: 'set_provider_enabled', name, enabled }]}
        defaultMessage={t(enabled ? 'providerSwitch.enable_msg' : 'providerSwitch.disable_msg', { name })}
        publishLabel={enabled ? t('providerSwitch.enable_publish') : t('providerSwitch.disable_publish')}
        onCancel={onClose}
        onPublished={onPublished}
      />
    </Dialog>
  );
}

/** `key_rotation` in words. */
function rotationLabel(r: string): string {
  if (r === 'round_robin') return t('providerSwitch.rotation_round_robin');
  if (r === 'least_recently_limited') return t('providerSwitch.rotation_least_recently_limited');
  return r.replace(/_/g, ' ');
}

/** A pool's keys (more than one), each with its presence and cooldown. */
export function KeyPool({ keys, rotation }: { keys: KeySnapshot[]; rotation: string }) {
  if (keys.length < 2) return null;
  return (
    <ul className="targets small" data-testid="key-pool" aria-label={t('providerSwitch.key_pool', { rotation: rotationLabel(rotation) })}>
      {keys.map((k) => (
        <li key={k.name}>
          <code>{k.name}</code>{' '}
          {!k.present ? (
            <Badge tone="err" title={k.error ?? undefined}>{t('providerSwitch.key_missing')}</Badge>
          ) : k.cooldown_remaining_ms !== null ? (
            <Badge tone="warn" title={k.last_error ?? undefined}>{t('providerSwitch.key_cooling', { time: fmtMs(k.cooldown_remaining_ms) })}</Badge>
          ) : (
            <Badge tone="ok">{t('providerSwitch.key_ready')}</Badge>
          )}
        </li>
      ))}
    </ul>
  );
}
