// Shaping for the model benchmark page and the replay form: the spec from
// the form, past runs into chart lines, a pasted body into JSON.
import type { BenchProtocol, BenchRun, BenchSpec } from '../api/types';
import type { ChartModel } from './chart';
import { t } from '../i18n';

export interface TargetRow {
  provider: string;
  model: string;
}

export interface BenchForm {
  targets: TargetRow[];
  protocols: Record<BenchProtocol, boolean>;
  nonStream: boolean;
  stream: boolean;
  requests: string;
  concurrency: string;
  maxCost: string;
}

/** The protocols a run can use; labels are getters (read at render time, in the UI's language). */
export const PROTOCOLS: { id: BenchProtocol; readonly label: string }[] = [
  { id: 'chat', get label() { return t('bench.protocol_chat'); } },
  { id: 'messages', get label() { return t('bench.protocol_messages'); } },
  { id: 'responses', get label() { return t('bench.protocol_responses'); } },
];

export function defaultForm(provider = ''): BenchForm {
  return {
    targets: [{ provider, model: '' }],
    protocols: { chat: true, messages: false, responses: false },
    nonStream: true,
    stream: false,
    requests: '3',
    concurrency: '2',
    maxCost: '0.05',
  };
}

/** The spec for the admin API, or the problems with the form in words. */
export function buildSpec(f: BenchForm): { spec: BenchSpec; problems: [] } | { spec: null; problems: string[] } {
  const problems: string[] = [];
  const targets = f.targets
    .map((x) => ({ provider: x.provider.trim(), model: x.model.trim() }))
    .filter((x) => x.provider || x.model);
  if (targets.length === 0) problems.push(t('bench.err_no_target'));
  for (const x of targets) {
    if (!x.provider) problems.push(t('bench.err_pick_provider', { model: x.model }));
    if (!x.model) problems.push(t('bench.err_type_model', { provider: x.provider }));
  }
  const protocols = PROTOCOLS.map((p) => p.id).filter((p) => f.protocols[p]);
  if (protocols.length === 0) problems.push(t('bench.err_no_protocol'));
  const stream = [...(f.nonStream ? [false] : []), ...(f.stream ? [true] : [])];
  if (stream.length === 0) problems.push(t('bench.err_no_stream'));
  const int = (s: string, what: string, min: number, max: number) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(t('bench.err_range', { what, min, max }));
      return min;
    }
    return n;
  };
  const requests = int(f.requests, t('benchmark.requests_per_target'), 1, 2000);
  const concurrency = int(f.concurrency, t('benchmark.concurrency'), 1, 16);
  const maxCost = Number(f.maxCost);
  if (f.maxCost.trim() === '' || !Number.isFinite(maxCost) || maxCost < 0) problems.push(t('bench.err_max_cost'));
  if (problems.length) return { spec: null, problems };
  return { spec: { targets, protocols, stream, requests, concurrency, max_cost_usd: maxCost }, problems: [] };
}

export const targetLabel = (t: { provider: string; model: string }) => `${t.provider}:${t.model}`;

/**
 * Latency p50 per target over time: x = each run's start (seconds), one line
 * per provider:model, from its non-stream chat report (null where a run did
 * not include the target or nothing succeeded).
 */
export function latencyChart(runs: BenchRun[]): ChartModel {
  const sorted = [...runs].sort((a, b) => a.started_ms - b.started_ms);
  const labels: string[] = [];
  for (const r of sorted)
    for (const rep of r.reports)
      if (rep.protocol === 'chat' && !rep.stream && !labels.includes(targetLabel(rep))) labels.push(targetLabel(rep));
  const xs = sorted.map((r) => r.started_ms / 1000);
  const lines = labels.map((l) =>
    sorted.map((r) => {
      const rep = r.reports.find((x) => x.protocol === 'chat' && !x.stream && targetLabel(x) === l);
      return rep?.latency_ms?.p50 ?? null;
    }),
  );
  return {
    data: [xs, ...lines],
    labels,
    empty: !lines.some((ln) => ln.some((v) => v !== null && v > 0)),
  };
}

/** Errors by class as short words, e.g. "timeout ×2, http_5xx ×1". */
export function errorsText(errors: Record<string, number>): string {
  const e = Object.entries(errors).filter(([, n]) => n > 0);
  return e.length ? e.map(([k, n]) => `${k} ×${n}`).join(', ') : '—';
}

/** A pasted request body: the parsed JSON object, or why it is not one. */
export function parseBody(text: string): { body: Record<string, unknown> } | { error: string } {
  if (!text.trim()) return { error: t('bench.err_paste_body') };
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: t('bench.err_not_object') };
    return { body: v as Record<string, unknown> };
  } catch (e) {
    return { error: t('bench.err_invalid_json', { error: (e as Error).message }) };
  }
}

/**
 * The x range (seconds) for runs at `xs`: their span, padded by a tenth
 * and at least an hour on each side so one run or a few close ones are
 * drawn in the middle of a readable axis rather than across years.
 */
export function paddedRange(xs: number[]): [number, number] | undefined {
  if (xs.length === 0) return undefined;
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  const pad = Math.max(3600, (max - min) / 10);
  return [min - pad, max + pad];
}
