// A cost route's targets, cheapest first, with what the request is
// estimated to cost on each (fallback test result).
import type { CostEstimate } from '../api/types';
import { t } from '../i18n';
import { fmtNum, fmtUsd } from '../lib/format';

export function CostOrderTable({ order }: { order: CostEstimate[] }) {
  const tokens = order[0];
  return (
    <>
      <h3 className="small-title">{t('costOrder.title')}</h3>
      <table className="table" data-testid="fb-cost-order">
        <thead>
          <tr>
            <th>#</th>
            <th>{t('costOrder.provider')}</th>
            <th>{t('costOrder.model')}</th>
            <th className="right">{t('costOrder.estimated_cost')}</th>
          </tr>
        </thead>
        <tbody>
          {order.map((e, i) => (
            <tr key={i}>
              <td>{i + 1}</td>
              <td>{e.provider}</td>
              <td>
                <code>{e.model}</code>
              </td>
              <td className="right">{e.estimated_usd === null ? <span className="muted">{t('costOrder.no_price')}</span> : fmtUsd(e.estimated_usd)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {tokens && (
        <p className="small muted">
          {t('costOrder.basis', { input: fmtNum(tokens.input_tokens), output: fmtNum(tokens.output_tokens) })}
        </p>
      )}
    </>
  );
}
