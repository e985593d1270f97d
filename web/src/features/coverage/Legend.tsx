/** A legend as the panel shows it and the exported map carries it. */
export interface Legend {
  /** data-testid, and what names the legend to the tests */
  id: string;
  title: string;
  /** a class of values holds those from `from` up to `to` (the last class up to and with `to`) */
  items: { colour: string; label: string; from?: number; to?: number }[];
  /** a colour ramp, read left to right, rather than classes */
  ramp?: boolean;
  note?: string;
}

export function LegendView({ legend }: { legend: Legend }) {
  return (
    <figure className={legend.ramp ? 'coverage-legend ramp' : 'coverage-legend'} data-testid={legend.id}>
      <figcaption>{legend.title}</figcaption>
      <ul>
        {legend.items.map((item, i) => (
          <li key={i} data-colour={item.colour} data-from={item.from} data-to={item.to}>
            <i style={{ background: item.colour }} />
            {item.label}
          </li>
        ))}
      </ul>
      {legend.note && <small>{legend.note}</small>}
    </figure>
  );
}
