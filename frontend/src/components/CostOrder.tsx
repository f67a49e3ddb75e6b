// A cost route's targets, cheapest first, with what the request is
// estimated to cost on each (fallback test result).
import type { CostEstimate } from '../api/types';
import { fmtNum, fmtUsd } from '../lib/format';

export function CostOrderTable({ order }: { order: CostEstimate[] }) {
  const tokens = order[0];
  return (
    <>
      <h3 className="small-title">Cost order</h3>
      <table className="table" data-testid="fb-cost-order">
        <thead>
          <tr>
            <th>#</th>
            <th>Provider</th>
            <th>Model</th>
            <th className="right">Estimated cost</th>
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
              <td className="right">{e.estimated_usd === null ? <span className="muted">no price (tried last)</span> : fmtUsd(e.estimated_usd)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {tokens && (
        <p className="small muted">
          For about {fmtNum(tokens.input_tokens)} input and {fmtNum(tokens.output_tokens)} output tokens, by the price table; ties go to the faster target.
        </p>
      )}
    </>
  );
}
