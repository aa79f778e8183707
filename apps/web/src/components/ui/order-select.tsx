// "Order" for a list sorted on the server: one choice per order the list offers, each with its
// label and the sort it asks for. The list's owner keeps the choice (and goes back to page one).
export type Orders = Record<string, { label: string; query: { sort: string; direction: 'asc' | 'desc' } }>;

export function OrderSelect<O extends Orders>({ id, orders, value, onChange }: { id: string; orders: O; value: keyof O & string; onChange(value: keyof O & string): void }) {
  return (
    <label className="field" htmlFor={id}>
      <span className="field-label">Order</span>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value as keyof O & string)}>
        {Object.entries(orders).map(([key, order]) => (
          <option key={key} value={key}>
            {order.label}
          </option>
        ))}
      </select>
    </label>
  );
}
