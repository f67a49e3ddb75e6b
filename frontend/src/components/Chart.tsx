// A time-series chart drawn with uPlot: resizes with its box, follows the
// light/dark scheme, and shows an empty state instead of a flat line.
import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { isolated, type ChartModel } from '../lib/chart';
import { fmtCompact, fmtMs, fmtUsd } from '../lib/format';
import { dateFormat, t } from '../i18n';

export const PALETTE = ['#6366f1', '#f59e0b', '#10b981', '#ef4444', '#06b6d4', '#d946ef', '#84cc16', '#f97316'];

type Unit = 'count' | 'ms' | 'tokens' | 'usd';

function fmtValue(unit: Unit, v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  if (v === 0) return unit === 'usd' ? '$0' : '0';
  if (unit === 'ms') return fmtMs(v);
  if (unit === 'usd') return fmtUsd(v);
  return fmtCompact(v);
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function useScheme(): string {
  const mq = typeof window !== 'undefined' ? window.matchMedia('(prefers-color-scheme: dark)') : null;
  const [dark, setDark] = useState(!!mq?.matches);
  useEffect(() => {
    if (!mq) return;
    const h = () => setDark(mq.matches);
    mq.addEventListener('change', h);
    return () => mq.removeEventListener('change', h);
  }, [mq]);
  return dark ? 'dark' : 'light';
}

export function Chart({
  model,
  unit,
  height = 180,
  emptyText,
  testId,
  xRange,
}: {
  model: ChartModel;
  /** A fixed x range in seconds (default: uPlot's, from the data). */
  xRange?: [number, number];
  unit: Unit;
  height?: number;
  emptyText?: string;
  testId?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const scheme = useScheme();
  const shape = `${model.labels.join('\u0000')}|${unit}|${scheme}|${height}|${xRange?.join(',') ?? ''}`;

  // (Re)create when the lines, unit or scheme change.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const fg = cssVar('--muted', '#6b7280');
    const grid = cssVar('--grid', 'rgba(127,127,127,0.15)');
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      cursor: { points: { size: 6 }, drag: { x: false, y: false } },
      legend: { live: true },
      scales: {
        x: xRange ? { time: true, range: () => xRange } : { time: true },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] },
      },
      axes: [
        { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, font: '11px system-ui, sans-serif' },
        {
          stroke: fg,
          grid: { stroke: grid, width: 1 },
          ticks: { show: false },
          size: 56,
          font: '11px system-ui, sans-serif',
          values: (_u, vals) => vals.map((v) => fmtValue(unit, v)),
        },
      ],
      series: [
        { label: t('chart.time'), value: (_u, v) => (v === null ? '—' : dateFormat({ hour: '2-digit', minute: '2-digit' }).format(new Date(v * 1000))) },
        ...model.labels.map((label, i) => ({
          label,
          stroke: PALETTE[i % PALETTE.length],
          width: 2,
          fill: i === 0 && model.labels.length <= 3 ? PALETTE[0] + '18' : undefined,
          // Only where a value has no neighbours (a line would not show it).
          points: {
            show: true,
            size: 6,
            filter: (u: uPlot, si: number) => isolated(u.data[si] as (number | null)[]),
          },
          spanGaps: false,
          value: (_u: uPlot, v: number | null) => fmtValue(unit, v),
        })),
      ],
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts, model.data as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => {
      plot.current?.setSize({ width: Math.max(200, el.clientWidth), height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape]);

  // New data, same shape: just update.
  useEffect(() => {
    plot.current?.setData(model.data as uPlot.AlignedData);
  }, [model.data]);

  return (
    <div className="chart" data-testid={testId} data-empty={model.empty ? 'true' : 'false'}>
      <div ref={box} className="chart-canvas" />
      {model.empty && <div className="chart-empty">{emptyText ?? t('chart.no_requests')}</div>}
    </div>
  );
}
