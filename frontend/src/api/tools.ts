// Operator tools (gateway-core/src/api/admin/tools.rs, docs/tools.md): replay
// a request to another provider/model, and the synthetic model benchmark.
// Both send real, billed traffic: the gateway answers them for `admin` only.
import { call, query } from './transport';
import type { BenchEstimate, BenchRun, BenchSpec, ReplayReport, ReplaySpec } from './types';

export const tools = {
  replay: (spec: ReplaySpec) => call<ReplayReport>('POST', '/replay', spec),
  benchEstimate: (spec: BenchSpec) => call<BenchEstimate>('POST', '/bench/estimate', spec),
  /** Runs the benchmark; answers when it is done (runs are small and capped). */
  benchRun: (spec: BenchSpec) => call<BenchRun>('POST', '/bench/runs', { ...spec, source: 'ui' }),
  benchRuns: async (limit = 50) => (await call<{ runs: BenchRun[] }>('GET', '/bench/runs' + query({ limit }))).runs,
  benchGet: (id: number) => call<BenchRun>('GET', `/bench/runs/${id}`),
};
