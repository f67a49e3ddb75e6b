// The upstream attempts of one request, in order: provider, model, result
// and latency (fallback test result, request detail in Telemetry).
import type { AttemptInfo } from '../api/types';
import { fmtMs } from '../lib/format';
import { attemptTone } from '../lib/health';
import { Badge } from './ui';

export function AttemptsTable({ attempts, testId }: { attempts: AttemptInfo[]; testId: string }) {
  return (
    <table className="table" data-testid={testId}>
      <thead>
        <tr>
          <th>#</th>
          <th>Provider</th>
          <th>Model</th>
          <th>Result</th>
          <th className="right">Latency</th>
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
              <Badge tone={attemptTone(a)}>{a.status ?? 'no answer'}</Badge> {a.error && <span className="small muted">{a.error}</span>}
            </td>
            <td className="right">{fmtMs(a.latency_ms)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
