// "Export CSV" / "Export JSONL" for the filtered request list
// (GET /admin/api/telemetry/export). The file comes through the API
// transport, so it works in the browser and in the desktop window alike.
import { useState } from 'react';
import { telemetry, type TelemetryFilter } from '../api/telemetry';
import type { Outcome } from '../api/types';
import { toApiError } from '../api/transport';

type Format = 'csv' | 'jsonl';

export function ExportButtons({ opts }: { opts: TelemetryFilter & { minutes?: number; outcome?: Outcome | '' } }) {
  const [busy, setBusy] = useState<Format | null>(null);
  const [error, setError] = useState<string | null>(null);

  const download = async (format: Format) => {
    setBusy(format);
    setError(null);
    try {
      const text = await telemetry.exportText(format, opts);
      const blob = new Blob([text], { type: format === 'csv' ? 'text/csv' : 'application/x-ndjson' });
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `aigw-requests.${format}`;
      a.click();
      URL.revokeObjectURL(url);
    } catch (e) {
      setError(toApiError(e).message);
    } finally {
      setBusy(null);
    }
  };

  return (
    <span className="toolbar-inline" data-testid="export-buttons">
      <button type="button" className="btn" disabled={busy !== null} onClick={() => void download('csv')}>
        {busy === 'csv' ? 'Exporting…' : 'Export CSV'}
      </button>
      <button type="button" className="btn" disabled={busy !== null} onClick={() => void download('jsonl')}>
        {busy === 'jsonl' ? 'Exporting…' : 'Export JSONL'}
      </button>
      {error && (
        <span className="muted small" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}
