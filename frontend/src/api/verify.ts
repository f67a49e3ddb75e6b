// Verification runs (gateway-core/src/api/admin/verify.rs, docs/tools.md):
// a fixed probe suite recorded from a trusted target as a baseline, later
// runs through any provider scored normal / suspect / highly_suspect.
// Recording and running send real, billed traffic: admin only.
import { call, query } from './transport';
import type { BenchEstimate, BenchTarget, VerifyBaseline, VerifyRun, VerifySuite } from './types';

export interface VerifyRunBody {
  target: BenchTarget;
  baseline?: BenchTarget | null;
  max_cost_usd?: number;
  token_tolerance_pct?: number | null;
}

export const verify = {
  suite: () => call<VerifySuite>('GET', '/verify/suite'),
  estimate: (target: BenchTarget, max_cost_usd?: number) => call<BenchEstimate>('POST', '/verify/estimate', { target, max_cost_usd }),
  /** Sends the suite to `target` and keeps the answers as its baseline. */
  recordBaseline: (target: BenchTarget, max_cost_usd?: number) =>
    call<VerifyBaseline>('POST', '/verify/baselines', { target, max_cost_usd, source: 'ui' }),
  baselines: async (limit = 50) => (await call<{ baselines: VerifyBaseline[] }>('GET', '/verify/baselines' + query({ limit }))).baselines,
  /** Runs the suite against `body.target` and scores it; answers when done. */
  run: (body: VerifyRunBody) => call<VerifyRun>('POST', '/verify/runs', { ...body, source: 'ui' }),
  runs: async (limit = 50) => (await call<{ runs: VerifyRun[] }>('GET', '/verify/runs' + query({ limit }))).runs,
};
