// The fallback test: force a route's first target to fail and see who served.
import { call } from './transport';
import type { FallbackTestResult } from './types';

export const fallback = {
  test: (model: string) => call<FallbackTestResult>('POST', '/fallback-test', { model }),
};
