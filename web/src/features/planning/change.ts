import type { LineString, Polygon } from 'geojson';
import { useState } from 'react';
import type { Suggestion } from './plans.ts';

/**
 * The change the planner is making, before it is weighed: the shape drawn or reshaped (as terra-draw last
 * reported it), the version to go back to, the grids to merge, the suggested division taken, the note typed
 * for the save; and why terra-draw refused the last shape. `startOver` drops it all and starts a new attempt:
 * the sketch is drawn afresh.
 */
export function useChange() {
  const [shape, setShape] = useState<Polygon | LineString | null>(null);
  const [revertTo, setRevertTo] = useState<number | null>(null);
  const [mergeIds, setMergeIds] = useState<number[]>([]);
  const [suggestion, setSuggestion] = useState<Suggestion | null>(null);
  /** the note being typed for the save: work in progress, as a reshaped boundary is */
  const [note, setNote] = useState('');
  /** why terra-draw refused the last shape (its reason) */
  const [notice, setNotice] = useState<string | null>(null);
  /** a new sketch each time the drawing starts over (after a save, or when discarded) */
  const [attempt, setAttempt] = useState(0);

  return {
    shape,
    revertTo,
    mergeIds,
    suggestion,
    note,
    notice,
    attempt,
    /** a boundary reshaped, a line drawn, a version to go back to or a note typed: choosing another grid would lose it */
    working: shape !== null || revertTo !== null || note.trim() !== '',
    startOver() {
      setShape(null);
      setRevertTo(null);
      setMergeIds([]);
      setSuggestion(null);
      setNotice(null);
      setNote('');
      setAttempt((n) => n + 1);
    },
    /** the shape as terra-draw reports it; the end of a drag reports the shape its last move did, kept as it was */
    draw(drawn: Polygon | LineString) {
      setShape((last) => (last && JSON.stringify(last.coordinates) === JSON.stringify(drawn.coordinates) ? last : drawn));
      setNotice(null);
    },
    refuse: setNotice,
    /** a version to go back to, from a fresh start (call after `startOver`) */
    revert: setRevertTo,
    toggleMerged: (id: number) => setMergeIds((ids) => (ids.includes(id) ? ids.filter((i) => i !== id) : [...ids, id])),
    suggest: setSuggestion,
    writeNote: setNote,
  };
}
