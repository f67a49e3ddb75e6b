// Fallback test: the gateway sends one request through a route with its
// first target forced to fail, and reports who served and how.
import { useEffect, useState } from 'react';
import { config, fallback } from '../api';
import type { FallbackTestResult } from '../api/types';
import { useApp } from '../context';
import { AttemptsTable } from '../components/Attempts';
import { CostOrderTable } from '../components/CostOrder';
import { Badge, EmptyState, ErrorNote, Spinner } from '../components/ui';
import { routeModeLabel } from '../lib/format';
import { navigate, useAction, useAsync } from '../lib/hooks';

export function FallbackTest() {
  const app = useApp();
  const routes = useAsync(() => config.routes(), []);
  const [model, setModel] = useState('');
  const [result, setResult] = useState<FallbackTestResult>();

  useEffect(() => {
    if (!model && routes.data?.routes.length) setModel(routes.data.routes[0].model);
  }, [routes.data, model]);

  const route = routes.data?.routes.find((r) => r.model === model);

  const test = useAction(async () => {
    setResult(undefined);
    setResult(await fallback.test(model));
  });

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1 tabIndex={-1}>Fallback test</h1>
          <p className="muted">
            Sends one real request through a route with its first target forced to fail, so you can see the backup take over
            before a real outage does it for you.
          </p>
        </div>
      </header>
      <ErrorNote error={routes.error} title="Could not load routes" onRetry={routes.reload} />
      {routes.data && routes.data.routes.length === 0 && (
        <div className="card">
          <EmptyState
            icon="↦"
            title="No routes to test"
            actions={
              <button className="btn btn-primary" onClick={() => navigate('routing')}>
                Set up routing
              </button>
            }
          >
            A fallback needs a route with at least two targets.
          </EmptyState>
        </div>
      )}
      {routes.data && routes.data.routes.length > 0 && (
        <div className="card">
          <form
            className="fb-form"
            onSubmit={(e) => {
              e.preventDefault();
              void test.run();
            }}
          >
            <label htmlFor="fb-route">Route</label>
            <select id="fb-route" value={model} onChange={(e) => setModel(e.target.value)} data-testid="fb-route">
              {routes.data.routes.map((r) => (
                <option key={r.model} value={r.model}>
                  {r.model} ({r.targets.length} target{r.targets.length === 1 ? '' : 's'})
                </option>
              ))}
            </select>
            <button className="btn btn-primary" type="submit" disabled={test.busy || !model || !app.canWrite} data-testid="fb-run">
              {test.busy ? <Spinner label="Running" /> : 'Run test'}
            </button>
          </form>
          {route && (
            <ol className="fb-plan small">
              {route.targets.map((t, i) => (
                <li key={i} className={i === 0 && route.strategy !== 'cost' ? 'forced' : ''}>
                  <strong>{t.provider}</strong> {t.model ? <code>{t.model}</code> : <span className="muted">(as requested)</span>}
                  {i === 0 && route.strategy !== 'cost' && <Badge tone="err">forced to fail</Badge>}
                </li>
              ))}
            </ol>
          )}
          {route?.strategy === 'cost' && <p className="small muted">A cost route: the cheapest target for the test request is the one forced to fail.</p>}
          {route && route.targets.length < 2 && (
            <p className="warn-text small">This route has a single target: with it failing, the request has nowhere to go. Add a second target on the Routing page.</p>
          )}
        </div>
      )}
      <ErrorNote error={test.error} title="The test could not run" />
      {result && <ResultCard r={result} />}
    </div>
  );
}

function ResultCard({ r }: { r: FallbackTestResult }) {
  const ok = r.status >= 200 && r.status < 300;
  return (
    <section className={`card fb-result ${ok ? 'ok' : 'bad'}`} data-testid="fb-result" aria-live="polite">
      <h2>{ok ? 'The fallback worked' : 'No target could serve'}</h2>
      <dl className="facts">
        <div>
          <dt>Served by</dt>
          <dd data-testid="fb-provider">{r.provider ?? '—'}</dd>
        </div>
        <div>
          <dt>Model</dt>
          <dd>
            <code>{r.model ?? '—'}</code>
          </dd>
        </div>
        <div>
          <dt>Route mode</dt>
          <dd data-testid="fb-mode">{routeModeLabel(r.route_mode)}</dd>
        </div>
        <div>
          <dt>Status</dt>
          <dd>{r.status}</dd>
        </div>
      </dl>
      {r.error && <p className="err-text">{r.error}</p>}
      <h3 className="small-title">Attempts</h3>
      <AttemptsTable attempts={r.attempts} testId="fb-attempts" />
      {r.cost_order && r.cost_order.length > 0 && <CostOrderTable order={r.cost_order} />}
      {r.request_id && (
        <p className="small muted">
          Test request <code>{r.request_id}</code>.
        </p>
      )}
    </section>
  );
}
