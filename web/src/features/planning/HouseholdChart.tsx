import type { KeyboardEvent } from 'react';
import { useI18n } from '../../i18n.tsx';
import { AFTER_COLOUR, BAND_COLOURS } from './layers.ts';
import type { ImpactReport, PlanGrid } from './plans.ts';

const WIDTH = 400;
const PLOT_HEIGHT = 144;
const MARGIN = { top: 16, right: 8, left: 34 };
/** The names' font size (the chart's CSS), and the longest a slanted name may run before it is cut. */
const NAME_SIZE = 10;
const SLANTED_WIDTH = 64;
const SLANT_DEGREES = 40;

/** About how wide a name is drawn: a Chinese character a full em, anything else about 0.6 of one. */
const widthOf = (text: string) => [...text].reduce((w, c) => w + (/[\u2e80-\u9fff\uff00-\uffef]/.test(c) ? NAME_SIZE : NAME_SIZE * 0.6), 0);

/** The name cut to `width` with an ellipsis when it is longer. */
function fitted(name: string, width: number) {
  if (widthOf(name) <= width) return name;
  const chars = [...name];
  while (chars.length > 1 && widthOf(`${chars.join('')}…`) > width) chars.pop();
  return `${chars.join('')}…`;
}

/**
 * Households per grid as bars in their band colour, the target band drawn across; with a change weighed, each
 * grid's households after it as an outlined bar beside (grids it creates have only that). A bar is a button:
 * a click, or Enter or Space on it, chooses the grid (`onChoose`); with none, the bars only show. The names
 * slant when they do not fit under their bars, cut when still too long (the full name is the bar's label).
 */
