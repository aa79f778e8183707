// The overview's "needs attention" list: every node condition in the fleet, linked to its node.
import Link from 'next/link';
import { conditionText, type NodeConditionView } from '../node/node-conditions.tsx';

export function FleetConditions({ conditions }: { conditions: (NodeConditionView & { nodeId: string; node: string })[] }) {
  if (conditions.length === 0) return null;
  return (
    <section className="card" aria-labelledby="fleet-conditions-title">
      <h2 id="fleet-conditions-title">Needs attention</h2>
      <ul>
        {conditions.map((condition) => (
          <li key={`${condition.nodeId} ${condition.digest ?? ''}`} data-condition={condition.type}>
            <Link href={`/nodes/${condition.nodeId}`}>{condition.node}</Link>: {conditionText(condition)}
            {condition.reference ? <> for <code>{condition.reference}</code></> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
