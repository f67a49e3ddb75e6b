// The upstream attempts of one request, in order: provider, model, result
// and latency (fallback test result, request detail in Telemetry).
import type { AttemptInfo } from '../api/types';
import { fmtMs } from '../lib/format';
import { attemptTone } from '../lib/health';
import { Badge } from './ui';
import { t } from '../i18n';

export function AttemptsTable({ attempts, testId }: { attempts: AttemptInfo[]; testId: string }) {
  return (
    <table className="table" data-testid={testId}>
      <thead>
        <tr>
          <th>#</th>
          <th>{t('attempts.provider')}</th>
          <th>{t('attempts.model')}</th>
          <th>{t('attempts.result')}</th>
          <th className="right">{t('attempts.latency')}</th>
        </tr>
      </thead>
      <tbody>
        {attempts.map((a, i) => (
          <tr key={i}>
            <td>{i + 1}</td>
            <td>{a.provider}</td>
            <td>
              <code>{a.model}</code>
            </td>
            <td>
              <Badge tone={attemptTone(a)}>{a.status ?? t('attempts.no_answer')}</Badge> {a.error && <span className="small muted">{a.error}</span>}
            </td>
            <td className="right">{fmtMs(a.latency_ms)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
