import { describe, expect, it } from 'vitest';
import { APPLY_BATCH, batchSizer } from '../server/features/import/batches.ts';

/** The sizes a run of batches takes when each costs `cost(size)` milliseconds. */
function sizes(cost: (size: number) => number, batches = 12) {
  const next = batchSizer();
  const taken = [APPLY_BATCH.first];
  for (let i = 1; i < batches; i++) taken.push(next(taken[i - 1], cost(taken[i - 1])));
  return taken;
}

describe('import batch sizes', () => {
  it('settle where a batch takes about half a second when rows cost the time', () => {
    const run = sizes((n) => 20 + n * 0.25); // 2,000 rows in half a second
    expect(run.at(-1)).toBeGreaterThan(1800);
    expect(run.at(-1)).toBeLessThan(2100);
    for (const [i, n] of run.entries()) if (i) expect(n / run[i - 1]).toBeLessThanOrEqual(2);
  });

  it('shrink when rows are dear, down to the least', () => {
    expect(sizes((n) => n * 2).at(-1)).toBeLessThanOrEqual(260); // 250 rows in half a second
    expect(sizes((n) => n * 100).at(-1)).toBe(APPLY_BATCH.least);
  });

  it('grow when each batch costs more than its rows (a relink of the area they spread over), not shrink to the least', () => {
    // 1.5 s whatever the size, 0.05 ms a row: the old rule halved to 50 rows a batch, 33 rows a second
    const run = sizes((n) => 1500 + n * 0.05);
    expect(run.at(-1)).toBe(APPLY_BATCH.most);
    expect(Math.min(...run)).toBeGreaterThanOrEqual(APPLY_BATCH.first / 2);
  });

  it('keeps batches the most when they are cheap', () => {
    expect(sizes(() => 5).at(-1)).toBe(APPLY_BATCH.most);
  });
});
