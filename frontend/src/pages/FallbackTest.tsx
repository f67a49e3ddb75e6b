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
import { t } from '../i18n';

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
          <h1 tabIndex={-1}>{t('fallbackTest.fallback_test')}</h1>
          <p className="muted">{t('fallbackTest.sends_one_real_request_through')}</p>
        </div>
      </header>
      <ErrorNote error={routes.error} title={t('fallbackTest.could_not_load_routes')} onRetry={routes.reload} />
      {routes.data && routes.data.routes.length === 0 && (
        <div className="card">
          <EmptyState
            icon="↦"
            title={t('fallbackTest.no_routes_to_test')}
            actions={
              <button className="btn btn-primary" onClick={() => navigate('routing')}>{t('fallbackTest.set_up_routing')}</button>
            }
          >{t('fallbackTest.a_fallback_needs_a_route')}</EmptyState>
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
            <label htmlFor="fb-route">{t('fallbackTest.route')}</label>
            <select id="fb-route" value={model} onChange={(e) => setModel(e.target.value)} data-testid="fb-route">
              {routes.data.routes.map((r) => (
                <option key={r.model} value={r.model}>
                  {t(r.targets.length === 1 ? 'fallbackTest.route_one_target' : 'fallbackTest.route_n_targets', { model: r.model, n: r.targets.length })}
                </option>
              ))}
            </select>
            <button className="btn btn-primary" type="submit" disabled={test.busy || !model || !app.canWrite} data-testid="fb-run">
              {test.busy ? <Spinner label={t('fallbackTest.running')} /> : t('fallbackTest.run_test')}
            </button>
          </form>
          {route && (
            <ol className="fb-plan small">
              {route.targets.map((tg, i) => (
                <li key={i} className={i === 0 && route.strategy !== 'cost' ? 'forced' : ''}>
                  <strong>{tg.provider}</strong> {tg.model ? <code>{tg.model}</code> : <span className="muted">{t('fallbackTest.as_requested')}</span>}
                  {i === 0 && route.strategy !== 'cost' && <Badge tone="err">{t('fallbackTest.forced_to_fail')}</Badge>}
                </li>
              ))}
            </ol>
          )}
          {route?.strategy === 'cost' && <p className="small muted">{t('fallbackTest.cost_route_note')}</p>}
          {route && route.targets.length < 2 && (
            <p className="warn-text small">{t('fallbackTest.this_route_has_a_single')}</p>
          )}
        </div>
      )}
      <ErrorNote error={test.error} title={t('fallbackTest.the_test_could_not_run')} />
      {result && <ResultCard r={result} />}
    </div>
  );
}

function ResultCard({ r }: { r: FallbackTestResult }) {
  const ok = r.status >= 200 && r.status < 300;
  return (
    <section className={`card fb-result ${ok ? 'ok' : 'bad'}`} data-testid="fb-result" aria-live="polite">
      <h2>{ok ? t('fallbackTest.the_fallback_worked') : t('fallbackTest.no_target_could_serve')}</h2>
      <dl className="facts">
        <div>
          <dt>{t('fallbackTest.served_by')}</dt>
          <dd data-testid="fb-provider">{r.provider ?? '—'}</dd>
        </div>
        <div>
          <dt>{t('fallbackTest.model')}</dt>
          <dd>
            <code>{r.model ?? '—'}</code>
          </dd>
        </div>
        <div>
          <dt>{t('fallbackTest.route_mode')}</dt>
          <dd data-testid="fb-mode">{routeModeLabel(r.route_mode)}</dd>
        </div>
        <div>
          <dt>{t('fallbackTest.status')}</dt>
          <dd>{r.status}</dd>
        </div>
      </dl>
      {r.error && <p className="err-text">{r.error}</p>}
      <h3 className="small-title">{t('fallbackTest.attempts')}</h3>
      <AttemptsTable attempts={r.attempts} testId="fb-attempts" />
      {r.cost_order && r.cost_order.length > 0 && <CostOrderTable order={r.cost_order} />}
      {r.request_id && (
        <p className="small muted">{t('fallbackTest.test_request')}{' '}<code>{r.request_id}</code>.
        </p>
      )}
    </section>
  );
}
