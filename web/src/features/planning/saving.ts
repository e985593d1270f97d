import { useState } from 'react';
import { gridHistory, neighbourVersions, runProposal, StaleEdit, type GridVersion, type ImpactReport, type Proposal } from './plans.ts';

export type StaleChange = GridVersion & { gridName: string };

/**
 * Saving the change weighed: whether a save is on its way, what the last one did (or why it failed), and the
 * grids' revision, which each save and each reload moves on (the grids are read again). A save refused as stale
 * leaves what changed since: the save stays off until the grids are reloaded.
 */
export function usePlanSave() {
  const [revision, setRevision] = useState(0);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState<ImpactReport | null>(null);
  const [error, setError] = useState<unknown>(null);
  /** a save refused as stale: what changed since; the save stays off until the grids are reloaded */
  const [stale, setStale] = useState<StaleChange[] | null>(null);

  /** The versions saved since the ones the refused change was made against, each with its grid's name. */
  const showStale = async (basis: Proposal['basis'], nameOf: (id: number) => string) => {
    const newer = await Promise.all(
      basis.map(({ id, version }) =>
        gridHistory(id).then(
          (history) =>
            history.versions.filter((v) => v.version !== null && v.version > version).map((v) => ({ ...v, gridName: nameOf(id) })),
          // a grid removed meanwhile has no history left to show: the notice still offers the reload
          () => [],
        ),
      ),
    );
    setStale(newer.flat());
  };

  return {
    revision,
    saving,
    saved,
    error,
    stale,
    /**
     * Saves `proposal` with the planner's note, as its dry run `seen` showed it; `done` runs once it is saved
     * (the drawing starts over: what was saved shows until the next change).
     */
    async save(proposal: Proposal, seen: ImpactReport, note: string, nameOf: (id: number) => string, done: () => void) {
      setSaving(true);
      setError(null);
      try {
        const report = await runProposal(proposal, { note, seen });
        done();
        setSaved(report);
        setRevision((r) => r + 1);
      } catch (e) {
        if (e instanceof StaleEdit) {
          // the save is off from now until the reload, while who changed what is fetched
          setStale([]);
          await showStale(proposal.neighbours ? [...proposal.basis, ...neighbourVersions(proposal, seen)] : proposal.basis, nameOf);
        } else setError(e);
      } finally {
        setSaving(false);
      }
    },
    /** what the last save did, or why it failed, is shown no more (the drawing starts over) */
    forget() {
      setSaved(null);
      setError(null);
    },
    /** a change drawn since the save: what it did is shown no more */
    forgetSaved: () => setSaved(null),
    /** another community: a stale save's notice goes */
    forgetStale: () => setStale(null),
    /** the grids read again as they are now, the stale save's notice gone */
    reload() {
      setStale(null);
      setRevision((r) => r + 1);
    },
  };
}
