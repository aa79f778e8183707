// A node's conditions in the nodes list: one short badge each, the full text on hover.
import { conditionText, type NodeConditionView } from '../node/node-conditions.tsx';

export function NodeConditionBadges({ conditions }: { conditions: NodeConditionView[] }) {
  if (conditions.length === 0) return null;
  return (
    <div className="small">
      {conditions.map((condition) => (
        <span key={`${condition.type} ${condition.digest ?? ''}`} className="badge badge-warn" data-condition={condition.type} title={condition.reference ?? condition.digest}>
          {conditionText(condition)}
        </span>
      ))}
    </div>
  );
}
