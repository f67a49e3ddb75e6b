// A provider's on/off switch and its key pool. The switch publishes a new
// config version through the normal lifecycle (draft → review → publish,
// audited); keys are shown by their reference, never by value.
import type { KeySnapshot, Published } from '../api/types';
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
      title={enabled ? 'Stop routing to this provider' : 'Route to this provider again'}
    >
      {enabled ? 'Disable' : 'Enable'}
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
    <Dialog open title={`${enabled ? 'Enable' : 'Disable'} provider “${name}”`} onClose={onClose} wide>
      <p>
        {enabled
          ? `Routes will send requests to ${name} again.`
          : `Routes skip ${name} (their other targets serve) and requests naming it directly get 403 provider_disabled. Its keys and settings stay.`}
      </p>
      <Review
        ops={[{ op: 'set_provider_enabled', name, enabled }]}
        defaultMessage={`${enabled ? 'Enable' : 'Disable'} provider ${name}`}
        publishLabel={enabled ? 'Enable and publish' : 'Disable and publish'}
        onCancel={onClose}
        onPublished={onPublished}
      />
    </Dialog>
  );
}

/** A pool's keys (more than one), each with its presence and cooldown. */
export function KeyPool({ keys, rotation }: { keys: KeySnapshot[]; rotation: string }) {
  if (keys.length < 2) return null;
  return (
    <ul className="targets small" data-testid="key-pool" aria-label={`Key pool (${rotation.replace(/_/g, ' ')})`}>
      {keys.map((k) => (
        <li key={k.name}>
          <code>{k.name}</code>{' '}
          {!k.present ? (
            <Badge tone="err" title={k.error ?? undefined}>missing</Badge>
          ) : k.cooldown_remaining_ms !== null ? (
            <Badge tone="warn" title={k.last_error ?? undefined}>cooling {fmtMs(k.cooldown_remaining_ms)}</Badge>
          ) : (
            <Badge tone="ok">ready</Badge>
          )}
        </li>
      ))}
    </ul>
  );
}
