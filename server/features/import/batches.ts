/** Rows applied in one transaction, adapted so that each holds the map's write lock a few tenths of a second. */
export const APPLY_BATCH = { first: 500, least: 50, most: 5000, targetMs: 500 };

/**
 * The size of each next batch. A batch costs a part that does not depend on its rows (its transaction, the
 * relink of an area its rows spread over) and a part per row; both are fitted on the last two batches of
 * different sizes. The next batch is sized to take targetMs, or twice the fixed part when that alone is
 * longer (smaller batches would hold the lock as long, for fewer rows), growing or shrinking at most twofold
 * a step so that one noisy measure cannot make a batch take many seconds. Until there are two sizes to
 * fit, a batch over the target halves and one under a third of it doubles.
 */
export function batchSizer() {
  let previous: { size: number; took: number } | undefined;
  let fit: { fixed: number; perRow: number } | undefined;
  return (size: number, took: number) => {
    if (previous && previous.size !== size) {
      const perRow = Math.max((took - previous.took) / (size - previous.size), 1e-6);
      fit = { perRow, fixed: Math.max(took - perRow * size, 0) };
    }
    previous = { size, took };
    let next: number;
    if (fit) {
      const target = Math.max(APPLY_BATCH.targetMs, 2 * fit.fixed);
      next = Math.min(Math.max((target - fit.fixed) / fit.perRow, size / 2), size * 2);
    } else {
      next = took > APPLY_BATCH.targetMs ? size / 2 : took < APPLY_BATCH.targetMs / 3 ? size * 2 : size;
    }
    return Math.round(Math.min(Math.max(next, APPLY_BATCH.least), APPLY_BATCH.most));
  };
}
