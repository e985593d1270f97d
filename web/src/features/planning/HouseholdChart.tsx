import { useI18n } from '../../i18n.tsx';
import { AFTER_COLOUR, BAND_COLOURS } from './layers.ts';
import type { ImpactReport, PlanGrid } from './plans.ts';

const [WIDTH, HEIGHT] = [400, 190];
const MARGIN = { top: 16, right: 8, bottom: 30, left: 34 };

/**
 * Households per grid as bars in their band colour, the target band drawn across; with a change weighed, each
 * grid's households after it as an outlined bar beside (grids it creates have only that). A click on a bar
 * chooses the grid.
 */
export function HouseholdChart({ grids, band, impact, chosen, onChoose }: {
  grids: PlanGrid[];
  band: { min: number; max: number };
  impact: ImpactReport | null;
  chosen: number[];
  onChoose: (id: number) => void;
}) {
  const { t } = useI18n();
  const after = new Map(impact?.grids.map((g) => [g.id, g]) ?? []);
  const created = impact?.grids.filter((g) => g.status === 'created') ?? [];
  const bars = [
    ...grids.map((g) => ({ id: g.id, name: g.properties.name, now: g.properties.households, band: g.properties.band, after: after.get(g.id) })),
    ...created.map((g) => ({ id: g.id, name: g.name, now: null, band: null, after: g })),
  ];
  // a grid the change removes has no households after it, and no bar
  const afterCount = (bar: (typeof bars)[number]) => bar.after?.after?.households;
  const highest = Math.max(band.max * 1.2, ...bars.flatMap((b) => [b.now ?? 0, afterCount(b) ?? 0]));
  const top = Math.ceil(highest / 100) * 100;
  const plot = { width: WIDTH - MARGIN.left - MARGIN.right, height: HEIGHT - MARGIN.top - MARGIN.bottom };
  const y = (households: number) => MARGIN.top + plot.height * (1 - households / top);
  const slot = plot.width / Math.max(bars.length, 1);
  const barWidth = Math.min(36, slot * (impact ? 0.4 : 0.6));

  return (
    <figure className="household-chart" data-testid="household-chart">
      <figcaption>{t('planning.chartTitle')} <small>{t('planning.band')} {band.min}–{band.max}</small></figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={t('planning.chartTitle')}>
        <rect className="band" x={MARGIN.left} width={plot.width} y={y(band.max)} height={y(band.min) - y(band.max)} />
        {[0, band.min, band.max, top].map((value) => (
          <g key={value} className="tick">
            <line x1={MARGIN.left - 3} x2={WIDTH - MARGIN.right} y1={y(value)} y2={y(value)} className={value === band.min || value === band.max ? 'band-edge' : undefined} />
            <text x={MARGIN.left - 5} y={y(value) + 4} textAnchor="end">{value}</text>
          </g>
        ))}
        {bars.map((bar, i) => {
          const x = MARGIN.left + slot * i + slot / 2;
          const next = afterCount(bar);
          const shift = bar.after && bar.now !== null ? barWidth / 2 : 0;
          return (
            <g key={bar.id} data-grid={bar.id} data-households={bar.now ?? undefined} data-after={next}
              className={chosen.includes(bar.id) ? 'bar chosen' : 'bar'} onClick={() => bar.now !== null && onChoose(bar.id)}>
              <title>{bar.name}</title>
              {bar.now !== null && (
                <>
                  <rect x={x - barWidth / 2 - shift} width={barWidth} y={y(bar.now)} height={y(0) - y(bar.now)} fill={bar.band ? BAND_COLOURS[bar.band] : '#bdbdbd'} />
                  <text x={x - shift} y={y(bar.now) - 3} textAnchor="middle">{bar.now}</text>
                </>
              )}
              {next !== undefined && (
                <>
                  <rect className="after" x={x - barWidth / 2 + shift} width={barWidth} y={y(next)} height={y(0) - y(next)} stroke={AFTER_COLOUR}
                    fill={bar.after?.after ? BAND_COLOURS[bar.after.after.band] : 'none'} />
                  <text className="after" x={x + shift} y={y(next) - 3} textAnchor="middle" fill={AFTER_COLOUR}>{next}</text>
                </>
              )}
              {bar.after?.status === 'removed' && <text className="after" x={x + shift} y={y(0) - 3} textAnchor="middle" fill={AFTER_COLOUR}>×</text>}
              <text className="name" x={x} y={HEIGHT - MARGIN.bottom + 14} textAnchor="middle">{bar.name}</text>
            </g>
          );
        })}
        <line className="axis" x1={MARGIN.left} x2={WIDTH - MARGIN.right} y1={y(0)} y2={y(0)} />
      </svg>
      {impact && <small className="chart-key"><i className="now" />{t('planning.now')} <i className="after" />{t('planning.after')}</small>}
    </figure>
  );
}