export function HouseholdChart({
  grids,
  band,
  impact,
  chosen,
  onChoose,
  locked = false,
}: {
  grids: PlanGrid[];
  band: { min: number; max: number };
  impact: ImpactReport | null;
  chosen: number[];
  /** what choosing a bar does; null: the bars cannot be chosen (the tool draws on the map) */
  onChoose: ((id: number) => void) | null;
  /** the bars cannot be chosen now (work in progress would be lost): they say so, and stay where focus is */
  locked?: boolean;
}) {
  const { t } = useI18n();
  const after = new Map(impact?.grids.map((g) => [g.id, g]) ?? []);
  const created = impact?.grids.filter((g) => g.status === 'created') ?? [];
  const bars = [
    ...grids.map((g) => ({
      id: g.id,
      name: g.properties.name,
      now: g.properties.households,
      band: g.properties.band,
      after: after.get(g.id),
    })),
    ...created.map((g) => ({ id: g.id, name: g.name, now: null, band: null, after: g })),
  ];
  // a grid the change removes has no households after it, and no bar
  const afterCount = (bar: (typeof bars)[number]) => bar.after?.after?.households;
  const highest = Math.max(band.max * 1.2, ...bars.flatMap((b) => [b.now ?? 0, afterCount(b) ?? 0]));
  const top = Math.ceil(highest / 100) * 100;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const slot = plotWidth / Math.max(bars.length, 1);
  const slanted = bars.some((b) => widthOf(b.name) > slot - 4);
  const names = bars.map((b) => (slanted ? fitted(b.name, SLANTED_WIDTH) : b.name));
  const longest = Math.max(0, ...names.map(widthOf));
  const bottom = slanted ? 10 + Math.ceil(longest * Math.sin((SLANT_DEGREES * Math.PI) / 180)) + NAME_SIZE : 30;
  const height = MARGIN.top + PLOT_HEIGHT + bottom;
  const y = (households: number) => MARGIN.top + PLOT_HEIGHT * (1 - households / top);
  const barWidth = Math.min(36, slot * (impact ? 0.4 : 0.6));
  const unit = t('planning.householdsUnit');

  return (
    <figure className="household-chart" data-testid="household-chart">
      <figcaption id="household-chart-title">
        {t('planning.chartTitle')}{' '}
        <small>
          {t('planning.band')} {band.min}–{band.max}
        </small>
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${height}`} role="group" aria-labelledby="household-chart-title">
        <rect className="band" x={MARGIN.left} width={plotWidth} y={y(band.max)} height={y(band.min) - y(band.max)} aria-hidden="true" />
        {[0, band.min, band.max, top].map((value) => (
          <g key={value} className="tick" aria-hidden="true">
            <line
              x1={MARGIN.left - 3}
              x2={WIDTH - MARGIN.right}
              y1={y(value)}
              y2={y(value)}
              className={value === band.min || value === band.max ? 'band-edge' : undefined}
            />
            <text x={MARGIN.left - 5} y={y(value) + 4} textAnchor="end">
              {value}
            </text>
          </g>
        ))}
        {bars.map((bar, i) => {
          const x = MARGIN.left + slot * i + slot / 2;
          const next = afterCount(bar);
          const shift = bar.after && bar.now !== null ? barWidth / 2 : 0;
          // a grid only a change would create is not there to choose yet
          const choosable = onChoose !== null && bar.now !== null;
          const label = `${bar.name} ${bar.now ?? '—'} ${unit}${next !== undefined ? ` → ${next} ${unit}` : ''}`;
          const choose = () => choosable && !locked && onChoose(bar.id);
          const onKeyDown = (e: KeyboardEvent) => {
            if (e.key !== 'Enter' && e.key !== ' ') return;
            e.preventDefault();
            choose();
          };
          return (
            <g
              key={bar.id}
              data-grid={bar.id}
              data-households={bar.now ?? undefined}
              data-after={next}
              className={['bar', chosen.includes(bar.id) && 'chosen', choosable && 'choosable', locked && 'locked']
                .filter(Boolean)
                .join(' ')}
              {...(choosable
                ? {
                    role: 'button',
                    tabIndex: 0,
                    'aria-label': label,
                    'aria-pressed': chosen.includes(bar.id),
                    'aria-disabled': locked || undefined,
                    onClick: choose,
                    onKeyDown,
                  }
                : { role: 'img', 'aria-label': label })}
            >
              <title>{label}</title>
              {bar.now !== null && (
                <>
                  <rect
                    x={x - barWidth / 2 - shift}
                    width={barWidth}
                    y={y(bar.now)}
                    height={y(0) - y(bar.now)}
                    fill={bar.band ? BAND_COLOURS[bar.band] : '#bdbdbd'}
                  />
                  <text x={x - shift} y={y(bar.now) - 3} textAnchor="middle">
                    {bar.now}
                  </text>
                </>
              )}
              {next !== undefined && (
                <>
                  <rect
                    className="after"
                    x={x - barWidth / 2 + shift}
                    width={barWidth}
                    y={y(next)}
                    height={y(0) - y(next)}
                    stroke={AFTER_COLOUR}
                    fill={bar.after?.after ? BAND_COLOURS[bar.after.after.band] : 'none'}
                  />
                  <text className="after" x={x + shift} y={y(next) - 3} textAnchor="middle" fill={AFTER_COLOUR}>
                    {next}
                  </text>
                </>
              )}
              {bar.after?.status === 'removed' && (
                <text className="after" x={x + shift} y={y(0) - 3} textAnchor="middle" fill={AFTER_COLOUR}>
                  ×
                </text>
              )}
              {slanted ? (
                <text className="name" x={x} y={y(0) + 12} textAnchor="end" transform={`rotate(-${SLANT_DEGREES} ${x} ${y(0) + 12})`}>
                  {names[i]}
                </text>
              ) : (
                <text className="name" x={x} y={y(0) + 14} textAnchor="middle">
                  {names[i]}
                </text>
              )}
            </g>
          );
        })}
        <line className="axis" x1={MARGIN.left} x2={WIDTH - MARGIN.right} y1={y(0)} y2={y(0)} aria-hidden="true" />
      </svg>
      {impact && (
        <small className="chart-key">
          <i className="now" />
          {t('planning.now')} <i className="after" />
          {t('planning.after')}
        </small>
      )}
    </figure>
  );
}
